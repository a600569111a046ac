"""Naming colours from pixels against the fixed palette of basic colour names.

Each palette name owns a few sRGB prototypes (light, mid and dark shades). A pixel takes the
name of its nearest prototype in CIE Lab (Euclidean distance, i.e. Delta-E 1976), and a region
takes the name most of its pixels vote for; the vote share is the confidence.

>>> import numpy as np
>>> dominant_color(np.array([[200, 30, 30]] * 9 + [[0, 0, 255]], dtype=np.uint8))
('red', 0.9)
"""
from __future__ import annotations

import cv2
import numpy as np

PALETTE: tuple[str, ...] = (
    "black", "white", "gray", "red", "orange", "yellow",
    "green", "blue", "purple", "pink", "brown",
)

# Shades chosen to cover what shading and video compression do to a flat colour.
_PROTOTYPES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "black": ((0, 0, 0), (30, 30, 30), (45, 40, 40)),
    "white": ((255, 255, 255), (235, 235, 235), (215, 220, 225)),
    "gray": ((128, 128, 128), (90, 90, 90), (165, 165, 165), (192, 192, 192), (110, 115, 120)),
    "red": ((255, 0, 0), (210, 30, 30), (160, 20, 20), (225, 70, 70), (120, 10, 15)),
    "orange": ((255, 140, 0), (255, 165, 0), (235, 120, 40), (250, 180, 90)),
    "yellow": ((255, 255, 0), (235, 215, 40), (245, 235, 130), (200, 180, 20)),
    "green": ((0, 128, 0), (0, 200, 0), (60, 170, 60), (30, 90, 30), (130, 210, 130), (0, 255, 0)),
    "blue": ((0, 0, 255), (30, 70, 210), (0, 0, 128), (100, 150, 230), (70, 130, 180), (20, 30, 90),
             (25, 25, 112), (0, 190, 230)),
    "purple": ((128, 0, 128), (125, 60, 185), (160, 90, 210), (75, 0, 130), (180, 60, 180),
               (70, 25, 95), (100, 40, 125)),
    "pink": ((255, 192, 203), (255, 105, 180), (240, 140, 175), (220, 90, 150)),
    "brown": ((139, 69, 19), (120, 80, 40), (150, 100, 60), (101, 67, 33), (85, 50, 25)),
}


def _to_lab(rgb: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 sRGB -> (N, 3) float32 CIE Lab (L in 0..100)."""
    rgb01 = (np.asarray(rgb, dtype=np.float32) / 255.0).reshape(-1, 1, 3)
    return cv2.cvtColor(rgb01, cv2.COLOR_RGB2Lab).reshape(-1, 3)


_PROTO_NAMES = np.array([PALETTE.index(n) for n, ps in _PROTOTYPES.items() for _ in ps])
_PROTO_LAB = _to_lab(np.array([p for ps in _PROTOTYPES.values() for p in ps], dtype=np.uint8))


def _nearest_names(rgb: np.ndarray) -> np.ndarray:
    lab = _to_lab(rgb)
    dist = ((lab[:, None, :] - _PROTO_LAB[None, :, :]) ** 2).sum(axis=2)
    return _PROTO_NAMES[np.argmin(dist, axis=1)]


_LUT_BITS = 5  # 32 levels per channel: quantisation error <= 4/255, far below palette gaps
_lut: np.ndarray | None = None


def _name_lut() -> np.ndarray:
    global _lut
    if _lut is None:
        levels = (np.arange(1 << _LUT_BITS) << (8 - _LUT_BITS)) + (1 << (7 - _LUT_BITS))
        grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1)
        _lut = _nearest_names(grid.reshape(-1, 3).astype(np.uint8)).astype(np.uint8)
    return _lut


def name_pixels(rgb: np.ndarray) -> np.ndarray:
    """Palette index (into ``PALETTE``) of each pixel of an (N, 3) uint8 RGB array."""
    q = (np.asarray(rgb, dtype=np.uint8).reshape(-1, 3) >> (8 - _LUT_BITS)).astype(np.int64)
    return _name_lut()[(q[:, 0] << (2 * _LUT_BITS)) | (q[:, 1] << _LUT_BITS) | q[:, 2]]


def color_votes(rgb: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """(Weighted) vote count per palette name, shape (len(PALETTE),)."""
    return np.bincount(name_pixels(rgb), weights=weights, minlength=len(PALETTE)).astype(np.float64)


def lab_distance(rgb_a: np.ndarray, rgb_b: np.ndarray) -> np.ndarray:
    """Delta-E 1976 between paired (N, 3) uint8 RGB pixels."""
    return np.linalg.norm(_to_lab(rgb_a) - _to_lab(rgb_b), axis=1)


def dominant_color(rgb: np.ndarray) -> tuple[str | None, float]:
    """(name, vote share) of an (N, 3) uint8 RGB pixel set; (None, 0.0) when it is empty."""
    votes = color_votes(rgb)
    total = int(votes.sum())
    if total == 0:
        return None, 0.0
    best = int(np.argmax(votes))
    return PALETTE[best], float(votes[best]) / total


def name_color(rgb: tuple[int, int, int]) -> str:
    """Palette name of one RGB triple.

    >>> name_color((255, 165, 0)), name_color((139, 69, 19)), name_color((128, 128, 128))
    ('orange', 'brown', 'gray')
    """
    return PALETTE[int(name_pixels(np.array([rgb], dtype=np.uint8))[0])]
