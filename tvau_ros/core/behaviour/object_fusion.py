"""Objects from two sources: foreground blobs, refined by the person detector's boxes.

The foreground finds anything that moves on any camera; the detector (trained on rendered
people) knows where one person ends and the next begins, and still sees a person who stopped.
Fusion keeps the foreground as the primary source:
- a blob holding two or more detections is a group: it is split, each of its pixels going to
  the detection box it lies in (the nearest centre where boxes overlap; pixels in no box, such
  as a shadow, are left out, so each piece keeps a person's shape);
- a blob with one detection or none stays as it is (a car, a thrown bag, a person and shadow);
- a confident detection with almost no foreground under it (a person who stopped, or one the
  background absorbed) becomes an object with an elliptical mask in its box that may continue
  a track but starts none (a false detection does not become an object of its own).

>>> import numpy as np
>>> from tvau_ros.core.behaviour.foreground import Blob
>>> pair = Blob((10, 10, 20, 20), np.ones((20, 20), bool), 400)       # two people side by side
>>> boxes = np.array([[10, 10, 9, 20], [21, 10, 9, 20]], np.float32)
>>> [b.box for b in fuse_detections([pair], boxes, np.array([0.9, 0.8]), (60, 80))]
[(10, 10, 9, 20), (21, 10, 9, 20)]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tvau_ros.core.behaviour.foreground import Blob


@dataclass(frozen=True)
class FusionConfig:
    in_blob: float = 0.3          # share of a detection box the blob must fill for it to count in the blob
    standalone_score: float = 0.5  # a detection with no foreground becomes an object at this score
    empty_box: float = 0.1        # "no foreground": the blobs fill less than this share of the box
    min_piece_area: int = 12      # pieces of a split smaller than this are dropped


def _clip(box: np.ndarray, hw: tuple[int, int]) -> tuple[int, int, int, int] | None:
    h, w = hw
    x0, y0 = max(0, int(round(box[0]))), max(0, int(round(box[1])))
    x1, y1 = min(w, int(round(box[0] + box[2]))), min(h, int(round(box[1] + box[3])))
    return (x0, y0, x1 - x0, y1 - y0) if x1 - x0 >= 2 and y1 - y0 >= 4 else None


def _filled(blob: Blob, box: tuple[int, int, int, int]) -> int:
    """Pixels of ``blob`` inside ``box``."""
    bx, by, bw, bh = blob.box
    x0, y0 = max(bx, box[0]), max(by, box[1])
    x1, y1 = min(bx + bw, box[0] + box[2]), min(by + bh, box[1] + box[3])
    return 0 if x1 <= x0 or y1 <= y0 else int(blob.mask[y0 - by:y1 - by, x0 - bx:x1 - bx].sum())


def _split(blob: Blob, boxes: list[tuple[int, int, int, int]], min_area: int) -> list[Blob]:
    """The blob's pixels given to the boxes they lie in (nearest centre among several)."""
    bx, by, bw, bh = blob.box
    ys, xs = np.nonzero(blob.mask)
    px, py = xs + bx + 0.5, ys + by + 0.5
    centres = np.array([(x + w / 2, y + h / 2) for x, y, w, h in boxes], np.float32)
    inside = np.stack([(px >= x) & (px < x + w) & (py >= y) & (py < y + h) for x, y, w, h in boxes], 1)
    distance = (px[:, None] - centres[None, :, 0]) ** 2 + ((py[:, None] - centres[None, :, 1]) / 2) ** 2
    owner = np.where(inside.any(1), np.argmin(np.where(inside, distance, np.inf), axis=1), -1)
    pieces = []
    for k in range(len(boxes)):
        take = owner == k
        if take.sum() < min_area:
            continue
        x0, x1 = int(xs[take].min()), int(xs[take].max()) + 1
        y0, y1 = int(ys[take].min()), int(ys[take].max()) + 1
        mask = np.zeros((y1 - y0, x1 - x0), bool)
        mask[ys[take] - y0, xs[take] - x0] = True
        pieces.append(Blob((bx + x0, by + y0, x1 - x0, y1 - y0), mask, int(take.sum())))
    return pieces


def _ellipse(box: tuple[int, int, int, int]) -> Blob:
    x, y, w, h = box
    yy, xx = np.mgrid[0:h, 0:w]
    mask = ((xx + 0.5 - w / 2) / (w / 2)) ** 2 + ((yy + 0.5 - h / 2) / (h / 2)) ** 2 <= 1.0
    return Blob(box, mask, int(mask.sum()), continues_only=True)


def fuse_detections(blobs: list[Blob], boxes: np.ndarray, scores: np.ndarray, frame_hw: tuple[int, int],
                    cfg: FusionConfig = FusionConfig()) -> list[Blob]:
    """Blobs split by and completed with detections (boxes ``(n, 4)`` x, y, w, h in the blobs'
    pixels); the result is largest first, like ``find_blobs``."""
    held: dict[int, list[tuple[int, int, int, int]]] = {}
    standalone = []
    for box, score in zip(boxes, scores, strict=True):
        clipped = _clip(box, frame_hw)
        if clipped is None:
            continue
        area = clipped[2] * clipped[3]
        filled = [_filled(b, clipped) for b in blobs]
        best = int(np.argmax(filled)) if filled else -1
        if best >= 0 and filled[best] >= cfg.in_blob * area:
            held.setdefault(best, []).append(clipped)
        elif sum(filled) < cfg.empty_box * area and score >= cfg.standalone_score:
            standalone.append(clipped)
    fused = []
    for i, blob in enumerate(blobs):
        inside = held.get(i, [])
        fused += _split(blob, inside, cfg.min_piece_area) if len(inside) >= 2 else [blob]
    fused += [_ellipse(box) for box in standalone]
    return sorted(fused, key=lambda b: -b.area)
