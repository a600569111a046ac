"""`tvau eval ahd` end to end on the smoke benchmark: the shipped checkpoint (real DINOv2-S), the
same head on a randomly initialised encoder and the motion baseline on the same subsampled frames
of the test split; and `tvau train ahd` + `tvau eval ahd` on a tiny random-weight Qwen2.5-VL saved
to a local folder (2-frame temporal patches)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = ROOT / "models" / "tvau_ahd_dinov2s_minilm.safetensors"


def _run(args):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "tvau_ros.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    generated = _run(["data", "generate", "--config", "smoke", "--out", str(out), "--no-progress"])
    assert generated.returncode == 0, generated.stderr
    return out / "ubnormal"


def _random_encoder_checkpoint(path):
    """The shipped head, marked as trained on a randomly initialised encoder (seed 0)."""
    from tvau_ros.core.checkpoint import load_ahd_checkpoint, save_ahd_checkpoint
    from tvau_ros.core.prompts import load_prompt_set

    ckpt = load_ahd_checkpoint(CHECKPOINT)
    train = {**ckpt.extra.get("train_config", {}), "encoder_init": "random", "seed": 0}
    return save_ahd_checkpoint(path, ckpt.build_head(), ckpt.config, "random_encoder",
                               load_prompt_set(ckpt.config.prompts), {**ckpt.extra, "train_config": train})


def test_the_random_encoder_baseline_gets_its_own_seeded_encoder(tmp_path):
    from tvau_ros.core.backbones import build_backbone
    from tvau_ros.evaluation.ahd_benchmark import load_groups
    from tvau_ros.train.features import randomize_encoder

    groups = load_groups({"shipped": str(CHECKPOINT),
                          "random": str(_random_encoder_checkpoint(tmp_path / "r.safetensors"))})
    assert [list(g.heads) for g in groups] == [["shipped"], ["random"]]
    pretrained, random = (dict(g.backbone.vision.named_parameters()) for g in groups)
    cfg = groups[0].config
    reference = build_backbone(cfg.backbone, cfg.layers, cfg.cache_dir, cfg.model_path)
    randomize_encoder(reference.vision, 0)
    expected = dict(reference.vision.named_parameters())
    weights = [k for k in pretrained if k.endswith("weight") and pretrained[k].ndim == 2]
    assert weights and all(not torch.equal(pretrained[k], random[k]) for k in weights)
    assert all(torch.equal(random[k], expected[k]) for k in random)


def test_checkpoint_and_baselines_are_scored_on_the_same_frames(tmp_path, smoke):
    random = _random_encoder_checkpoint(tmp_path / "random.safetensors")
    out = tmp_path / "eval"
    done = _run(["eval", "ahd", "--dataset", str(smoke), "--split", "test",
                 "--checkpoint", f"shipped={CHECKPOINT}", "--checkpoint", f"random_encoder={random}",
                 "--motion-baseline", "--clip-stride", "2", "--out", str(out), "--quiet"])
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads((out / "summary.json").read_text())["test"]
    assert [r["method"] for r in rows] == ["shipped", "random_encoder", "motion_baseline"]
    assert len({(r["videos"], r["frames"]) for r in rows}) == 1 and rows[0]["frames"] > 0
    for row in rows:
        assert all(np.isfinite(row[k]) and 0 <= row[k] <= 100 for k in ("micro_auc", "macro_auc", "rbdc", "tbdc"))
        report = json.loads((out / "test" / row["method"] / "report.json").read_text())
        assert report["frame"]["micro_auc"] == pytest.approx(row["micro_auc"])
        assert all((out / "test" / row["method"] / plot).stat().st_size > 0
                   for plot in ("frame_roc.png", "rbdr.png", "tbdr.png"))
    assert (out / "test" / "overlays.png").stat().st_size > 0
    assert all(r["method"] in done.stdout for r in rows)


def test_qwen2_5_vl_from_a_local_folder_trains_and_is_evaluated_on_every_frame(tmp_path, smoke):
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    config = Qwen2_5_VLConfig(
        vision_config=dict(depth=4, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                           window_size=56, fullatt_block_indexes=[1, 3]),
        text_config=dict(hidden_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                         intermediate_size=128, vocab_size=151936,
                         rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}))
    torch.manual_seed(0)
    Qwen2_5_VLForConditionalGeneration(config).save_pretrained(tmp_path / "qwen")  # no tokenizer: the packaged one
    settings = ["--set", "model.backbone=qwen2_5_vl", "--set", "model.layers=[1, 2, 3, 4]",
                "--set", "model.motion=false", "--set", "model.mlp_hidden=16",
                "--set", f"model.model_path={tmp_path / 'qwen'}", "--set", "pairs_per_video=30"]
    train = ["train", "ahd", "--config", "training/configs/ahd_fine_tuned.yaml", "--dataset", str(smoke),
             "--epochs", "1", "--quiet", *settings]
    odd = _run([*train, "--set", "model.input_size=[56, 70]", "--out", str(tmp_path / "odd"),
                "--cache", str(tmp_path / "odd_cache")])
    assert odd.returncode != 0 and "input_size [56, 70] must be multiples of 28" in odd.stderr
    assert len(odd.stderr.strip().splitlines()) == 1, odd.stderr
    trained = _run([*train, "--set", "model.input_size=[56, 84]", "--out", str(tmp_path / "out"),
                    "--cache", str(tmp_path / "cache")])
    assert trained.returncode == 0, trained.stdout + trained.stderr
    again = _run([*train, "--set", "model.input_size=[56, 84]", "--out", str(tmp_path / "out"),
                  "--cache", str(tmp_path / "cache"), "--cache-only"])  # every video's tokens are reused
    assert again.returncode == 0, again.stderr
    index = json.loads((tmp_path / "cache" / "index.json").read_text())
    assert index["dims"]["temporal_patch"] == 2
    for entry in index["videos"]:  # the index counts the pairs each file holds, also for reused files
        assert entry["pairs"] == len(np.load(tmp_path / "cache" / entry["file"])["frames"])
    done = _run(["eval", "ahd", "--dataset", str(smoke), "--split", "test",
                 "--checkpoint", f"qwen={tmp_path / 'out' / 'ahd.safetensors'}", "--motion-baseline",
                 "--clip-stride", "2", "--out", str(tmp_path / "eval"), "--quiet"])
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads((tmp_path / "eval" / "summary.json").read_text())["test"]
    assert [r["method"] for r in rows] == ["qwen", "motion_baseline"]
    reports = [json.loads((tmp_path / "eval" / "test" / r["method"] / "report.json").read_text()) for r in rows]
    assert reports[0]["frame"]["num_frames"] == reports[1]["frame"]["num_frames"] == rows[0]["frames"]
