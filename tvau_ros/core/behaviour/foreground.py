"""Class-agnostic object proposals: a background model and its foreground blobs.

Works on any fixed camera with no training. The background starts as the per-pixel median of
the first ``warmup_frames`` (people walking through do not stay in it as ghosts), then follows
the frames as a running average, compensated for global lighting changes; pixels of objects
being followed (``protect``) learn ``foreground_slowdown`` times slower, so a person who stops
is not absorbed within seconds. A pixel is foreground when its largest colour difference to the
background exceeds ``k_noise`` times the frame's noise level (median absolute difference) and
``min_diff`` grey levels. Connected components of the cleaned mask are the blobs; each keeps
its pixel mask (the heatmap is painted on it).

>>> import numpy as np
>>> model = BackgroundModel(ForegroundConfig(warmup_frames=4))
>>> grass = np.full((60, 80, 3), 90, np.uint8)
>>> _ = [model.apply(grass) for _ in range(5)]
>>> frame = grass.copy(); frame[20:40, 30:36] = 200          # a 6x20 "person"
>>> blobs, dropped = find_blobs(model.apply(frame), min_area=20)
>>> [b.box for b in blobs], dropped
([(30, 20, 6, 20)], 0)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def box_centre(box: Sequence[float]) -> tuple[float, float]:
    """Centre of an ``(x, y, w, h)`` box."""
    x, y, w, h = box
    return x + w / 2.0, y + h / 2.0


def box_foot(box: Sequence[float]) -> tuple[float, float]:
    """Bottom centre (where the object stands) of an ``(x, y, w, h)`` box."""
    x, y, w, h = box
    return x + w / 2.0, float(y + h)


@dataclass(frozen=True)
class ForegroundConfig:
    min_diff: float = 18.0      # grey levels a pixel must differ from the background, at least
    k_noise: float = 4.0        # ... and this many times the frame's noise level
    warmup_frames: int = 24     # the background starts as the median of these first frames
    learning_rate: float = 0.02  # afterwards, per frame (about 3 s to absorb a change at 15 fps)
    foreground_slowdown: float = 20.0  # pixels of followed objects learn this many times slower


class BackgroundModel:
    """Median-initialised running-average background with lighting compensation."""

    def __init__(self, cfg: ForegroundConfig = ForegroundConfig()):
        self.cfg = cfg
        self.background: np.ndarray | None = None
        self._warmup: list[np.ndarray] = []

    def reset(self) -> None:
        self.background, self._warmup = None, []

    @property
    def ready(self) -> bool:
        """Past the warm-up: blobs mean objects."""
        return self.background is not None and not self._warmup

    def apply(self, frame: np.ndarray, protect: np.ndarray | None = None) -> np.ndarray:
        """(h, w, 3) uint8 -> foreground mask (h, w) uint8 {0, 1}; updates the background.
        ``protect``: (h, w) mask of pixels that learn slowly (objects being followed)."""
        image = frame.astype(np.float32)
        if self.background is None or self.background.shape != image.shape:
            self.background, self._warmup = image.copy(), [frame]
        elif self._warmup:
            self._warmup.append(frame)
            if len(self._warmup) >= self.cfg.warmup_frames:
                self.background = np.median(np.stack(self._warmup), axis=0).astype(np.float32)
                self._warmup = []
            else:
                self.background += (image - self.background) / len(self._warmup)
        gain = (image.mean() + 1.0) / (self.background.mean() + 1.0)
        diff = np.abs(image - gain * self.background).max(axis=2)
        noise = 1.4826 * float(np.median(diff))
        mask = (diff > max(self.cfg.min_diff, self.cfg.k_noise * noise)).astype(np.uint8)
        if not self._warmup:
            rate = self.cfg.learning_rate
            weights = np.full(mask.shape, rate, np.float32)
            if protect is not None:
                weights[protect > 0] = rate / self.cfg.foreground_slowdown
            self.background += weights[:, :, None] * (image / gain - self.background)
        return mask

    def image(self) -> np.ndarray | None:
        """The current background as uint8 (h, w, 3), or None before the first frame."""
        return None if self.background is None else np.clip(self.background, 0, 255).astype(np.uint8)


@dataclass
class Blob:
    """One foreground component: box (x, y, w, h) and its mask inside the box. ``continues_only``:
    seen by the person detector alone, it may continue a track but starts none."""

    box: tuple[int, int, int, int]
    mask: np.ndarray
    area: int
    continues_only: bool = False

    @property
    def centre(self) -> tuple[float, float]:
        return box_centre(self.box)

    @property
    def foot(self) -> tuple[float, float]:
        return box_foot(self.box)


def clean_mask(mask: np.ndarray) -> np.ndarray:
    """Remove speckle (3x3 median) and close small gaps inside a person (closing)."""
    import cv2

    despeckled = cv2.medianBlur(mask, 3)
    return cv2.morphologyEx(despeckled, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))


def find_blobs(mask: np.ndarray, min_area: int = 12, max_blobs: int = 64) -> tuple[list[Blob], int]:
    """Blobs of a foreground mask (cleaned first), largest first, at most ``max_blobs``; and how
    many more there were (dropped: the cost per frame stays bounded)."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(clean_mask(mask), connectivity=8)
    order = [i for i in np.argsort(-stats[1:, 4]) + 1 if stats[i, 4] >= min_area]
    blobs = []
    for i in order[:max_blobs]:
        x, y, w, h, area = (int(v) for v in stats[i])
        blobs.append(Blob((x, y, w, h), (labels[y:y + h, x:x + w] == i), area))
    return blobs, max(0, len(order) - max_blobs)
