"""Identity association, background suppression and refinement on small rendered videos."""

import cv2
import numpy as np
import pytest

from tvau_ros.data.annotation.extraction import extract_observations
from tvau_ros.data.annotation.timeline import associate, refine_timeline, suppress_background
import annotation.fake_videos as fv  # test/fixtures is on sys.path (test/conftest.py)


def _observe(video, use_ids):
    obs = []
    for t in range(video.num_frames):
        frame, mask = video.frames[t], video.masks[t]
        if mask.any():
            obs += extract_observations(frame, mask, t, use_ids, suppress_background(frame, mask))
    return obs


def test_ids_keep_crossing_targets_apart():
    a = fv.Figure(4, "red", "blue", [(0, 20, 100), (30, 140, 100)])
    b = fv.Figure(9, "green", "black", [(0, 140, 100), (30, 20, 100)])
    timelines = associate(_observe(fv.make_video([a, b], num_frames=31), True), use_ids=True)
    assert [t.object_id for t in timelines] == [4, 9]
    for tl, fig in zip(timelines, (a, b), strict=True):
        refine_timeline(tl, (120, 160))
        assert (tl.attributes.top_color, tl.attributes.bottom_color) == (fig.top, fig.bottom)
        assert 29 <= len(tl.observations) <= 31  # one may hide the other where they cross


def test_binary_masks_linked_across_an_occlusion_gap():
    left = fv.Figure(1, "red", "blue", [(0, 20, 100), (40, 60, 100)])
    right = fv.Figure(2, "yellow", "black", [(0, 140, 60), (40, 100, 60)])
    video = fv.make_video([left, right], num_frames=41, binary=True, blank_frames=tuple(range(15, 21)))
    timelines = associate(_observe(video, False), use_ids=False, max_gap=10)
    assert len(timelines) == 2
    for tl in timelines:
        assert (tl.start, tl.end) == (0, 40)
        assert len(tl.observations) == 41 - 6
        refine_timeline(tl, (120, 160))
    assert ({(t.attributes.top_color, t.attributes.bottom_color) for t in timelines}
            == {("red", "blue"), ("yellow", "black")})


def test_a_gap_longer_than_max_gap_starts_a_new_timeline():
    fig = fv.Figure(1, "red", "blue", [(0, 20, 100), (40, 60, 100)])
    video = fv.make_video([fig], num_frames=41, binary=True, blank_frames=tuple(range(10, 25)))
    assert len(associate(_observe(video, False), use_ids=False, max_gap=10)) == 2


def test_suppress_background_blurs_only_outside_the_mask():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    mask = np.zeros((40, 50), np.int32)
    mask[10:30, 20:30] = 2
    out = suppress_background(frame, mask, sigma=3.0)
    blurred = cv2.GaussianBlur(frame, (0, 0), 3.0)
    assert np.array_equal(out[mask > 0], frame[mask > 0])
    assert np.array_equal(out[mask == 0], blurred[mask == 0])
    assert out[mask == 0].std() < frame[mask == 0].std() / 2


def test_refinement_keeps_high_confidence_frames_and_outvotes_corrupted_ones():
    fig = fv.Figure(1, "blue", "gray", [(0, 30, 100), (30, 130, 100)])
    video = fv.make_video([fig], num_frames=31)
    # frames 10-14: a green occluder painted over the torso inside the mask (mask still says target)
    for t in range(10, 15):
        ys, xs = np.nonzero(video.masks[t] == 1)
        top = (ys < ys.min() + 0.5 * (ys.max() - ys.min()))
        video.frames[t][ys[top], xs[top]] = (40, 170, 60)
    tl = associate(_observe(video, True), use_ids=True)[0]
    refine_timeline(tl, (120, 160))
    assert (tl.attributes.top_color, tl.attributes.bottom_color) == ("blue", "gray")
    assert not set(range(10, 15)) & set(tl.high_conf_frames)
    assert set(range(3, 10)) <= set(tl.high_conf_frames)
    assert tl.attributes.top_conf == pytest.approx(26 / 31, abs=0.02)  # 5 of 31 frames voted green
