"""Frame-level extraction: per-target boxes and appearance attributes measured from pixels.

A target's box is the bounding rectangle of the largest contour of its mask (as the UBnormal
scripts compute boxes); its ``extent`` covers all its mask pixels (used for motion, robust to a
mask split by an occluder). Boxes are ``(x1, y1, x2, y2)`` pixel ints, inclusive (as
``tvau_ros.metrics.boxes`` and the RBDC/TBDC reference use them).

Colours are palette votes of pixels in body regions of the box. For an upright target the top
(upper-body clothing) is the band ``UPPER_BAND`` of the box height below the head and the bottom
the legs band ``LOWER_BAND``; for a wide target (lying, crawling, a vehicle) the left and right
halves are voted, and the timeline later names the half in front (direction of motion) as top.
Before voting, pixels are scaled so that the frame's 99th brightness percentile reads as
``WHITE_POINT`` (white-patch illumination normalisation: dim or bright video keeps white white).

Two measurements of the same box exist: ``coarse`` reads every pixel of a region (what a crop
of the raw frame shows, background included), ``refined`` reads only mask pixels of the
background-suppressed frame (see ``timeline.suppress_background``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from tvau_ros.data.annotation.colors import PALETTE, color_votes, lab_distance

Box = tuple[int, int, int, int]

UPPER_BAND = (0.20, 0.40)   # fractions of box height: shoulders to above the elbows
LOWER_BAND = (0.58, 0.90)   # thighs to above the shoes
WIDE_ASPECT = 1.2           # width / height above which a target is measured as "wide"
SIZE_CLASSES = (("small", 0.004), ("medium", 0.02), ("large", float("inf")))  # mask area / frame area
WHITE_POINT = 235.0
GAIN_LIMITS = (0.8, 2.0)
MIN_REGION_PIXELS = 4
BACKGROUND_DELTA_E = 25.0   # colour distance from the background at which a pixel counts fully


@dataclass(eq=False)
class Appearance:
    """Palette votes (counts per ``PALETTE`` name) of each body region; empty when unmeasured."""
    votes: dict[str, np.ndarray] = field(default_factory=dict)
    upright: bool = True

    def color(self, region: str) -> tuple[str | None, float]:
        """(name, vote share) of a region; (None, 0.0) when it was not measured."""
        v = self.votes.get(region)
        if v is None or v.sum() < MIN_REGION_PIXELS:
            return None, 0.0
        best = int(np.argmax(v))
        return PALETTE[best], float(v[best] / v.sum())

    @property
    def top_color(self) -> str | None:
        return self.color("top")[0]

    @property
    def bottom_color(self) -> str | None:
        return self.color("bottom")[0]

    @property
    def confidence(self) -> float:
        """Smallest vote share of the two regions that name this target's colours."""
        regions = ("top", "bottom") if self.upright else ("left", "right")
        return min(self.color(r)[1] for r in regions)


@dataclass
class FrameObservation:
    """One target in one frame."""
    frame: int
    object_id: int | None          # mask id; None for binary masks
    box: Box                       # largest contour
    extent: Box                    # all the target's mask pixels
    area: int                      # pixels of the largest component
    mask_area: int                 # all the target's mask pixels
    centroid: tuple[float, float]  # (x, y) of all the target's pixels (pixel centres at +0.5)
    foot: tuple[float, float]      # (centroid x, bottom edge of the extent)
    touches: frozenset[str]        # image borders the extent touches
    coarse: Appearance
    refined: Appearance | None = None
    track_id: int | None = field(default=None, compare=False)

    @property
    def height(self) -> int:
        return self.extent[3] - self.extent[1] + 1

    @property
    def width(self) -> int:
        return self.extent[2] - self.extent[0] + 1


def largest_contour_box(binary: np.ndarray) -> tuple[Box, np.ndarray] | None:
    """Box of the largest external contour of a boolean mask and that component's filled mask.

    >>> m = np.zeros((10, 10), bool); m[2:5, 3:8] = True; m[8, 8] = True
    >>> largest_contour_box(m)[0]
    (3, 2, 7, 4)
    """
    contours, _ = cv2.findContours(binary.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    best = max(contours, key=lambda c: (cv2.contourArea(c), len(c)))
    x, y, w, h = cv2.boundingRect(best)
    filled = np.zeros(binary.shape, np.uint8)
    cv2.drawContours(filled, [best], -1, 1, thickness=cv2.FILLED)
    return (x, y, x + w - 1, y + h - 1), (filled.astype(bool) & binary)


def touched_borders(box: Box, width: int, height: int, margin: int = 1) -> frozenset[str]:
    """Image borders that a box touches (within ``margin`` pixels)."""
    x1, y1, x2, y2 = box
    sides = {"left": x1 <= margin, "right": x2 >= width - 1 - margin,
             "top": y1 <= margin, "bottom": y2 >= height - 1 - margin}
    return frozenset(s for s, hit in sides.items() if hit)


def size_class(mask_area: float, frame_area: int) -> str:
    """Size class from the share of the frame a target's mask covers.

    >>> size_class(200, 320 * 240), size_class(1000, 320 * 240), size_class(2000, 320 * 240)
    ('small', 'medium', 'large')
    """
    ratio = mask_area / float(frame_area)
    return next(name for name, upper in SIZE_CLASSES if ratio < upper)


def illumination_gain(frame: np.ndarray) -> float:
    """Factor mapping the frame's 99th brightness percentile to ``WHITE_POINT``, clipped."""
    luminance = frame[::2, ::2].astype(np.uint16).sum(axis=2) // 3
    cumulative = np.cumsum(np.bincount(luminance.ravel(), minlength=256))
    p99 = float(np.searchsorted(cumulative, 0.99 * cumulative[-1]))
    return float(np.clip(WHITE_POINT / max(p99, 1.0), *GAIN_LIMITS))


def _rows(box: Box, band: tuple[float, float]) -> slice:
    y1, h = box[1], box[3] - box[1] + 1
    top = int(round(band[0] * h))
    return slice(y1 + top, y1 + max(int(round(band[1] * h)), top + 1))


def _scaled(pixels: np.ndarray, gain: float) -> np.ndarray:
    pixels = pixels.reshape(-1, 3)
    if gain == 1.0:
        return pixels
    return np.clip(pixels.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def _votes(pixels: np.ndarray, gain: float, background: np.ndarray | None, bg_gain: float) -> np.ndarray:
    pixels = _scaled(pixels, gain)
    if background is None or len(pixels) == 0:
        return color_votes(pixels)
    # pixels that look like the background behind them are mostly background (thin limbs,
    # compression bleeding): they count less, unless the target is the background's colour
    weights = np.clip(lab_distance(pixels, _scaled(background, bg_gain)) / BACKGROUND_DELTA_E, 0.0, 1.0)
    if weights.sum() < 0.25 * len(weights):
        return color_votes(pixels)
    return color_votes(pixels, weights)


def measure_appearance(frame: np.ndarray, box: Box, region: np.ndarray | None, gain: float = 1.0,
                       background: np.ndarray | None = None, bg_gain: float = 1.0) -> Appearance:
    """Palette votes of the body regions inside ``box``.

    ``region`` is a boolean (H, W) mask restricting the pixels read; None reads the whole box.
    ``gain`` scales pixel values first (see ``illumination_gain``). With a ``background`` image
    (the scene without targets, scaled by ``bg_gain``), pixels are weighted by how much they
    differ from it.
    """
    x1, y1, x2, y2 = box
    upright = (x2 - x1 + 1) <= WIDE_ASPECT * (y2 - y1 + 1)
    crop = frame[y1:y2 + 1, x1:x2 + 1]
    bg = None if background is None else background[y1:y2 + 1, x1:x2 + 1]
    keep = np.ones(crop.shape[:2], bool) if region is None else region[y1:y2 + 1, x1:x2 + 1]
    if upright:
        parts = {name: (_rows((0, 0, 0, y2 - y1), band), slice(None))
                 for name, band in (("top", UPPER_BAND), ("bottom", LOWER_BAND))}
    else:
        mid = (x2 - x1 + 1) // 2
        parts = {"left": (slice(None), slice(None, mid)), "right": (slice(None), slice(mid, None))}
    votes = {}
    for name, (rows, cols) in parts.items():
        sel = keep[rows, cols]
        votes[name] = _votes(crop[rows, cols][sel], gain, None if bg is None else bg[rows, cols][sel], bg_gain)
    return Appearance(votes, upright)


def mask_values(mask: np.ndarray) -> list[int]:
    """Distinct positive values of an id mask."""
    values = mask[mask > 0]
    if len(values) and values.max() < 65536:
        return np.flatnonzero(np.bincount(values.astype(np.int64))).tolist()
    return np.unique(values).tolist()


def split_targets(mask: np.ndarray, use_ids: bool, min_area: int = 2,
                  join_px: int = 2) -> list[tuple[int | None, np.ndarray]]:
    """Per-target boolean masks of one frame's mask.

    With ``use_ids`` every positive value is one target; otherwise (binary masks) every
    8-connected component of at least ``min_area`` pixels (and a tenth of the largest) is one
    target (id None); pieces less than ``join_px`` pixels apart (a hand, an umbrella on its
    stick) count as one component.
    """
    if use_ids:
        return [(int(v), mask == v) for v in mask_values(mask)]
    binary = (mask > 0).astype(np.uint8)
    joined = cv2.dilate(binary, np.ones((2 * join_px + 1, 2 * join_px + 1), np.uint8)) if join_px else binary
    count, labels = cv2.connectedComponents(joined, connectivity=8)
    labels[binary == 0] = 0
    areas = np.bincount(labels.ravel(), minlength=count)
    floor = max(min_area, 0.1 * areas[1:].max()) if count > 1 else min_area
    return [(None, labels == i) for i in range(1, count) if areas[i] >= floor]


def _interior(component: np.ndarray) -> np.ndarray:
    """The component less its 1-pixel rim (rim pixels mix with the background after
    compression), unless that would remove most of it (thin or tiny targets)."""
    inner = cv2.erode(component.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return inner if inner.sum() >= 0.6 * component.sum() else component


def _extent_and_centroid(target: np.ndarray) -> tuple[Box, tuple[float, float]]:
    x, y, w, h = cv2.boundingRect(target.astype(np.uint8))
    roi = target[y:y + h, x:x + w]
    cols, rows = roi.sum(axis=0), roi.sum(axis=1)
    centroid = (x + float(cols @ np.arange(w)) / cols.sum() + 0.5, y + float(rows @ np.arange(h)) / rows.sum() + 0.5)
    return (x, y, x + w - 1, y + h - 1), centroid


def extract_observations(frame: np.ndarray, mask: np.ndarray, frame_index: int, use_ids: bool,
                         refined_frame: np.ndarray | None = None, min_area: int = 2,
                         background: np.ndarray | None = None,
                         bg_gain: float | None = None) -> list[FrameObservation]:
    """Frame-level extraction: one observation per target in ``mask``.

    ``coarse`` is measured on ``frame`` over whole box regions; when ``refined_frame`` (the
    background-suppressed frame) is given, ``refined`` is measured on it over mask pixels only,
    weighted by their difference from ``background`` (the scene without targets) when given.
    """
    height, width = mask.shape
    gain = illumination_gain(frame)
    if bg_gain is None:
        bg_gain = 1.0 if background is None else illumination_gain(background)
    observations = []
    for object_id, target in split_targets(mask, use_ids, min_area):
        found = largest_contour_box(target)
        if found is None:
            continue
        box, component = found
        mask_area = int(target.sum())
        if mask_area < min_area:
            continue
        extent, centroid = _extent_and_centroid(target)
        observations.append(FrameObservation(
            frame=frame_index, object_id=object_id, box=box, extent=extent, area=int(component.sum()),
            mask_area=mask_area, centroid=centroid, foot=(centroid[0], float(extent[3] + 1)),
            touches=touched_borders(extent, width, height),
            coarse=measure_appearance(frame, box, None, gain),
            refined=None if refined_frame is None
            else measure_appearance(refined_frame, box, _interior(component), gain, background, bg_gain),
        ))
    return observations
