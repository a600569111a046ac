"""Fixtures shared by the integration tests."""
import pytest

from tvau_ros.cli import main as tvau
from tvau_ros.io.sample_clip import generate_sample_clip

PLAZA = "plaza"


@pytest.fixture(scope="session")
def plaza_scene(tmp_path_factory):
    """The sample plaza's scene model, learnt as `make demo` learns it (a minute of its walkers, no
    runner, at another time than the clips the tests replay): ``(scene_dir, scene_name)``."""
    root = tmp_path_factory.mktemp("plaza_scene")
    clip = generate_sample_clip(root / "normal.mp4", frames=900, anomaly_start=1 << 30, start_frame=1000)
    assert tvau(["learn-normal", "--video", str(clip.path), "--scene", PLAZA, "--out", str(root / "scenes")]) == 0
    return root / "scenes", PLAZA
