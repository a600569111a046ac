"""`tvau eval ahd` end to end: the shipped checkpoint (real DINOv2-S) and the motion baseline on
the same subsampled frames of the smoke benchmark's test split."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = ROOT / "models" / "tvau_ahd_dinov2s_minilm.safetensors"


def _run(args):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "tvau_ros.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=env)


def test_checkpoint_and_baseline_are_scored_on_the_same_frames(tmp_path):
    generated = _run(["data", "generate", "--config", "smoke", "--out", str(tmp_path / "data"), "--no-progress"])
    assert generated.returncode == 0, generated.stderr
    out = tmp_path / "eval"
    done = _run(["eval", "ahd", "--dataset", str(tmp_path / "data" / "ubnormal"), "--split", "test",
                 "--checkpoint", f"shipped={CHECKPOINT}", "--motion-baseline", "--clip-stride", "2",
                 "--out", str(out), "--quiet"])
    assert done.returncode == 0, done.stdout + done.stderr
    rows = json.loads((out / "summary.json").read_text())["test"]
    assert [r["method"] for r in rows] == ["shipped", "motion_baseline"]
    assert len({(r["videos"], r["frames"]) for r in rows}) == 1 and rows[0]["frames"] > 0
    for row in rows:
        assert all(np.isfinite(row[k]) and 0 <= row[k] <= 100 for k in ("micro_auc", "rbdc", "tbdc"))
    assert (out / "test" / "overlays.png").stat().st_size > 0
    assert "shipped" in done.stdout and "motion_baseline" in done.stdout
