"""Background model and foreground blobs of a fixed camera.

The background is the per-pixel median of the usable frames; foreground pixels differ
from it strongly (seeds) or moderately while touching a seed (hysteresis), so grey
trousers on grey pavement stay attached to their person. Blobs are the connected
components after a small opening (the wind-blown barrier tape is thin) and hole filling.

>>> import numpy as np
>>> bg = np.full((40, 30, 3), 100, np.uint8)
>>> frame = bg.copy(); frame[10:30, 12:18] = 200
>>> [(b.x0, b.y0, b.x1, b.y1, b.area) for b in find_blobs(frame, bg, min_area=20)]  # corners opened
[(12, 10, 18, 30, 116)]
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np
from scipy import ndimage

SEED_DIFF = 45
GROW_DIFF = 22
_OPEN = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))


@dataclass
class Blob:
    """A foreground component: box (x1, y1 exclusive), its mask inside the box, area."""

    x0: int
    y0: int
    x1: int
    y1: int
    mask: np.ndarray
    area: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @cached_property
    def foot(self) -> tuple[float, float]:
        """Bottom centre (u, v): where the object stands on the ground."""
        cols = np.flatnonzero(self.mask[-max(1, self.height // 8):].any(0))
        u = self.x0 + (cols.mean() if len(cols) else self.width / 2)
        return float(u), float(self.y1)

    def touches_border(self, width: int, height: int, margin: int = 2) -> bool:
        return (self.x0 < margin or self.y0 < margin or self.x1 > width - margin
                or self.y1 > height - margin)


def median_background(frames: np.ndarray) -> np.ndarray:
    """Per-pixel median of (N, H, W, 3) frames, uint8."""
    return np.median(frames, axis=0).astype(np.uint8)


def foreground_mask(frame: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Boolean (H, W) foreground: hysteresis on the largest channel difference."""
    diff = cv2.absdiff(frame, background).max(axis=2)
    weak = cv2.morphologyEx((diff > GROW_DIFF).astype(np.uint8), cv2.MORPH_OPEN, _OPEN)
    seeds = diff > SEED_DIFF
    count, labels = cv2.connectedComponents(weak, connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(labels[seeds & (weak > 0)])] = True
    keep[0] = False
    return keep[labels]


def find_blobs(frame: np.ndarray, background: np.ndarray, min_area: int = 60) -> list[Blob]:
    """Foreground components of at least ``min_area`` pixels, holes filled."""
    fg = foreground_mask(frame, background).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    blobs = []
    for j in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[j])
        if area < min_area:
            continue
        mask = ndimage.binary_fill_holes(labels[y:y + h, x:x + w] == j)
        blobs.append(Blob(x, y, x + w, y + h, mask, int(mask.sum())))
    return blobs
