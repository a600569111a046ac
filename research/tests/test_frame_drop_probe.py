"""Tests of research/frame_drop_probe.py: its drop patterns, its summary, one replay on a short clip."""
from research.frame_drop_probe import SCENE, patterns, replay, summarise

from tvau_ros.cli import main as tvau
from tvau_ros.io.sample_clip import generate_sample_clip
from tvau_ros.io.sources import open_source


def test_patterns_cover_every_position_and_share():
    kinds = patterns(20, seeds=3)
    assert kinds["none"] == [set()]
    assert len(kinds["run_1"]) == 20 and len(kinds["run_3"]) == 18
    assert kinds["run_2"][0] == {0, 1} and kinds["run_3"][-1] == {17, 18, 19}
    assert [len(d) for d in kinds["random_30pct"]] == [6, 6, 6]
    assert kinds["random_10pct"] == patterns(20, seeds=3)["random_10pct"]  # seeded


def test_summary_counts_patterns_below_the_proof_of_life_bar():
    rows = [{"regions": 10, "regions_on_target": 10, "on_target": 1.0, "frames_off_target": [], "episodes": 1},
            {"regions": 10, "regions_on_target": 8, "on_target": 0.8, "frames_off_target": [5, 6], "episodes": 2},
            {"regions": 0, "regions_on_target": 0, "on_target": float("nan"), "frames_off_target": [], "episodes": 0}]
    assert summarise(rows) == {"patterns": 3, "below_0.9_on_target": 1, "with_region_off_target": 1,
                                "min_on_target": 0.8, "runner_missed": 1, "episodes_not_1": 2}


def test_replay_scores_regions_against_the_runners_mask(tmp_path):
    normal = generate_sample_clip(tmp_path / "normal.mp4", frames=300, anomaly_start=1 << 30, start_frame=1000)
    assert tvau(["learn-normal", "--video", str(normal.path), "--scene", SCENE, "--out", str(tmp_path / "s")]) == 0
    clip = generate_sample_clip(tmp_path / "clip.mp4", frames=60, anomaly_start=10)
    frames = [f.image for f in open_source(clip.path)]
    full = replay(frames, clip, tmp_path / "s", set())
    assert full["regions"] == full["regions_on_target"] > 0 and full["on_target"] == 1.0 and full["episodes"] == 1
    assert full["labels_off_target"] == []
    gap = replay(frames, clip, tmp_path / "s", {30, 31})
    assert gap["dropped"] == [30, 31] and gap["regions"] > 0
    assert not set(gap["frames_off_target"]) & {30, 31}  # dropped frames give no regions
