"""Heatmap -> scored detections (connected components above a base threshold, peak score)."""
import numpy as np
import pytest

from tvau_ros.metrics import GtRegion, heatmap_to_detections, rbdc_tbdc, video_heatmaps_to_detections


def two_blob_heatmap() -> np.ndarray:
    hm = np.zeros((10, 12), np.float32)
    hm[1:4, 2:5] = 0.6
    hm[2, 3] = 0.95          # peak of the first blob
    hm[7:9, 8:12] = 0.5      # exactly at the threshold: kept
    hm[5, 0] = 0.55          # single cell
    hm[6, 6] = 0.4           # below the threshold
    return hm


def test_components_boxes_and_peak_scores():
    dets = heatmap_to_detections(two_blob_heatmap(), 0.5, video="v", frame=3)
    found = sorted((d.box, round(d.score, 3)) for d in dets)
    assert found == [((0.0, 5.0, 0.0, 5.0), 0.55), ((2.0, 1.0, 4.0, 3.0), 0.95), ((8.0, 7.0, 11.0, 8.0), 0.5)]
    assert {(d.video, d.frame) for d in dets} == {("v", 3)}


def test_min_area_drops_small_components():
    dets = heatmap_to_detections(two_blob_heatmap(), 0.5, min_area=2)
    assert len(dets) == 2 and min(d.score for d in dets) == pytest.approx(0.5)


def test_diagonal_cells_are_one_component():
    hm = np.zeros((4, 4))
    hm[0, 0] = hm[1, 1] = 0.8
    assert [d.box for d in heatmap_to_detections(hm, 0.5)] == [(0.0, 0.0, 1.0, 1.0)]


def test_coarse_heatmap_boxes_cover_their_pixel_blocks():
    hm = np.zeros((4, 4))
    hm[1, 2] = 0.9          # cell = 10 x 16 pixels of a 40 x 64 frame
    (det,) = heatmap_to_detections(hm, 0.5, out_size=(40, 64))
    assert det.box == (32.0, 10.0, 47.0, 19.0)
    hm = np.zeros((3, 3))
    hm[2, 2] = 0.9          # uneven: 10 pixels over 3 cells
    (det,) = heatmap_to_detections(hm, 0.5, out_size=(10, 10))
    assert det.box == (6.0, 6.0, 9.0, 9.0)


def test_heatmap_of_the_gt_region_scores_rbdc_100():
    stack = np.zeros((5, 24, 32), np.float32)
    stack[:, 3:13, 2:12] = 0.8
    dets = video_heatmaps_to_detections("a", stack, 0.5)
    gt = [GtRegion("a", f, (2, 3, 11, 12), track=1) for f in range(5)]
    assert len(dets) == 5 and rbdc_tbdc(dets, gt, total_frames=5).rbdc == 100.0


@pytest.mark.parametrize("heatmap, message", [
    (np.full((2, 2), np.nan), "NaN"), (np.zeros((2, 2, 2)), "shape"), (np.zeros((0, 3)), "shape"),
])
def test_bad_heatmaps_are_named(heatmap, message):
    with pytest.raises(ValueError, match=f"video 'v' frame 4.*{message}"):
        heatmap_to_detections(heatmap, 0.5, video="v", frame=4)
