"""RBDC/TBDC on hand-computed fixtures (values derived in the comments)."""
import random

import numpy as np
import pytest

from tvau_ros.metrics import Detection, GtRegion, box_iou, rbdc_tbdc

BOX = (2.0, 3.0, 11.0, 12.0)
ELSEWHERE = (20.0, 20.0, 25.0, 25.0)


def test_iou_uses_inclusive_pixel_convention():
    assert box_iou((0, 0, 9, 9), (5, 0, 14, 9)) == pytest.approx(50 / 150)
    assert box_iou((3, 3, 3, 3), (3, 3, 3, 3)) == 1.0
    assert box_iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    assert box_iou((0, 0, 1, 1), (1, 1, 2, 2)) == pytest.approx(1 / 7)


def test_two_videos_constant_track_every_frame_detected():
    gt = [GtRegion(v, f, BOX, track=1) for v in ("a", "b") for f in range(5)]
    dets = [Detection(g.video, g.frame, g.box, 0.5 + 0.01 * i) for i, g in enumerate(gt)]
    res = rbdc_tbdc(dets, gt, total_frames=10)
    assert (res.rbdc, res.tbdc) == (100.0, 100.0)
    assert (res.true_positives, res.false_positives, res.num_gt_tracks) == (10, 0, 2)
    # no false positive ever: the whole curve sits at FPR 0, then the flat extension to 1
    assert not res.reached_fpr_1
    assert res.fpr.tolist() == [0.0] * 11 + [1.0]
    assert res.rbdr.tolist() == pytest.approx([i / 10 for i in range(11)] + [1.0])
    # first detection (highest score) covers 1/5 >= alpha of one track -> TBDR 0.5
    assert res.tbdr[1] == 0.5 and res.tbdr[-1] == 1.0


def test_curve_that_never_reaches_fpr_1_is_extended_flat():
    gt = [GtRegion("v", 0, BOX, track=1)]
    dets = [Detection("v", 1, BOX, 0.9),   # frame without GT: FP
            Detection("v", 0, BOX, 0.8)]   # TP
    res = rbdc_tbdc(dets, gt, total_frames=4)
    # points (0,0) (0.25,0) (0.25,1) + (1,1): area 0.75
    assert res.fpr.tolist() == [0.0, 0.25, 0.25, 1.0]
    assert res.rbdr.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert res.rbdc == pytest.approx(75.0) and res.tbdc == pytest.approx(75.0)
    assert not res.reached_fpr_1


@pytest.mark.parametrize("tp_first, expected", [(True, 100.0), (False, 0.0)])
def test_curve_is_cut_at_fpr_1(tp_first, expected):
    gt = [GtRegion("v", 0, BOX, track=1)]
    fps = [Detection("v", 1, BOX, s) for s in (0.7, 0.6, 0.5)]  # 3 FP in 2 frames: FPR 1.5
    tp = Detection("v", 0, BOX, 0.9 if tp_first else 0.1)
    res = rbdc_tbdc(fps + [tp], gt, total_frames=2)
    assert res.reached_fpr_1 and res.fpr[-1] == 1.0 and res.fpr.max() == 1.0
    assert res.rbdc == pytest.approx(expected)


def test_detection_matching_only_already_matched_regions_adds_nothing():
    gt = [GtRegion("v", 0, BOX, track=1), GtRegion("v", 1, BOX, track=2)]
    dets = [Detection("v", 0, BOX, 0.9),                    # TP (region of frame 0)
            Detection("v", 0, (3, 3, 11, 12), 0.8),         # same region again: neither
            Detection("v", 2, BOX, 0.7),                    # frame without GT: FP
            Detection("v", 1, BOX, 0.6)]                    # TP (region of frame 1)
    res = rbdc_tbdc(dets, gt, total_frames=4)
    # (0,0) (0,.5) (0,.5) (.25,.5) (.25,1) + (1,1): .25*.5 + .75*1 = .875
    # (had the duplicate counted as FP: (.5,.5) (.5,1) -> .75)
    assert res.rbdc == pytest.approx(87.5) and res.tbdc == pytest.approx(87.5)
    assert (res.true_positives, res.false_positives, res.duplicate_detections) == (2, 1, 1)


def test_one_detection_matches_several_new_regions():
    gt = [GtRegion("v", 0, (0, 0, 9, 9), track=1), GtRegion("v", 0, (5, 0, 14, 9), track=2)]
    res = rbdc_tbdc([Detection("v", 0, (0, 0, 14, 9), 0.5)], gt, total_frames=1)
    assert res.true_positives == 2 and res.rbdc == 100.0 and res.tbdc == 100.0


def test_beta_boundary_is_inclusive():
    gt = [GtRegion("v", 0, (0, 0, 9, 9), track=1)]  # area 100
    at_beta = rbdc_tbdc([Detection("v", 0, (0, 0, 9, 0), 0.5)], gt, total_frames=1)   # IoU 10/100
    below = rbdc_tbdc([Detection("v", 0, (0, 0, 8, 0), 0.5)], gt, total_frames=1)     # IoU 9/100
    assert (at_beta.true_positives, below.false_positives) == (1, 1)


def test_track_needs_alpha_of_its_regions():
    gt = [GtRegion("v", f, BOX, track=1) for f in range(20)]   # alpha 0.1 -> 2 of 20 regions
    one = rbdc_tbdc([Detection("v", 0, BOX, 0.9)], gt, total_frames=20)
    two = rbdc_tbdc([Detection("v", 0, BOX, 0.9), Detection("v", 1, BOX, 0.8)], gt, total_frames=20)
    assert one.rbdc == pytest.approx(5.0) and one.tbdc == 0.0
    assert two.rbdc == pytest.approx(10.0) and two.tbdc == pytest.approx(100.0)
    assert two.tbdr.tolist() == [0.0, 0.0, 1.0, 1.0]


def test_tracks_are_keyed_by_video_and_object_id():
    gt = [GtRegion(v, 0, BOX, track=1) for v in ("a", "b")]
    res = rbdc_tbdc([Detection("a", 0, BOX, 0.9)], gt, total_frames=2)
    assert res.num_gt_tracks == 2 and res.tbdc == pytest.approx(50.0)


def test_result_does_not_depend_on_input_order_with_tied_scores():
    gt = [GtRegion(v, f, BOX, track=1) for v in ("a", "b") for f in range(3)]
    dets = [Detection(v, f, BOX if f % 2 else ELSEWHERE, 0.5) for v in ("a", "b") for f in range(3)]
    first = rbdc_tbdc(dets, gt, total_frames=6)
    shuffled = dets[:]
    random.Random(3).shuffle(shuffled)
    second = rbdc_tbdc(shuffled, gt, total_frames=6)
    assert first.rbdc == second.rbdc and np.array_equal(first.tbdr, second.tbdr)


@pytest.mark.parametrize("kwargs, message", [
    ({"alpha": 0.0}, "alpha"), ({"beta": 1.5}, "beta"), ({"total_frames": 0}, "total_frames"),
])
def test_bad_parameters_are_named(kwargs, message):
    args = {"detections": [], "gt_regions": [GtRegion("v", 0, BOX, 1)], "total_frames": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        rbdc_tbdc(**args)


def test_no_gt_regions_and_nan_scores_are_errors():
    with pytest.raises(ValueError, match="no ground-truth regions"):
        rbdc_tbdc([], [], total_frames=3)
    with pytest.raises(ValueError, match="video 'v' frame 0: score is nan"):
        rbdc_tbdc([Detection("v", 0, BOX, float("nan"))], [GtRegion("v", 0, BOX, 1)], total_frames=1)


def test_docstring_examples_of_the_metrics_modules():
    import doctest
    import importlib

    for name in ("boxes", "regions", "frame_auc", "heatmaps", "gt_regions", "text"):
        module = importlib.import_module(f"tvau_ros.metrics.{name}")
        failures, tried = doctest.testmod(module)
        assert tried > 0 and failures == 0, name
