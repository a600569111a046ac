"""Axis-aligned boxes in inclusive pixel coordinates, as the RBDC/TBDC reference uses them.

A box ``(x_min, y_min, x_max, y_max)`` covers pixel columns ``x_min..x_max`` and rows
``y_min..y_max`` *inclusive*, so its area is ``(x_max - x_min + 1) * (y_max - y_min + 1)``
and a one-pixel box has area 1.

>>> box_iou((0, 0, 9, 9), (5, 0, 14, 9))   # 5x10 overlap of two 10x10 boxes
0.3333333333333333
>>> box_iou((3, 3, 3, 3), (3, 3, 3, 3))
1.0
"""
from __future__ import annotations

import math

Box = tuple[float, float, float, float]


def check_box(box: Box, what: str = "box") -> Box:
    """Return ``box`` as a float 4-tuple; raise ValueError naming ``what`` if it is malformed."""
    if len(box) != 4:
        raise ValueError(f"{what}: expected 4 numbers (x_min, y_min, x_max, y_max), got {len(box)}")
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise ValueError(f"{what}: non-finite coordinate in {box!r}")
    if x1 < x0 or y1 < y0:
        raise ValueError(f"{what}: x_max < x_min or y_max < y_min in {box!r}")
    return (x0, y0, x1, y1)


def box_area(box: Box) -> float:
    """Area with the inclusive +1-pixel convention."""
    return (box[2] - box[0] + 1.0) * (box[3] - box[1] + 1.0)


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union with the inclusive +1-pixel convention of the reference."""
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]) + 1.0)
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]) + 1.0)
    inter = inter_w * inter_h
    return inter / (box_area(a) + box_area(b) - inter)
