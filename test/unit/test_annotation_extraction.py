"""Colour naming, boxes and attributes measured from pixels (known answers)."""

import numpy as np
import pytest

from tvau_ros.data.annotation.colors import PALETTE, dominant_color, name_color
from tvau_ros.data.annotation.extraction import (extract_observations, illumination_gain, largest_contour_box,
                                                 measure_appearance, size_class, touched_borders)
import annotation.fake_videos as fv  # test/fixtures is on sys.path (test/conftest.py)


# common renderings of each name: pure, darker/lighter shades, web colours
KNOWN = {
    "black": [(0, 0, 0), (20, 22, 25)], "white": [(255, 255, 255), (238, 238, 230)],
    "gray": [(128, 128, 128), (169, 169, 169), (100, 100, 105)],
    "red": [(255, 0, 0), (200, 20, 30), (139, 0, 0)], "orange": [(255, 165, 0), (255, 120, 20)],
    "yellow": [(255, 255, 0), (240, 220, 50)], "green": [(0, 128, 0), (50, 205, 50), (34, 139, 34)],
    "blue": [(0, 0, 255), (65, 105, 225), (0, 0, 139), (30, 144, 255)],
    "purple": [(128, 0, 128), (138, 43, 226), (148, 0, 211)],
    "pink": [(255, 192, 203), (255, 105, 180)], "brown": [(139, 69, 19), (160, 82, 45), (101, 67, 33)],
}


@pytest.mark.parametrize("name", PALETTE)
def test_colour_names_of_common_renderings(name):
    assert [name_color(rgb) for rgb in KNOWN[name]] == [name] * len(KNOWN[name])


def test_dominant_colour_survives_shading_noise_and_minority_pixels():
    rng = np.random.default_rng(0)
    shaded = np.clip(np.array((205, 35, 35)) * rng.uniform(0.8, 1.1, (200, 1)) + rng.normal(0, 8, (200, 3)), 0, 255)
    pixels = np.concatenate([shaded.astype(np.uint8), np.full((60, 3), (30, 60, 200), np.uint8)])
    name, share = dominant_color(pixels)
    assert name == "red" and share == pytest.approx(200 / 260, abs=0.05)
    assert dominant_color(np.zeros((0, 3), np.uint8)) == (None, 0.0)


def test_box_is_the_bounding_rectangle_of_the_largest_contour_inclusive():
    mask = np.zeros((30, 40), bool)
    mask[5:15, 10:18] = True  # 80 px
    mask[20:23, 30:33] = True  # 9 px stray
    box, component = largest_contour_box(mask)
    assert box == (10, 5, 17, 14)
    assert component.sum() == 80
    assert largest_contour_box(np.zeros((4, 4), bool)) is None


def test_borders_and_size_class():
    assert touched_borders((0, 10, 20, 30), 100, 50) == {"left"}
    assert touched_borders((80, 0, 99, 49), 100, 50) == {"right", "top", "bottom"}
    assert touched_borders((10, 10, 20, 30), 100, 50) == frozenset()
    frame_area = 320 * 240  # size class = share of the frame the mask covers: <0.4%, <2%, else
    assert [size_class(a, frame_area) for a in (300, 1500, 1600)] == ["small", "medium", "large"]


def test_figure_colours_box_and_ids_from_an_id_mask():
    figures = [fv.Figure(3, "yellow", "purple", [(0, 40, 100), (1, 40, 100)], height=50),
               fv.Figure(7, "white", "brown", [(0, 110, 90), (1, 110, 90)], height=40)]
    video = fv.make_video(figures, num_frames=2)
    obs = extract_observations(video.frames[0], video.masks[0], 0, use_ids=True,
                               refined_frame=video.frames[0])
    by_id = {o.object_id: o for o in obs}
    assert sorted(by_id) == [3, 7]
    for fig in figures:
        o = by_id[fig.object_id]
        ys, xs = np.nonzero(video.masks[0] == fig.object_id)
        assert o.box == (xs.min(), ys.min(), xs.max(), ys.max())
        assert (o.refined.top_color, o.refined.bottom_color) == (fig.top, fig.bottom)
        assert o.refined.confidence > 0.8


def test_binary_mask_splits_into_components():
    figures = [fv.Figure(1, "red", "blue", [(0, 40, 100), (1, 40, 100)]),
               fv.Figure(2, "green", "black", [(0, 120, 100), (1, 120, 100)])]
    video = fv.make_video(figures, num_frames=2, binary=True)
    obs = extract_observations(video.frames[0], video.masks[0], 0, use_ids=False, refined_frame=video.frames[0])
    assert sorted((o.refined.top_color, o.refined.bottom_color) for o in obs) == [("green", "black"), ("red", "blue")]
    assert all(o.object_id is None for o in obs)


def test_mask_restricted_reading_beats_whole_box_reading_on_a_coloured_background():
    fig = fv.Figure(1, "gray", "black", [(0, 60, 110), (3, 60, 110)], height=95)
    video = fv.make_video([fig], num_frames=4)
    frame, mask = video.frames[3].copy(), video.masks[3]  # frame 3: legs wide apart
    ys, xs = np.nonzero(mask)
    around = np.zeros_like(mask, bool)
    around[ys.min() - 3:ys.max() + 4, xs.min() - 3:xs.max() + 4] = True
    frame[around & (mask == 0)] = (40, 170, 60)  # green lawn right behind the figure
    o = extract_observations(frame, mask, 3, use_ids=True, refined_frame=frame)[0]
    assert o.coarse.bottom_color == "green"  # legs are thin: the box band is mostly lawn
    assert (o.refined.top_color, o.refined.bottom_color) == ("gray", "black")


def test_wide_target_is_measured_by_halves_not_body_bands():
    frame = np.zeros((40, 80, 3), np.uint8)
    frame[10:25, 10:35] = (200, 30, 30)
    frame[10:25, 35:60] = (30, 60, 200)
    app = measure_appearance(frame, (10, 10, 59, 24), None)
    assert not app.upright and app.top_color is None
    assert (app.color("left")[0], app.color("right")[0]) == ("red", "blue") and app.confidence == 1.0


def test_illumination_gain_brings_a_dim_frame_to_the_white_point():
    rng = np.random.default_rng(3)
    frame = rng.integers(100, 235, (60, 80, 3)).astype(np.uint8)
    dim = (frame * 0.7).astype(np.uint8)
    assert illumination_gain(dim) == pytest.approx(illumination_gain(frame) / 0.7, rel=0.05)
    white = np.full((20, 3), int(235 * 0.7), np.uint8)  # white clothing seen in that dim frame
    assert dominant_color(white)[0] == "gray"
    assert dominant_color(np.clip(white * illumination_gain(dim), 0, 255).astype(np.uint8))[0] == "white"
