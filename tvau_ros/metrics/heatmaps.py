"""Convert anomaly heatmaps to scored detections for RBDC/TBDC.

Cells with value >= ``base_threshold`` are grouped into 8-connected components; each
component of at least ``min_area`` cells becomes one detection whose box is the inclusive
bounding box of the component and whose score is the peak heatmap value inside it. RBDC then
sweeps the score threshold from high to low, so ``base_threshold`` is the lowest operating
point. A heatmap coarser than the video (e.g. a patch grid) is handled by mapping each cell to
the block of pixels it covers (``out_size``), see docs/metrics.md.

>>> hm = np.zeros((4, 6), np.float32); hm[0:2, 0:2] = 0.6; hm[1, 1] = 0.9; hm[3, 4:6] = 0.7
>>> [(d.box, round(d.score, 2)) for d in heatmap_to_detections(hm, 0.5)]
[((0.0, 0.0, 1.0, 1.0), 0.9), ((4.0, 3.0, 5.0, 3.0), 0.7)]
>>> [d.box for d in heatmap_to_detections(hm, 0.5, out_size=(8, 12))]
[(0.0, 0.0, 3.0, 3.0), (8.0, 6.0, 11.0, 7.0)]
"""
from __future__ import annotations

import math

import numpy as np

from tvau_ros.metrics.regions import Detection


def _check_heatmap(heatmap: np.ndarray, what: str) -> np.ndarray:
    heatmap = np.asarray(heatmap, dtype=np.float32)
    if heatmap.ndim != 2 or heatmap.size == 0:
        raise ValueError(f"{what}: expected a non-empty (H, W) heatmap, got shape {heatmap.shape}")
    if not np.isfinite(heatmap).all():
        raise ValueError(f"{what}: heatmap contains NaN or infinite values")
    return heatmap


def _to_pixels(lo: int, hi: int, cells: int, pixels: int) -> tuple[float, float]:
    """Inclusive cell range -> inclusive pixel range it covers."""
    scale = pixels / cells
    return float(math.floor(lo * scale)), float(min(pixels - 1, math.ceil((hi + 1) * scale) - 1))


def heatmap_to_detections(
    heatmap: np.ndarray,
    base_threshold: float,
    min_area: int = 1,
    *,
    video: str = "",
    frame: int = 0,
    out_size: tuple[int, int] | None = None,
) -> list[Detection]:
    """Detections (one per connected component above ``base_threshold``) of one frame.

    ``min_area`` counts heatmap cells. ``out_size`` = (height, width) of the video frame when
    the heatmap is coarser; boxes are then in video pixels.
    """
    import cv2

    what = f"heatmap of video {video!r} frame {frame}"
    heatmap = _check_heatmap(heatmap, what)
    if min_area < 1:
        raise ValueError(f"min_area must be >= 1, got {min_area}")
    mask = (heatmap >= base_threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    peaks = np.full(count, -np.inf, dtype=np.float64)
    np.maximum.at(peaks, labels.ravel(), heatmap.ravel())
    h, w = heatmap.shape
    out_h, out_w = out_size if out_size is not None else (h, w)
    detections = []
    for label in range(1, count):  # label 0 is the background
        x, y, bw, bh, area = (int(v) for v in stats[label])
        if area < min_area:
            continue
        x0, x1 = _to_pixels(x, x + bw - 1, w, out_w)
        y0, y1 = _to_pixels(y, y + bh - 1, h, out_h)
        detections.append(Detection(video, int(frame), (x0, y0, x1, y1), float(peaks[label])))
    return detections


def video_heatmaps_to_detections(
    video: str,
    heatmaps: np.ndarray,
    base_threshold: float,
    min_area: int = 1,
    out_size: tuple[int, int] | None = None,
) -> list[Detection]:
    """``heatmap_to_detections`` for every frame of a (T, H, W) heatmap stack."""
    heatmaps = np.asarray(heatmaps)
    if heatmaps.ndim != 3:
        raise ValueError(f"heatmaps of video {video!r}: expected (T, H, W), got shape {heatmaps.shape}")
    detections: list[Detection] = []
    for frame, heatmap in enumerate(heatmaps):
        detections += heatmap_to_detections(heatmap, base_threshold, min_area,
                                            video=video, frame=frame, out_size=out_size)
    return detections
