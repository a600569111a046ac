"""`tvau run --engine ahd` without --checkpoint runs the shipped AHD (real encoder + head) end to end."""
import json

import pytest

from tvau_ros.cli import main as tvau
from tvau_ros.io.sample_clip import generate_sample_clip


@pytest.mark.slow
def test_run_engine_ahd_without_checkpoint_uses_the_shipped_model(tmp_path, capsys):
    clip = generate_sample_clip(tmp_path / "clip.mp4", frames=24, anomaly_start=8)
    out = tmp_path / "out"
    assert tvau(["run", "--video", str(clip.path), "--engine", "ahd", "--out", str(out), "--no-video"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model_id"].startswith("tvau_ahd_dinov2_minilm"), summary["model_id"]
    assert summary["events"] >= 2
    assert "error" not in capsys.readouterr().err
