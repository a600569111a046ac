"""Every YAML in training/configs loads with the loader its commands use (a typo in a shipped
config would otherwise surface only when someone runs it)."""
from pathlib import Path

import pytest

from tvau_ros.data.synthetic.config import load_generator_config
from tvau_ros.train.config import load_train_config
from tvau_ros.train.rae_config import load_rae_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "training" / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_training_config_loads(path):
    if path.name.startswith("rae_"):
        cfg = load_rae_config(path, model_path="/models/Qwen2.5-VL" if "qwen" in path.name else None)
        assert cfg.epochs >= 1
    elif path.name.startswith("data_"):
        assert load_generator_config(str(path)).splits
    else:
        assert load_train_config(path)


def test_the_larger_ablation_reads_its_training_videos_from_their_own_root():
    cfg = load_rae_config(CONFIGS[0].with_name("rae_tiny_ablation_1200.yaml"))
    assert (cfg.train_root, cfg.dataset) == ("data/rae_train", "data/default")
    assert cfg.train_dialogues.startswith(cfg.train_root + "/")
    assert load_rae_config(CONFIGS[0].with_name("rae_tiny_ablation.yaml")).train_root == "data/default"
