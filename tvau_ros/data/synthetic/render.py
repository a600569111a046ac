"""Drawing figures through the camera, and per-frame camera effects.

Colour is drawn anti-aliased with sub-pixel precision; the object-id label image gets the
same shapes without anti-aliasing, so a target's mask is exactly its drawn pixels.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from tvau_ros.data.synthetic.camera import Camera
from tvau_ros.data.synthetic.figures import Figure

SHIFT = 4
ONE = 1 << SHIFT
_LIMIT = 1e5


@dataclass
class Projected:
    """A figure projected once per frame: pixel points, scales and bounding box."""

    fig: Figure
    uv: np.ndarray          # (N, 2) int32 fixed-point (SHIFT bits)
    scale: np.ndarray       # (N,) pixels per metre
    bbox: tuple             # x0, y0, x1, y1 (pixels)
    depth: float


def project_figure(cam: Camera, fig: Figure, depth: float | None = None) -> Projected | None:
    """None when the figure is behind or too close to the camera."""
    pts = fig.points()
    if not len(pts):
        return None
    uv, d = cam.project(pts)
    if d.min() < 0.4:
        return None
    scale = cam.focal / d
    pad = 0.0
    for kind, idx, size, _ in fig.prims:
        if kind in ("seg", "disc", "loop"):
            pad = max(pad, size * scale[idx[0]])
    x0, y0 = uv.min(0) - pad - 1
    x1, y1 = uv.max(0) + pad + 1
    fixed = np.round(np.clip(uv, -_LIMIT, _LIMIT) * ONE).astype(np.int32)
    return Projected(fig, fixed, scale, (x0, y0, x1, y1),
                     float(np.median(d)) if depth is None else depth)


def on_screen(p: Projected, width: int, height: int) -> bool:
    x0, y0, x1, y1 = p.bbox
    return x1 >= 0 and y1 >= 0 and x0 < width and y0 < height


def draw_projected(img: np.ndarray | None, label: np.ndarray | None, p: Projected, obj_id: int = 0) -> None:
    """Draw into ``img`` (BGR) and/or write ``obj_id`` into ``label`` (either may be None)."""
    uv = p.uv
    pts = uv.tolist()
    scale = p.scale.tolist()
    for kind, idx, size, color in p.fig.prims:
        if kind == "seg":
            a, b = pts[idx[0]], pts[idx[1]]
            t = max(1, int(size * scale[idx[0]] + 0.5))
            if img is not None:
                cv2.line(img, a, b, color, t, cv2.LINE_AA, SHIFT)
            if label is not None:
                cv2.line(label, a, b, obj_id, t, cv2.LINE_8, SHIFT)
        elif kind == "disc":
            c = pts[idx[0]]
            r = max(ONE // 2, int(size * scale[idx[0]] * ONE))
            if img is not None:
                cv2.circle(img, c, r, color, -1, cv2.LINE_AA, SHIFT)
            if label is not None:
                cv2.circle(label, c, r, obj_id, -1, cv2.LINE_8, SHIFT)
        elif kind in ("hull", "poly"):
            poly = uv[list(idx)]
            if kind == "hull":
                poly = cv2.convexHull(poly)
            poly = poly.reshape(-1, 1, 2)
            if img is not None:
                cv2.fillPoly(img, [poly], color, cv2.LINE_AA, SHIFT)
            if label is not None:
                cv2.fillPoly(label, [poly], obj_id, cv2.LINE_8, SHIFT)
        elif kind == "loop":
            poly = uv[list(idx)].reshape(-1, 1, 2)
            t = max(1, int(size * scale[idx[0]] + 0.5))
            if img is not None:
                cv2.polylines(img, [poly], True, color, t, cv2.LINE_AA, SHIFT)
            if label is not None:
                cv2.polylines(label, [poly], True, obj_id, t, cv2.LINE_8, SHIFT)
        elif kind == "shadow":
            ring = uv[list(idx)]
            if img is not None and ring[:, 0].max() - ring[:, 0].min() >= 3 * ONE:  # skip shadows of tiny far figures
                _shadow(img, ring, size)


def _shadow(img: np.ndarray, pts: np.ndarray, alpha: float) -> None:
    h, w = img.shape[:2]
    x0, y0 = np.maximum(pts.min(0) // ONE - 1, 0)
    x1, y1 = np.minimum(pts.max(0) // ONE + 2, (w, h))
    if x1 <= x0 or y1 <= y0:
        return
    roi = img[y0:y1, x0:x1]
    mask = np.zeros(roi.shape[:2], np.uint8)
    local = pts - np.array([x0, y0]) * ONE
    cv2.fillConvexPoly(mask, cv2.convexHull(local.astype(np.int32)), 1, cv2.LINE_8, SHIFT)
    sel = mask.astype(bool)
    roi[sel] = (roi[sel] * (1.0 - alpha)).astype(np.uint8)


@dataclass
class Sprite:
    """A pre-rendered static prop: pixels and mask in a bounding box, plus its depth."""

    x0: int
    y0: int
    pixels: np.ndarray
    mask: np.ndarray
    depth: float

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        return (self.x0, self.y0, self.x0 + self.mask.shape[1], self.y0 + self.mask.shape[0])

    def paste(self, img: np.ndarray, label: np.ndarray | None = None) -> None:
        y1, x1 = self.y0 + self.mask.shape[0], self.x0 + self.mask.shape[1]
        np.copyto(img[self.y0:y1, self.x0:x1], self.pixels, where=self.mask[..., None])
        if label is not None:
            label[self.y0:y1, self.x0:x1][self.mask] = 0


def make_sprite(cam: Camera, fig: Figure, depth: float, img: np.ndarray,
                max_area: float = 1.0) -> Sprite | None:
    """Draw ``fig`` onto ``img`` (the background so far) and return its cut-out pixels.

    The sprite keeps the labelled pixels plus their anti-aliased rim, not the figure's
    ground shadow, so re-pasting it over an actor behind it never pastes ground.
    """
    height, width = img.shape[:2]
    p = project_figure(cam, fig, depth)
    if p is None or not on_screen(p, width, height):
        return None
    if (p.bbox[2] - p.bbox[0]) * (p.bbox[3] - p.bbox[1]) > max_area * width * height:
        return None  # a prop this close would hide most of the view
    x0, y0 = max(0, int(p.bbox[0])), max(0, int(p.bbox[1]))
    x1, y1 = min(width, int(np.ceil(p.bbox[2])) + 1), min(height, int(np.ceil(p.bbox[3])) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    under = img[y0:y1, x0:x1].copy()
    label = np.zeros((height, width), np.uint8)
    draw_projected(img, label, p, 1)
    core = label[y0:y1, x0:x1]
    if not core.any():
        return None
    rim = cv2.dilate(core, np.ones((3, 3), np.uint8)) > 0
    mask = (core > 0) | (rim & np.any(img[y0:y1, x0:x1] != under, axis=2))
    return Sprite(x0, y0, img[y0:y1, x0:x1].copy(), mask, depth)


def overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@dataclass
class FrameEffects:
    """Per-video camera look: lighting over time, fog, blur, sensor noise, JPEG artefacts."""

    gain: float
    channel_gain: tuple
    gamma: float
    drift_amp: float
    drift_period: float
    cloud_frames: tuple       # (start, length, depth) of a passing-cloud dimming, or ()
    noise_sigma: float
    jpeg_quality: int | None
    blur_sigma: float
    fog_alpha: np.ndarray | None = None   # (H, W, 1) float32
    fog_color: tuple = (200, 200, 200)

    def gain_at(self, frame: int) -> float:
        g = self.gain * (1 + self.drift_amp * np.sin(2 * np.pi * frame / self.drift_period))
        if self.cloud_frames:
            start, length, depth = self.cloud_frames
            x = (frame - start) / max(1, length)
            if 0 <= x <= 1:
                g *= 1 - depth * np.sin(np.pi * x) ** 2
        return g

    def apply(self, img: np.ndarray, frame: int, noise_bank: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.fog_alpha is not None:
            fog = np.empty_like(img)
            fog[:] = self.fog_color
            img = (img + self.fog_alpha * (fog.astype(np.float32) - img)).astype(np.uint8)
        g = self.gain_at(frame)
        x = np.arange(256, dtype=np.float64) / 255.0
        lut = np.stack([np.clip(255 * (x ** self.gamma) * g * cg, 0, 255) for cg in self.channel_gain], 1)
        img = cv2.LUT(img, lut.astype(np.uint8).reshape(256, 1, 3))
        if self.blur_sigma > 0:
            img = cv2.GaussianBlur(img, (0, 0), self.blur_sigma)
        if self.noise_sigma > 0:
            h, w = img.shape[:2]
            dy, dx = rng.integers(0, noise_bank.shape[1] - h + 1), rng.integers(0, noise_bank.shape[2] - w + 1)
            k = rng.integers(0, noise_bank.shape[0])
            img = cv2.add(img, noise_bank[k, dy:dy + h, dx:dx + w], dtype=cv2.CV_8U)
        if self.jpeg_quality:
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(self.jpeg_quality)])
            img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        return img

    def describe(self) -> dict:
        return {"gain": round(self.gain, 2), "gamma": round(self.gamma, 2),
                "noise_sigma": round(self.noise_sigma, 1), "jpeg_quality": self.jpeg_quality,
                "blur_sigma": round(self.blur_sigma, 2), "fog": self.fog_alpha is not None,
                "cloud": bool(self.cloud_frames)}


def noise_bank(rng: np.random.Generator, sigma: float, height: int, width: int, n: int = 3) -> np.ndarray:
    """A few int16 noise fields slightly larger than the frame; frames crop them at random."""
    return (rng.standard_normal((n, height + 16, width + 16, 3), dtype=np.float32) * sigma).astype(np.int16)
