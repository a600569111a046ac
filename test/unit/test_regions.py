"""Heatmap -> frame score and regions (boxes in source pixels)."""
import numpy as np
import pytest

from tvau_ros.core.regions import RegionConfig, extract_regions, frame_score, smooth_heatmap


def test_two_components_strongest_first_with_scores():
    hm = np.zeros((20, 30), np.float32)
    hm[2:6, 3:9] = 0.6       # 24 px
    hm[10:18, 20:28] = 0.9   # 64 px
    hm[12, 22] = 1.0
    regions = extract_regions(hm, (20, 30), RegionConfig(threshold=0.5, smoothing_sigma=0, min_area_fraction=0))
    assert [r.box.as_list() for r in regions] == [[20, 10, 8, 8], [3, 2, 6, 4]]
    assert regions[0].peak_score == pytest.approx(1.0)
    assert regions[0].mean_score == pytest.approx((63 * 0.9 + 1.0) / 64)
    assert regions[1].area_fraction == pytest.approx(24 / 600)
    assert all(r.track_id == 0 and r.label == "anomaly" for r in regions)


def test_boxes_scale_to_the_source_resolution():
    hm = np.zeros((30, 40), np.float32)
    hm[10:20, 0:10] = 0.8
    (region,) = extract_regions(hm, (120, 160), RegionConfig(smoothing_sigma=0, min_area_fraction=0))
    assert region.box.as_list() == [0, 40, 40, 40]
    assert region.box.x_max == 39 and region.box.y_max == 79


def test_small_components_and_max_regions():
    hm = np.zeros((100, 100), np.float32)
    hm[0, 0] = 0.9                      # 1 px: below min_area_fraction
    for i in range(5):
        hm[20 * i + 5: 20 * i + 10, 50:60] = 0.6 + 0.05 * i
    cfg = RegionConfig(smoothing_sigma=0, min_area_fraction=0.001, max_regions=3)
    regions = extract_regions(hm, (100, 100), cfg)
    assert len(regions) == 3
    assert [round(r.peak_score, 2) for r in regions] == [0.8, 0.75, 0.7]


def test_frame_score_is_the_peak_after_smoothing():
    hm = np.zeros((21, 21), np.float32)
    hm[10, 10] = 1.0  # a single hot pixel is smoothed away
    assert frame_score(smooth_heatmap(hm, 0)) == 1.0
    assert frame_score(smooth_heatmap(hm, 2.0)) < 0.1
    assert extract_regions(smooth_heatmap(hm, 2.0), (21, 21)) == []


def test_nothing_above_threshold():
    assert extract_regions(np.full((8, 8), 0.49, np.float32), (8, 8), RegionConfig(smoothing_sigma=0)) == []


@pytest.mark.parametrize("kwargs,match", [
    ({"threshold": 0.0}, "threshold"), ({"min_area_fraction": 1.0}, "min_area_fraction"),
    ({"smoothing_sigma": -1}, "smoothing_sigma"), ({"max_regions": 0}, "max_regions"),
])
def test_invalid_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RegionConfig(**kwargs)


def test_pieces_of_one_target_merge_into_one_region():
    hm = np.zeros((100, 100), np.float32)
    hm[20:40, 20:30] = 0.9   # body
    hm[42:60, 20:30] = 0.7   # legs, 2 px below
    hm[20:40, 80:90] = 0.6   # another target far away
    merged = extract_regions(hm, (100, 100), RegionConfig(smoothing_sigma=0, merge_fraction=0.03))
    assert [r.box.as_list() for r in merged] == [[20, 20, 10, 40], [80, 20, 10, 20]]
    assert merged[0].area_fraction == pytest.approx((200 + 180) / 10_000)  # gap pixels are not counted
    split = extract_regions(hm, (100, 100), RegionConfig(smoothing_sigma=0, merge_fraction=0.0))
    assert len(split) == 3
