"""Tests of the research probes on AHD feature caches (research/in_type_probe.py, zoom_probe.py,
cached_pairs_auc.py): small hand-made caches, real code, no sys.path edits."""
import json

import numpy as np
import pytest

from research.cached_pairs_auc import cached_pairs_auc
from research.in_type_probe import split_in_halves
from research.tests.probe_runner import run_probe
from research.zoom_probe import (
    candidate_boxes,
    follow_box,
    foreground_components,
    frame_max,
    linear_probe,
    pooled_features,
)
from tvau_ros.train.ahd_trainer import train_ahd
from tvau_ros.train.config import TrainConfig
from tvau_ros.train.features import FeatureCache

from feature_cache import DIMS, MODEL, VIDEOS, write_cache


def test_in_type_probe_trains_on_half_the_videos_and_scores_the_other_half(tmp_path):

    videos = ([("train", f"a{i}", True, "running") for i in range(4)]
              + [("train", f"n{i}", False, None) for i in range(2)])
    cache = write_cache(tmp_path / "cache", videos)
    halves = split_in_halves(cache.root, "train", tmp_path / "halves")
    assert [v["name"] for v in halves.videos("train")] == ["a0", "a2", "n0"]
    assert [v["name"] for v in halves.videos("validation")] == ["a1", "a3", "n1"]
    assert halves.load(halves.videos("validation"))[0].shape[0] == 9  # the original token files
    cfg = TrainConfig(model=MODEL, out_dir=str(tmp_path / "out"), epochs=15, batch_size=4, lr=0.02, seed=1)
    result = cached_pairs_auc(str(train_ahd(cfg, halves, progress=False)), str(halves.root))
    assert result["frames"] == 9 and result["frame_auc"] == 100.0  # the marked cells are learnable
    assert result["target_above_other"] == 1.0 and result["target_max_median"] > result["other_max_median"]


def test_zoom_probe_linear_probe_scores_frames_by_their_best_crop(tmp_path):

    clip = np.full((12, 120, 160, 3), 90, np.uint8)
    for k in range(12):  # one block moving right; a still one is background
        clip[k, 50:70, 10 + 8 * k:18 + 8 * k] = 230
    clip[:, 10:20, 140:150] = 20
    (x0, y0, side), = candidate_boxes(clip, 11)
    assert x0 <= 98 and x0 + side >= 106 and y0 <= 50 and y0 + side >= 70 and side == 40
    # followed back 8 frames, the box is on the block again (8 px / frame to the left), not where it was
    bx, by, _ = follow_box(lambda f: foreground_components(clip, f), (x0, y0, side), 11, 8, 120, 160)
    assert bx <= 98 - 64 and bx + side >= 106 - 64

    rng = np.random.default_rng(0)
    root = tmp_path / "crops"
    entries = []
    for i in range(8):  # crops of abnormal frames carry a shifted channel; frame 2 has no crop
        split = "train" if i % 2 == 0 else "validation"
        owner = np.array([0, 0, 1, 3])
        frame_labels = np.array([[0, 1], [0, 0], [0, 0], [0, 1]], np.uint8)
        targets = np.zeros((4, 2, 2, 2), np.float16)
        targets[[0, 3], 1, 0, 0] = 1
        tokens = rng.normal(size=(4, 2, 2, 2, 2, 8)).astype(np.float16)
        tokens[[0, 3], ..., 0] += 10
        (root / split).mkdir(parents=True, exist_ok=True)
        np.savez(root / f"{split}/v{i}.npz", tokens=tokens, targets=targets, owner=owner, frame_labels=frame_labels)
        entries.append({"name": f"v{i}", "split": split, "file": f"{split}/v{i}.npz", "pairs": 4})
    (root / "index.json").write_text(json.dumps({"dims": DIMS, "grid": [2, 2], "text_features": [[1.0] * 4] * 2,
                                                "videos": entries}))
    assert pooled_features(np.zeros((3, 2, 2, 2, 2, 8), np.float16)).shape == (3, 48)
    with_change = pooled_features(np.zeros((3, 2, 2, 2, 2, 8), np.float16), np.ones((3, 2, 2, 2, 8), np.float16))
    assert with_change.shape == (3, 80)
    result = linear_probe(FeatureCache(root), c=1.0)
    assert result["validation"] == {"crop_auc": 100.0, "frame_auc": 100.0}
    assert frame_max(np.array([0.3]), np.array([1]), 2).tolist() == [0.0, 0.3]


@pytest.mark.parametrize("args, message", [
    (["{cache}", "--crop", "15"], "--crop must be a positive multiple of 14, got 15"),
    (["{cache}", "--history", "4,x"], "--history must be comma-separated frame offsets, got '4,x'"),
    (["{cache}", "--history", "0"], "--history offsets must be >= 1, got '0'"),
    (["{missing}"], "not a feature cache (no index.json)"),
])
def test_zoom_probe_bad_arguments_exit_with_one_line_naming_the_value(tmp_path, args, message):
    cache = write_cache(tmp_path / "cache", VIDEOS).root
    argv = [a.format(cache=cache, missing=tmp_path / "missing") for a in args]
    done = run_probe("zoom_probe", argv)
    assert done.returncode != 0 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
