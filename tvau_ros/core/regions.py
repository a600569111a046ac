"""Heatmap -> frame score and anomalous regions (connected components with boxes and scores).

``analyse_frame`` is what the pipeline does with each frame: it takes an object-level
engine's scored regions as they are (boxes rescaled to the source image), or else extracts
components of the heatmap as below; either way the frame score is its strongest region and
``regions`` are those at or above ``threshold``.

The heatmap is smoothed (Gaussian, ``smoothing_sigma`` pixels); the frame score is its peak.
Pixels >= ``threshold`` form 8-connected components, where parts closer than ``merge_fraction``
of the image diagonal count as one (a target split into pieces stays one region); each
component covering at least ``min_area_fraction`` of the frame is one ``Region`` whose box is
given in SOURCE-image pixels (the heatmap may be at a smaller processing resolution).

>>> hm = np.zeros((40, 60), np.float32); hm[10:20, 30:45] = 0.9
>>> cfg = RegionConfig(threshold=0.5, smoothing_sigma=0.0)
>>> [(r.box.as_list(), round(r.peak_score, 2)) for r in extract_regions(hm, (80, 120), cfg)]
[([60, 20, 30, 20], 0.9)]
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from tvau_ros.core.types import Box, Region


@dataclass(frozen=True)
class RegionConfig:
    threshold: float = 0.5          # heatmap value that makes a pixel anomalous (and the frame)
    min_area_fraction: float = 0.0005  # smallest component, as a fraction of the frame area
    smoothing_sigma: float = 1.0    # Gaussian sigma in heatmap pixels (0 = no smoothing)
    max_regions: int = 16           # keep the strongest components only
    merge_fraction: float = 0.02    # join parts closer than this fraction of the diagonal (0 = never)
    label: str = "anomaly"
    candidate_threshold: float = 0.0  # also keep regions down to this score (evaluation sweeps; 0 = off)

    def __post_init__(self):
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"regions.threshold must be in (0, 1], got {self.threshold}")
        if not 0.0 <= self.min_area_fraction < 1.0:
            raise ValueError(f"regions.min_area_fraction must be in [0, 1), got {self.min_area_fraction}")
        if self.smoothing_sigma < 0:
            raise ValueError(f"regions.smoothing_sigma must be >= 0, got {self.smoothing_sigma}")
        if not 0.0 <= self.merge_fraction < 1.0:
            raise ValueError(f"regions.merge_fraction must be in [0, 1), got {self.merge_fraction}")
        if self.max_regions < 1:
            raise ValueError(f"regions.max_regions must be >= 1, got {self.max_regions}")
        if not 0.0 <= self.candidate_threshold <= self.threshold:
            raise ValueError(f"regions.candidate_threshold must be in [0, regions.threshold], "
                             f"got {self.candidate_threshold}")


def smooth_heatmap(heatmap: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-smoothed copy, clipped to [0, 1]."""
    import cv2

    heatmap = np.asarray(heatmap, dtype=np.float32)
    if sigma > 0:
        heatmap = cv2.GaussianBlur(heatmap, (0, 0), sigmaX=float(sigma), borderType=cv2.BORDER_REPLICATE)
    return np.clip(heatmap, 0.0, 1.0)


def frame_score(smoothed: np.ndarray) -> float:
    return float(smoothed.max()) if smoothed.size else 0.0


def _to_source(lo: int, hi: int, cells: int, pixels: int) -> tuple[int, int]:
    """Inclusive heatmap range -> (first pixel, pixel count) it covers in the source image."""
    scale = pixels / cells
    first = int(math.floor(lo * scale))
    last = min(pixels - 1, int(math.ceil((hi + 1) * scale)) - 1)
    return first, last - first + 1


def extract_regions(
    smoothed: np.ndarray, source_size: tuple[int, int], cfg: RegionConfig = RegionConfig()
) -> list[Region]:
    """Regions of one (already smoothed) heatmap, strongest first; boxes in source pixels.

    source_size: (height, width) of the source image.
    """
    import cv2

    h, w = smoothed.shape
    src_h, src_w = source_size
    mask = (smoothed >= cfg.threshold).astype(np.uint8)
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return []
    gap = int(round(cfg.merge_fraction * math.hypot(h, w)))
    grouping = cv2.dilate(mask, np.ones((gap + 1, gap + 1), np.uint8)) if gap > 0 else mask
    count, labels = cv2.connectedComponents(grouping, connectivity=8)
    pixel_labels = labels[ys, xs]  # component of each anomalous pixel (dilation only groups them)
    values = smoothed[ys, xs].astype(np.float64)
    areas = np.bincount(pixel_labels, minlength=count)
    sums = np.bincount(pixel_labels, weights=values, minlength=count)
    peaks = np.zeros(count)
    np.maximum.at(peaks, pixel_labels, values)
    x0 = np.full(count, w)
    y0 = np.full(count, h)
    x1 = np.full(count, -1)
    y1 = np.full(count, -1)
    np.minimum.at(x0, pixel_labels, xs)
    np.minimum.at(y0, pixel_labels, ys)
    np.maximum.at(x1, pixel_labels, xs)
    np.maximum.at(y1, pixel_labels, ys)
    min_area = max(1, int(math.ceil(cfg.min_area_fraction * h * w)))
    regions = []
    for label in np.flatnonzero(areas >= min_area):
        sx, sw = _to_source(int(x0[label]), int(x1[label]), w, src_w)
        sy, sh = _to_source(int(y0[label]), int(y1[label]), h, src_h)
        regions.append(Region(
            box=Box(sx, sy, sw, sh),
            peak_score=float(peaks[label]),
            mean_score=float(sums[label] / areas[label]),
            area_fraction=float(areas[label] / (h * w)),
            label=cfg.label,
        ))
    regions.sort(key=lambda r: (-r.peak_score, r.box.y, r.box.x))
    return regions[: cfg.max_regions]


@dataclass
class FrameRegions:
    """One frame's analysis: its score, its anomalous regions (>= threshold) and, when the
    config asks for them, every candidate region down to ``candidate_threshold``; ``objects``:
    the box of every object an object-level engine scored, whatever its score (detection recall)."""

    score: float
    regions: list[Region] = field(default_factory=list)
    candidates: list[Region] = field(default_factory=list)
    objects: list[Box] = field(default_factory=list)


def _rescaled(region: Region, from_hw: tuple[int, int], to_hw: tuple[int, int]) -> Region:
    if from_hw == to_hw:
        return replace(region)
    (fh, fw), (th, tw) = from_hw, to_hw
    b = region.box
    x, width = _to_source(b.x, b.x_max, fw, tw)
    y, height = _to_source(b.y, b.y_max, fh, th)
    return replace(region, box=Box(x, y, width, height))


def analyse_frame(heatmap: np.ndarray, source_size: tuple[int, int], cfg: RegionConfig = RegionConfig(),
                  engine_regions: list[Region] | None = None) -> FrameRegions:
    """Score and regions of one frame's heatmap ((h, w), engine resolution), boxes in source pixels.

    >>> hm = np.zeros((40, 60), np.float32); hm[10:20, 30:45] = 0.9
    >>> analyse_frame(hm, (80, 120), RegionConfig(smoothing_sigma=0.0)).regions[0].box.as_list()
    [60, 20, 30, 20]
    >>> scored = [Region(Box(30, 10, 15, 10), 0.9, 0.9, 0.06, "fast"), Region(Box(0, 0, 5, 5), 0.3, 0.3, 0.01)]
    >>> out = analyse_frame(hm, (80, 120), RegionConfig(candidate_threshold=0.2), engine_regions=scored)
    >>> round(out.score, 2), [r.label for r in out.regions], len(out.candidates), len(out.objects)
    (0.9, ['fast'], 2, 2)
    """
    if engine_regions is not None:
        shape = heatmap.shape[:2]
        ranked = sorted((_rescaled(r, shape, source_size) for r in engine_regions), key=lambda r: -r.peak_score)
        score = ranked[0].peak_score if ranked else 0.0
        regions = [r for r in ranked if r.peak_score >= cfg.threshold][: cfg.max_regions]
        candidates = [r for r in ranked if r.peak_score >= cfg.candidate_threshold] if cfg.candidate_threshold else []
        return FrameRegions(float(score), regions, candidates, [r.box for r in ranked])
    smoothed = smooth_heatmap(heatmap, cfg.smoothing_sigma)
    regions = extract_regions(smoothed, source_size, cfg)
    candidates = []
    if cfg.candidate_threshold:
        candidates = extract_regions(smoothed, source_size, replace(cfg, threshold=cfg.candidate_threshold))
    return FrameRegions(frame_score(smoothed), regions, candidates)
