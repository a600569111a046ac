"""Classical motion engine: moving blobs scored by speed and size (a real ``HeatmapEngine``).

Per clip (T >= 2 frames), at a small analysis resolution (long side ``work_side``):

1. grey frames, lightly blurred; background = per-pixel median of the clip;
2. foreground of frame t = pixels differing from the background by more than
   ``diff_threshold`` grey levels, closed and cleaned; blobs = 8-connected components of at
   least ``min_blob_fraction`` of the frame;
3. dense optical flow (Farneback) between consecutive frames; a blob's speed is the median
   flow magnitude over its pixels in frame heights per frame (so it does not depend on the
   resolution; it does on the frame rate: tune ``speed_ref`` for very slow or fast cameras);
4. blob score = sigmoid((speed - speed_ref) / speed_scale), raised for very large blobs
   (``large_fraction``: vehicles, crowds), damped for small ones (``size_ref``);
5. the heatmap of frame t holds each blob's score on its pixels, slightly blurred, resized to
   the input resolution.

Stateless: the same clip always gives the same heatmaps (so the node and ``tvau run`` agree);
flows of frame pairs seen in the previous clip are reused from a small cache (overlapping
clips), which changes nothing but the cost.
The evaluation uses it as the non-learned baseline of the AHD.

>>> import numpy as np
>>> clip = np.full((4, 60, 80, 3), 120, np.uint8)
>>> for t in range(4): clip[t, 20:40, 5 + 12 * t: 15 + 12 * t] = 250   # a fast block
>>> result = MotionBaselineEngine(MotionBaselineConfig(clip_length=4, work_side=80)).infer(clip)
>>> result.heatmap.shape, bool(result.heatmap[3, 30, 45] > 0.5), float(result.heatmap[3, 5, 75])
((4, 60, 80), True, 0.0)
"""
from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from tvau_ros.core.config_values import typed_section
from tvau_ros.core.engine import HeatmapResult


@dataclass(frozen=True)
class MotionBaselineConfig:
    clip_length: int = 4
    work_side: int = 160            # analysis resolution (long side, pixels)
    diff_threshold: float = 20.0    # grey levels between a frame and the clip median
    min_blob_fraction: float = 0.002
    speed_ref: float = 0.016        # frame heights per frame that score 0.5
    speed_scale: float = 0.003
    size_ref: float = 0.004         # blobs smaller than this fraction of the frame are damped
    large_fraction: float = 0.25    # blobs larger than this fraction score high whatever their speed
    blur_sigma: float = 1.0         # smoothing of the output heatmap, analysis pixels

    def __post_init__(self):
        if self.clip_length < 2:
            raise ValueError(f"motion_baseline.clip_length must be >= 2 (it compares frames), got {self.clip_length}")
        if self.work_side < 16:
            raise ValueError(f"motion_baseline.work_side must be >= 16, got {self.work_side}")
        for name in ("speed_scale", "speed_ref", "size_ref"):
            if getattr(self, name) <= 0:
                raise ValueError(f"motion_baseline.{name} must be > 0, got {getattr(self, name)}")

    @classmethod
    def from_dict(cls, values: dict | None) -> MotionBaselineConfig:
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown motion_baseline option(s) {unknown}; known: {sorted(known)}")
        return cls(**typed_section(cls, values, "motion_baseline"))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


class MotionBaselineEngine:
    """``HeatmapEngine`` from background differencing + optical flow (see module docstring)."""

    def __init__(self, cfg: MotionBaselineConfig = MotionBaselineConfig()):
        self.cfg = cfg
        self.clip_length = cfg.clip_length
        self.model_id = "motion_baseline@1"
        self._flows: OrderedDict[bytes, np.ndarray] = OrderedDict()  # pair digest -> flow magnitude

    def _flow_magnitude(self, prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
        import cv2

        key = hashlib.blake2b(prev.tobytes() + cur.tobytes(), digest_size=16).digest()
        magnitude = self._flows.get(key)
        if magnitude is None:
            flow = cv2.calcOpticalFlowFarneback(prev, cur, None, 0.5, 3, 9, 3, 5, 1.1, 0)
            magnitude = np.hypot(flow[..., 0], flow[..., 1])
            self._flows[key] = magnitude
            while len(self._flows) > 2 * self.clip_length:
                self._flows.popitem(last=False)
        return magnitude

    def _grey(self, clip: np.ndarray) -> np.ndarray:
        import cv2

        h, w = clip.shape[1:3]
        scale = min(1.0, self.cfg.work_side / max(h, w))
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        out = np.empty((clip.shape[0], size[1], size[0]), np.uint8)
        for t, frame in enumerate(clip):
            grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA) if size != (w, h) else grey
            out[t] = cv2.GaussianBlur(grey, (3, 3), 0)
        return out

    def _blob_scores(self, mask: np.ndarray, flow_mag: np.ndarray) -> np.ndarray:
        """Score map of one frame's foreground mask."""
        import cv2

        cfg = self.cfg
        h, w = mask.shape
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        scores = np.zeros(count, np.float32)
        min_area = max(4, int(cfg.min_blob_fraction * h * w))
        for label in range(1, count):
            area = int(stats[label, cv2.CC_STAT_AREA])
            if area < min_area:
                continue
            speed = float(np.median(flow_mag[labels == label])) / h
            score = _sigmoid((speed - cfg.speed_ref) / cfg.speed_scale)
            fraction = area / (h * w)
            if fraction >= cfg.large_fraction:
                score = max(score, 0.9)
            scores[label] = score * min(1.0, fraction / cfg.size_ref)
        return scores[labels]

    def infer(self, clip: np.ndarray, stamps_ns: Sequence[int] | None = None) -> HeatmapResult:
        import cv2

        clip = np.asarray(clip)
        if clip.ndim != 4 or clip.shape[-1] != 3 or clip.dtype != np.uint8:
            raise ValueError(f"motion baseline needs a (T, H, W, 3) uint8 clip, got {clip.shape} {clip.dtype}")
        if clip.shape[0] < 2 or clip.shape[1] == 0 or clip.shape[2] == 0:
            raise ValueError(f"motion baseline needs >= 2 non-empty frames, got clip shape {clip.shape}")
        t_len, h, w = clip.shape[:3]
        grey = self._grey(clip)
        background = np.median(grey, axis=0).astype(np.int16)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        heatmaps = np.empty((t_len, h, w), np.float32)
        for t in range(t_len):
            diff = np.abs(grey[t].astype(np.int16) - background)
            mask = (diff > self.cfg.diff_threshold).astype(np.uint8)
            mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel, iterations=2)
            mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
            # frame 0 reuses the 0 -> 1 flow (its magnitude field), the pair the next clip caches
            prev, cur = (grey[t - 1], grey[t]) if t > 0 else (grey[0], grey[1])
            score_map = self._blob_scores(mask, self._flow_magnitude(prev, cur))
            if self.cfg.blur_sigma > 0:
                score_map = cv2.GaussianBlur(score_map, (0, 0), self.cfg.blur_sigma)
            heatmaps[t] = cv2.resize(score_map, (w, h), interpolation=cv2.INTER_LINEAR)
        np.clip(heatmaps, 0.0, 1.0, out=heatmaps)
        return HeatmapResult(heatmap=heatmaps)
