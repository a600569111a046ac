"""Colour-mapped heatmap blended over the camera image, with region boxes and track ids.

Used for ``~/heatmap_overlay`` (bgr8, for rviz's Image display) and the annotated MP4 of
``tvau run``, so both look the same.

>>> img = np.zeros((40, 60, 3), np.uint8); hm = np.zeros((40, 60), np.float32); hm[10:20, 10:30] = 1.0
>>> from tvau_ros.core.types import Box, Region
>>> out = render_overlay(img, hm, [Region(Box(20, 20, 40, 20), 1.0, 1.0, 0.1, track_id=3)], (80, 120),
...                      out_size=(40, 60), frame_score=1.0)
>>> out.shape, out.dtype, int(out[15, 20, 2]) > 50 > int(out[30, 5, 2])   # hot = red, cold = dark
((40, 60, 3), dtype('uint8'), True)
"""
from __future__ import annotations

import numpy as np

from tvau_ros.core.types import Region

BOX_BGR = (255, 255, 255)
ANOMALY_BGR = (0, 0, 255)


def colorize(heatmap: np.ndarray) -> np.ndarray:
    """(h, w) values in [0, 1] (no NaN) -> (h, w, 3) uint8 BGR (OpenCV's JET map: blue 0 ... red 1)."""
    import cv2

    levels = cv2.convertScaleAbs(np.maximum(heatmap, 0.0, dtype=np.float32), alpha=255.0)  # rounds, saturates
    return cv2.applyColorMap(levels, cv2.COLORMAP_JET)


def blend(image_rgb: np.ndarray, heatmap: np.ndarray, alpha: float = 0.5,
          out_size: tuple[int, int] | None = None) -> np.ndarray:
    """Camera image and coloured heatmap blended at ``out_size`` (h, w; default the heatmap's), BGR.

    Only the heatmap's "hot" part is drawn strongly: the weight of the colour map grows with
    the heatmap value, so normal areas keep the camera image readable.
    """
    import cv2

    h, w = out_size or heatmap.shape[:2]
    image = cv2.resize(image_rgb, (w, h), interpolation=cv2.INTER_AREA) if image_rgb.shape[:2] != (h, w) else image_rgb
    heat = cv2.resize(heatmap, (w, h), interpolation=cv2.INTER_LINEAR) if heatmap.shape[:2] != (h, w) else heatmap
    weight = (alpha * (0.25 + 0.75 * np.clip(heat, 0.0, 1.0))).astype(np.float32)
    bgr = np.ascontiguousarray(image[:, :, ::-1])
    return cv2.blendLinear(colorize(heat), bgr, weight, 1.0 - weight)


def draw_regions(bgr: np.ndarray, regions: list[Region], source_size: tuple[int, int]) -> np.ndarray:
    """Draw region boxes (source-image pixels, rescaled to ``bgr``) with track id and peak score."""
    import cv2

    h, w = bgr.shape[:2]
    sy, sx = h / source_size[0], w / source_size[1]
    thickness = max(1, round(min(h, w) / 240))
    for region in regions:
        b = region.box
        p0 = (int(b.x * sx), int(b.y * sy))
        p1 = (int((b.x + b.width) * sx) - 1, int((b.y + b.height) * sy) - 1)
        colour = ANOMALY_BGR if region.track_id else BOX_BGR
        cv2.rectangle(bgr, p0, p1, colour, thickness)
        label = f"#{region.track_id} {region.peak_score:.2f}" if region.track_id else f"{region.peak_score:.2f}"
        cv2.putText(bgr, label, (p0[0], max(10, p0[1] - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.35 * thickness,
                    colour, thickness, cv2.LINE_AA)
    return bgr


def render_overlay(image_rgb: np.ndarray, heatmap: np.ndarray, regions: list[Region],
                   source_size: tuple[int, int], out_size: tuple[int, int] | None = None,
                   frame_score: float | None = None, alpha: float = 0.5, threshold: float = 0.5) -> np.ndarray:
    """Blend + boxes + a frame-score banner; returns (h, w, 3) uint8 BGR at ``out_size``."""
    import cv2

    bgr = blend(image_rgb, heatmap, alpha, out_size)
    draw_regions(bgr, regions, source_size)
    if frame_score is not None:
        colour = ANOMALY_BGR if frame_score >= threshold else (0, 200, 0)
        scale = max(0.35, bgr.shape[0] / 600)
        cv2.putText(bgr, f"score {frame_score:.2f}", (4, int(14 * scale / 0.35)), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, colour, max(1, round(scale * 2)), cv2.LINE_AA)
    return bgr
