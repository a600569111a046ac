"""End-to-end on rendered videos: dialogue samples, report counts, accuracy, bad masks."""

import numpy as np
import pytest

from tvau_ros.data.annotation.evaluate import evaluate, match_turns
from tvau_ros.data.annotation.pipeline import AnnotationInputError, annotate_video
from tvau_ros.data.annotation.runner import annotate_samples, build_report, summary_lines
import annotation.fake_videos as fv  # test/fixtures is on sys.path (test/conftest.py)


def _abnormal(name="walker", binary=False):
    fig = fv.Figure(2, "red", "blue", [(0, -15, 110), (30, 80, 110), (70, 80, -5)])
    video = fv.make_video([fig], num_frames=71, name=name, binary=binary)
    seen = np.flatnonzero(video.frame_labels)
    video.meta = {"video": name, "fps": video.fps, "targets": [{
        "object_id": 2, "abnormal": True, "start": int(seen[0]), "end": int(seen[-1]),
        "attributes": {"top_color": "red", "bottom_color": "blue", "accessories": [], "size_class": "large"},
        "trajectory": {"entry_side": "left", "exit_side": "top", "turns": [{"frame": 30, "direction": "left"}],
                       "speed_states": [{"start": int(seen[0]), "end": int(seen[-1]), "state": "running"}]}}]}
    return video


def _normal(name="empty"):
    video = fv.make_video([], num_frames=20, name=name)
    video.meta = {"video": name, "targets": []}
    return video


def test_abnormal_video_gives_the_four_turn_dialogue_with_anchored_boxes():
    ann = annotate_video(_abnormal())
    assert ann.status == "abnormal" and ann.reasons == []
    sample = ann.sample
    assert [t.kind for t in sample.turns] == ["judgment", "appearance", "motion", "trajectory"]
    assert sample.turns[1].answers[0].startswith("A person wearing a red top and blue trousers")
    target = sample.targets[0]
    assert target.object_id == 2 and target.trajectory["entry_side"] == "left"
    anchor_frames = [b["frame"] for b in target.boxes]
    assert any(abs(f - 30) <= 3 for f in anchor_frames)  # the turn is an anchor
    assert anchor_frames[0] == target.start and anchor_frames[-1] == target.end
    x1, y1, x2, y2 = target.boxes[0]["box"]
    assert 0 <= x1 <= x2 < sample.width and 0 <= y1 <= y2 < sample.height


@pytest.mark.parametrize("binary", [False, True])
def test_accuracy_against_ground_truth_is_measured(binary):
    videos = [_abnormal("a", binary), _normal("n")]
    annotations = annotate_samples(videos)
    assert [a.status for a in annotations] == ["abnormal", "normal"]
    acc = evaluate(annotations, {v.name: v.meta for v in videos}, {v.name: v.fps for v in videos})
    assert acc["targets_matched"] == acc["targets_true"] == 1
    assert acc["color"] == 100.0 and acc["color_coverage"] == 100.0 and acc["entry_exit_side"] == 100.0


def test_a_wrong_answer_lowers_accuracy():
    video = _abnormal()
    video.meta["targets"][0]["attributes"]["top_color"] = "green"
    video.meta["targets"][0]["trajectory"]["exit_side"] = "right"
    acc = evaluate(annotate_samples([video]), {"walker": video.meta}, {"walker": 25.0})
    assert (acc["top_color"], acc["bottom_color"], acc["color"]) == (0.0, 100.0, 50.0)
    assert (acc["entry_side"], acc["exit_side"], acc["entry_exit_side"]) == (100.0, 0.0, 50.0)


def test_turn_matching_needs_direction_and_tolerance():
    truth = [{"frame": 30, "direction": "left"}, {"frame": 60, "direction": "right"}]
    assert match_turns([{"frame": 33, "direction": "left"}, {"frame": 60, "direction": "left"}], truth, 5) == 1
    assert match_turns([{"frame": 40, "direction": "left"}], truth, 5) == 0


def test_missing_mask_names_the_file_and_is_skipped_and_counted():
    broken = _abnormal("broken")
    broken.missing_masks = {12}
    with pytest.raises(AnnotationInputError, match=r"broken_0012_gt\.png"):
        annotate_video(broken)
    logged = []
    annotations = annotate_samples([broken, _normal()], log=logged.append)
    report = build_report(annotations, [broken, _normal()], split="test")
    assert report["counts"]["skipped"] == 1 and report["counts"]["normal"] == 1
    assert report["skipped"][0]["video"] == "broken" and "frame 12" in report["skipped"][0]["reasons"][0]
    assert logged and "broken" in logged[0]
    with pytest.raises(AnnotationInputError):
        annotate_samples([broken], strict=True)


def test_mask_of_the_wrong_size_is_reported_with_both_sizes():
    video = _abnormal("small_masks")
    video.masks = video.masks[:, :60, :80]
    with pytest.raises(AnnotationInputError, match=r"small_masks: mask of frame \d+ is \(80, 60\).*\(160, 120\)"):
        annotate_video(video)


def test_inconsistent_video_is_dropped_and_counted_in_the_report():
    first = fv.Figure(1, "red", "blue", [(0, 20, 110), (30, 80, 110)])
    second = fv.Figure(1, "green", "yellow", [(31, 80, 108), (60, 80, 60)])
    stitched = fv.make_video([first, second], num_frames=61, name="stitched")
    good = _abnormal("good")
    annotations = annotate_samples([stitched, good])
    assert [a.status for a in annotations] == ["dropped", "abnormal"]
    assert annotations[0].sample is None
    report = build_report(annotations, [stitched, good], split="test")
    assert report["counts"]["dropped_inconsistent"] == 1 and report["samples_written"] == 1
    assert report["dropped"][0]["video"] == "stitched"
    assert report["accuracy"]["color"] == 100.0
    assert any(line.startswith("goals (>= 90%)") for line in summary_lines(report))
