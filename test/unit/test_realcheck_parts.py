"""Pieces of the real-footage check set builder: the frame-399 limit, source checks, the
feathered paste and its exact mask, sprite warping, the scene's scale."""
from pathlib import Path

import cv2
import numpy as np
import pytest

from tvau_ros.data.realcheck.composite import Layer, paste, warp_layer
from tvau_ros.data.realcheck.footage import FootageError, check_source, read_frames
from tvau_ros.data.realcheck.geometry import (GeometryError, PersonHeight, fit_camera, fit_person_height,
                                              person_height_px)


def _index_frame(index: int, size=(64, 48)) -> np.ndarray:
    """A frame carrying its index as 10 black/white bars (robust to the codec)."""
    frame = np.zeros((size[1], size[0], 3), np.uint8)
    for bit in range(10):
        if (index >> bit) & 1:
            frame[:, bit * 6:(bit + 1) * 6] = 255
    return frame


def _frame_index(frame: np.ndarray) -> int:
    return sum(1 << bit for bit in range(10) if frame[:, bit * 6 + 1:bit * 6 + 5].mean() > 128)


def _video(path: Path, frames: int, size=(64, 48), fps=10.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(frames):
        writer.write(_index_frame(i, size))
    writer.release()
    return path


def test_reading_past_frame_399_is_refused_before_the_file_is_opened(tmp_path):
    with pytest.raises(FootageError, match=r"frames 0\.\.400 requested: only frames 0\.\.399"):
        read_frames(tmp_path / "does_not_exist.avi", 0, 401)
    with pytest.raises(FootageError, match="untouched check"):
        read_frames(tmp_path / "does_not_exist.avi", 399, 420, step=5)


def test_read_frames_reads_the_asked_frames_in_order(tmp_path):
    video = _video(tmp_path / "v.mp4", 420)
    frames = read_frames(video, 390, 400, step=3)
    assert frames.shape == (4, 48, 64, 3)
    assert [_frame_index(f) for f in frames] == [390, 393, 396, 399]


def test_check_source_names_each_bad_video(tmp_path):
    with pytest.raises(FootageError, match="no such file"):
        check_source(tmp_path / "missing.avi")
    text = tmp_path / "notes.avi"
    text.write_text("not a video")
    with pytest.raises(FootageError, match=r"notes\.avi"):
        check_source(text)
    with pytest.raises(FootageError, match=r"50 frames, need at least 400"):
        check_source(_video(tmp_path / "short.mp4", 50), expected_size=(64, 48))
    with pytest.raises(FootageError, match=r"frames are 64x48, expected 768x576"):
        check_source(_video(tmp_path / "small.mp4", 400))
    info = check_source(tmp_path / "small.mp4", expected_size=(64, 48))
    assert (info.num_frames, info.width, info.height, info.fps) == (400, 64, 48, 10.0)


def test_paste_mask_is_exactly_where_the_object_makes_up_half_the_pixel():
    frame = np.full((60, 80, 3), 20, np.uint8)
    cover = np.zeros((30, 24), np.float32)
    cv2.circle(cover, (12, 15), 9, 1.0, -1)
    cover[2:6, 3:20] = 0.7  # partial coverage (an anti-aliased edge) stays partial
    layer = Layer(30, 12, np.full((30, 24, 3), 220, np.float32), cover)
    out = frame.copy()
    gt = paste(out, layer)
    alpha = (out[..., 0].astype(float) - 20) / 200.0  # what the blend actually did, per pixel
    ambiguous = np.abs(alpha - 0.5) < 0.01             # rounding to uint8 can tip these either way
    assert np.array_equal(gt[~ambiguous], alpha[~ambiguous] >= 0.5)
    assert gt.sum() > 0.9 * (cover >= 0.5).sum()
    changed = out[..., 0] != 20
    grown = cv2.dilate(gt.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert not (changed & ~grown).any(), "the feather reaches 2 pixels past the mask at most"


def test_paste_leaves_hidden_pixels_alone_and_outside_the_mask():
    frame = np.full((40, 40, 3), 50, np.uint8)
    layer = Layer(5, 5, np.full((30, 30, 3), 250, np.float32), np.ones((30, 30), np.float32))
    hidden = np.zeros((40, 40), bool)
    hidden[:, 18:22] = True   # a pole in front
    out = frame.copy()
    gt = paste(out, layer, hidden)
    assert (out[hidden] == 50).all() and not gt[hidden].any()
    assert gt[10:30, 8:16].all() and gt[10:30, 24:32].all()


def test_paste_clips_at_the_frame_border():
    frame = np.zeros((20, 20, 3), np.uint8)
    gt = paste(frame, Layer(-5, 12, np.full((10, 10, 3), 200, np.float32), np.ones((10, 10), np.float32)))
    assert gt.shape == (20, 20) and gt[14:19, 0:3].all() and not gt[:10].any()
    assert not paste(frame, Layer(40, 40, np.zeros((5, 5, 3), np.float32), np.ones((5, 5), np.float32))).any()


def test_warp_layer_puts_the_anchor_on_the_target():
    mask = np.zeros((40, 12), bool)
    mask[:, 4:8] = True  # a thin upright body, feet at the bottom centre (6, 40)
    pixels = np.full((40, 12, 3), 100, np.uint8)
    up = warp_layer(pixels, mask, (6.0, 40.0), (100.0, 200.0), scale=0.5)
    ys, xs = np.nonzero(up.cover > 0.5)
    assert abs(up.x0 + xs.mean() - 100) < 1.0 and abs(up.y0 + ys.max() + 1 - 200) <= 1.0
    assert 18 <= ys.max() - ys.min() + 1 <= 21  # half of 40 px
    lying = warp_layer(pixels, mask, (6.0, 40.0), (100.0, 200.0), scale=1.0, angle_deg=90.0)
    ys, xs = np.nonzero(lying.cover > 0.5)
    assert xs.max() - xs.min() > 30 and ys.max() - ys.min() < 8       # turned clockwise: lies to the right
    assert lying.x0 + xs.mean() > 100
    mirrored = warp_layer(pixels, mask, (2.0, 40.0), (50.0, 60.0), scale=1.0, mirror=True)
    ys, xs = np.nonzero(mirrored.cover > 0.5)
    assert mirrored.x0 + xs.mean() < 50  # the body was right of the anchor, now left of it


def test_person_height_line_and_camera():
    rows = np.repeat(np.arange(100, 500, 10), 6).astype(float)
    heights = 0.25 * rows + 10 + np.tile([-3, -1, 0, 0, 1, 30], 40)  # one merged blob per row band
    line = fit_person_height(rows, heights)
    assert line.slope == pytest.approx(0.25, abs=0.01) and line.offset == pytest.approx(10, abs=3)
    cam = fit_camera(line, 768, 576)
    for v in (200, 350, 500):
        assert float(person_height_px(cam, 384, v)) == pytest.approx(line.at(v), rel=0.05)
    with pytest.raises(GeometryError, match="two or more distances"):
        fit_person_height(np.full(30, 200.0), np.full(30, 60.0))
    with pytest.raises(GeometryError, match="taller nearer"):
        fit_person_height(rows, 200 - 0.2 * rows)
    assert PersonHeight(0.5, -50).horizon_v == 100
