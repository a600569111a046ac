"""`tvau train ahd` under torchrun: two processes (gloo on the CPU) build one feature cache and
train one head with DistributedDataParallel, end to end on the smoke benchmark and the real
DINOv2-S encoder at a tiny input size."""
import json
import os
import subprocess
import sys
from pathlib import Path

from tvau_ros.core.checkpoint import load_ahd_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def _run(args, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env, **kw)


def test_two_process_training_writes_one_checkpoint(tmp_path):
    generated = _run([sys.executable, "-m", "tvau_ros.cli", "data", "generate", "--config", "smoke",
                      "--out", str(tmp_path / "data"), "--no-progress"])
    assert generated.returncode == 0, generated.stderr
    torchrun = Path(sys.executable).with_name("torchrun")
    done = _run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "tvau_ros.cli",
                 "train", "ahd", "--config", "training/configs/ahd_fine_tuned.yaml",
                 "--dataset", str(tmp_path / "data" / "ubnormal"), "--cache", str(tmp_path / "cache"),
                 "--out", str(tmp_path / "out"), "--epochs", "2", "--quiet",
                 "--set", "model.input_size=[56, 84]", "--set", "pairs_per_video=2", "--set", "batch_size=2"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("train: checkpoint") == 1  # printed by rank 0 only
    log = [json.loads(line) for line in (tmp_path / "out" / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]
    ckpt = load_ahd_checkpoint(tmp_path / "out" / "ahd.safetensors")
    assert ckpt.config.input_size == (56, 84) and ckpt.extra["train_config"]["pairs_per_video"] == 2
    index = json.loads((tmp_path / "cache" / "index.json").read_text())
    assert len({v["name"] for v in index["videos"]}) == len(index["videos"]) > 0  # one cache, no duplicates
