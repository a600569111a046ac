"""Pasting a layer into a real frame with a feathered edge, and its exact ground truth.

A :class:`Layer` is an object's colour and coverage (0..1) in a box of the frame. The
paste blurs coverage and premultiplied colour by the same small Gaussian (a feathered
edge), removes what a real person standing in front hides, and blends. The ground-truth
mask is exactly the pixels where the pasted object makes up at least half of the result
(blended coverage >= 0.5); outside it the frame changes only in the feather's rim, at
most ``RIM_PX`` pixels away, and a layer with no such pixel is not pasted at all.

>>> import numpy as np
>>> frame = np.full((20, 20, 3), 100, np.uint8)
>>> cover = np.zeros((6, 4), np.float32); cover[1:5, 1:3] = 1
>>> layer = Layer(8, 8, np.full((6, 4, 3), 200, np.float32), cover)
>>> gt = paste(frame, layer)
>>> int(gt.sum()), int(frame[10, 10, 0]) > 150, int(frame[2, 2, 0])
(8, True, 100)
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FEATHER_SIGMA = 0.7
RIM_PX = 2
_PAD = 3
_RIM = np.ones((2 * RIM_PX + 1, 2 * RIM_PX + 1), np.uint8)


@dataclass
class Layer:
    """Colour (h, w, 3) float BGR and coverage (h, w) float in [0, 1] at (x0, y0)."""

    x0: int
    y0: int
    color: np.ndarray
    cover: np.ndarray

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.x0, self.y0, self.x0 + self.cover.shape[1], self.y0 + self.cover.shape[0]


def paste(frame: np.ndarray, layer: Layer, hidden: np.ndarray | None = None) -> np.ndarray:
    """Blend ``layer`` into ``frame`` (BGR uint8, in place) and return the boolean (H, W)
    ground-truth mask of the pasted object. ``hidden`` (H, W bool): pixels of real objects
    in front of the layer, which stay as they are."""
    height, width = frame.shape[:2]
    gt = np.zeros((height, width), bool)
    x0, y0, x1, y1 = layer.box
    # work in a padded window clipped to the frame, so the feather can spread outward
    wx0, wy0 = max(0, x0 - _PAD), max(0, y0 - _PAD)
    wx1, wy1 = min(width, x1 + _PAD), min(height, y1 + _PAD)
    if wx1 <= wx0 or wy1 <= wy0:
        return gt
    cover = np.zeros((wy1 - wy0, wx1 - wx0), np.float32)
    color = np.zeros(cover.shape + (3,), np.float32)
    sx0, sy0 = max(x0, 0) - x0, max(y0, 0) - y0
    sx1, sy1 = min(x1, width) - x0, min(y1, height) - y0
    if sx1 <= sx0 or sy1 <= sy0:
        return gt
    dst = (slice(sy0 + y0 - wy0, sy1 + y0 - wy0), slice(sx0 + x0 - wx0, sx1 + x0 - wx0))
    cover[dst] = layer.cover[sy0:sy1, sx0:sx1]
    color[dst] = layer.color[sy0:sy1, sx0:sx1] * cover[dst][..., None]
    alpha = cv2.GaussianBlur(cover, (0, 0), FEATHER_SIGMA)
    premult = cv2.GaussianBlur(color, (0, 0), FEATHER_SIGMA)
    if hidden is not None:
        keep = ~hidden[wy0:wy1, wx0:wx1]
        alpha, premult = alpha * keep, premult * keep[..., None]
    core = alpha >= 0.5
    if not core.any():
        return gt  # nothing would show as the object (a sliver at the border): leave the frame alone
    rim = cv2.dilate(core.astype(np.uint8), _RIM) > 0   # faint specks far from the object are dropped
    alpha, premult = alpha * rim, premult * rim[..., None]
    gt[wy0:wy1, wx0:wx1] = core
    roi = frame[wy0:wy1, wx0:wx1]
    blended = roi.astype(np.float32) * (1.0 - alpha[..., None]) + premult
    roi[:] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return gt


def warp_layer(pixels: np.ndarray, mask: np.ndarray, anchor: tuple[float, float],
               target: tuple[float, float], scale: float, angle_deg: float = 0.0,
               mirror: bool = False, squash: float = 1.0) -> Layer:
    """A cut-out (pixels + bool mask) moved so its ``anchor`` (crop coordinates) lands on
    ``target`` (frame coordinates): scaled, mirrored, turned by ``angle_deg`` about the
    anchor (positive = clockwise on screen) and flattened vertically by ``squash``.
    Sub-pixel positions are kept (bilinear resampling)."""
    ax, ay = anchor
    sx = -scale if mirror else scale
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    lin = np.diag([1.0, squash]) @ rot @ np.diag([sx, scale])
    h, w = mask.shape
    corners = (np.array([[0, 0], [w, 0], [0, h], [w, h]], float) - (ax, ay)) @ lin.T + target
    x0, y0 = np.floor(corners.min(0)).astype(int) - 1
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 1
    affine = np.hstack([lin, (np.asarray(target) - (x0, y0) - lin @ (ax, ay))[:, None]])
    size = (int(x1 - x0), int(y1 - y0))
    color = cv2.warpAffine(pixels.astype(np.float32), affine, size, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    cover = cv2.warpAffine(mask.astype(np.float32), affine, size, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return Layer(int(x0), int(y0), color, np.clip(cover, 0.0, 1.0))


@dataclass
class FrameOp:
    """What to paste in one clip frame: the layer, the row of its ground contact (for
    occlusion by real people in front), whether the anomaly is happening then, and an
    optional soft ground shadow (outside the ground truth: a shadow is not the object)."""

    layer: Layer
    foot_v: float
    happening: bool
    shadow: Layer | None = None   # cover = how much the ground under the object darkens


@dataclass
class Composite:
    """One composited anomaly over a clip: a frame op (or None) per clip frame, and the
    facts that go into the clip's meta JSON."""

    kind: str
    ops: list[FrameOp | None]
    meta: dict


def darken(frame: np.ndarray, shadow: Layer, hidden: np.ndarray | None = None) -> None:
    """Darken ``frame`` in place by ``shadow.cover`` (0 = unchanged, 1 = black)."""
    height, width = frame.shape[:2]
    x0, y0, x1, y1 = shadow.box
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    cover = shadow.cover[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0]
    if hidden is not None:
        cover = cover * ~hidden[cy0:cy1, cx0:cx1]
    roi = frame[cy0:cy1, cx0:cx1]
    roi[:] = np.clip(np.rint(roi * (1.0 - cover[..., None])), 0, 255).astype(np.uint8)
