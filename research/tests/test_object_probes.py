"""Tests of the research probes of the behaviour engine's objects and attributes
(research/attribute_probe.py, research/pose_probe.py) on made-up rows; mediapipe and OpenCV's
HOG are not installed in the package's venv, so the pose probe's model calls are not run here."""
import numpy as np
import pytest

from research.attribute_probe import box_aucs, rescored_frames
from research.pose_probe import summarise
from tvau_ros.evaluation.pipeline_eval import size_class


def _runs():
    """Two 20-frame videos at 10 fps: in 'abnormal' a target (track 1, IoU 0.8) is 'fast' by 3
    normal spreads from frame 10 on, beside a normal walker (track 2); 'normal' has one walker."""
    rows_abnormal, rows_normal = [], []
    for t in range(20):
        rows_abnormal.append((t, 2, 0.0, {"fast": -2.0, "slow": -1.0}, t / 10))
        rows_normal.append((t, 3, 0.0, {"fast": -1.5, "slow": -0.5}, t / 10))
        if t >= 10:
            rows_abnormal.append((t, 1, 0.8, {"fast": 3.0, "slow": -1.0}, (t - 10) / 10))
    labels = np.zeros(20, np.int64)
    labels[10:] = 1
    return {"abnormal": {"rows": rows_abnormal, "labels": labels, "fps": 10.0},
            "normal": {"rows": rows_normal, "labels": np.zeros(20, np.int64), "fps": 10.0}}


def test_rescoring_follows_the_engines_rules():
    runs = _runs()
    scores = rescored_frames(runs)
    target = scores["abnormal"][10:]
    assert target[:5].max() < 0.01          # younger than min_age_s (0.5 s): not scored yet
    assert target[5:].min() > 0.99          # excess 3 -> logistic((3 - 1) / 0.2)
    assert scores["normal"].max() < 0.01
    without_fast = rescored_frames(runs, drop=("fast",))
    assert without_fast["abnormal"][15:].max() < 0.01   # only 'slow' left, normal for everyone


def test_box_auc_ranks_the_target_objects_by_each_attribute():
    aucs = box_aucs(_runs())
    assert aucs["target_objects"] == 10
    assert aucs["fast"] == {"coverage": 100.0, "box_auc": 100.0}
    assert aucs["slow"]["box_auc"] < 50     # the target is slower-normal than the walkers: no signal


def test_pose_probe_summary_rates():
    rows = [{"kind": "fall", "size": size_class(h), "hog_iou": iou, "hog_count": 2, **pose}
            for h, iou, pose in [(50, 0.6, {"found": True, "visibility": 0.9, "fits": True}),
                                 (50, 0.2, {"found": True, "visibility": 0.5, "fits": False}),
                                 (10, 0.0, {"found": False})]]
    summary = summarise({"rows": rows, "hog_ms_per_frame": 1.0, "pose_ms_per_crop": 2.0})
    assert summary["all"]["boxes"] == 3
    assert summary["all"]["hog_recall_iou50"] == pytest.approx(100 / 3)
    assert summary["all"]["pose_found"] == pytest.approx(200 / 3)
    assert summary["all"]["pose_fits_box"] == pytest.approx(50.0)
    assert summary["size/large"]["boxes"] == 2 and summary["size/small"]["pose_found"] == 0.0


def test_object_features_and_the_supervised_bound():
    from research.attribute_probe import object_features, supervised_bound

    runs = _runs()
    features, targets, where = object_features(runs, ["fast", "slow"])
    assert features.shape == (len(targets), 4) and targets.sum() == 5   # the target from 0.5 s old
    assert where[-1] == ("normal", 19)
    train = {f"{name}_{k}": run for k in range(10) for name, run in runs.items()}   # 50 target rows
    bound = supervised_bound(train, runs, ["fast", "slow"])   # the same behaviour: separable
    assert bound["box_auc"] == 100.0
    # 10 target frames against 30 normal ones: the 5 where the target is younger than 0.5 s carry
    # only the walkers' scores (tied with or near the normal frames'), the other 5 win every pair
    assert 75.0 <= bound["frame_micro_auc"] < 100.0
