"""Behaviour attributes of one object track over a window of seconds.

Lengths are in *body heights*: the height a person standing at the track's foot point has in
this camera (the scene model's size model), or the track's own median height where there is
no scene model; speeds are body heights per second. Each attribute is measured only when it
is defined (e.g. no shape attribute for a box cut by the frame border, no heading while
standing) and is NaN otherwise. ``ATTRIBUTES`` says which tail of each attribute is abnormal
and what to call it; the scene model scores the values against this scene's normal.

>>> from collections import deque
>>> from tvau_ros.core.behaviour.objects import ObjectTrack, Observation
>>> walk = [Observation(i / 10, (100 + 4 * i, 50, 8, 20), 120, False) for i in range(30)]
>>> track = ObjectTrack(1, deque(walk), first_s=0.0)
>>> values = measure(track, reference_height=lambda y: 20.0)
>>> round(values["fast"], 2), round(values["heading_x"], 2), values["lying"] > 0
(2.0, 1.0, False)
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tvau_ros.core.behaviour.objects import ObjectTrack, Observation

MOVING = 0.15          # body heights per second: below this a track stands
SPEED_WINDOW_S = 1.0
PATH_WINDOW_S = 6.0
SHAPE_WINDOW_S = 0.7
STEP_S = 0.2           # time step of the velocity estimates
LARGE_BULK = 0.9       # blob area in body heights squared from which an object counts as large (a vehicle)
SOLID = 0.6            # share of its box a blob fills to count as one solid object (for "wide")
FRAGMENT = 0.4         # an object lower and narrower than this share of a person at its place is a fragment


@dataclass(frozen=True)
class Attribute:
    name: str
    unit: str
    tail: str            # "upper" or "lower": which values are abnormal
    label: str           # the region label when this attribute makes an object abnormal
    floor: float         # smallest spread (q99 - q50) used to scale excursions, in ``unit``


ATTRIBUTES = {a.name: a for a in (
    Attribute("fast", "body_heights_per_s", "upper", "fast", 0.25),
    Attribute("slow", "body_heights_per_s", "lower", "slow", 0.12),
    Attribute("stationary", "s", "upper", "stationary", 2.0),
    Attribute("loitering", "fraction", "upper", "loitering", 0.2),
    Attribute("wide", "body_heights", "upper", "unusual_object", 0.5),  # people side by side are 1 wide
    Attribute("lying", "fraction", "upper", "lying", 0.15),
    Attribute("shape_change", "fraction", "upper", "falling", 0.2),
    Attribute("bounce", "body_heights", "upper", "jumping", 0.03),
    Attribute("silhouette", "fraction", "upper", "erratic_motion", 0.1),
    Attribute("unusual_place", "surprise", "upper", "unusual_place", 1.0),
    Attribute("against_flow", "surprise", "upper", "against_flow", 0.5),
)}
# geometry every sample carries (for the scene model's maps and size model), not scored directly
GEOMETRY = ("foot_x", "foot_y", "height_px", "heading_x", "heading_y", "large")


def _median_height(observations: Sequence[Observation]) -> float:
    return float(np.median([o.box[3] for o in observations]))


def _centres(observations: Sequence[Observation]) -> np.ndarray:
    return np.array([o.centre for o in observations], np.float64)


def measure(track: ObjectTrack, reference_height: Callable[[float], float] | None = None,
            min_height_px: float = 10.0) -> dict[str, float]:
    """Attribute values (``ATTRIBUTES``) and geometry (``GEOMETRY``) of ``track`` at its newest
    observation. ``reference_height(foot_y)``: a person's height in pixels at that image row;
    without it lengths are in the track's own height, at least ``min_height_px`` (a blob a few
    pixels tall moving a pixel per frame is not fast). A *fragment* (much smaller than a person
    at its place: a head, a shadow, a piece of a crowd) gets no attributes."""
    nan = math.nan
    last = track.last
    out = dict.fromkeys((*ATTRIBUTES, *GEOMETRY), nan)
    recent = track.window(SPEED_WINDOW_S)
    own = _median_height(recent)
    out.update(foot_x=last.foot[0], foot_y=last.foot[1], height_px=float(last.box[3]))
    if reference_height is not None:
        ref = reference_height(last.foot[1])
        width = float(np.median([o.box[2] for o in recent]))
        if own < FRAGMENT * ref and width < FRAGMENT * ref:
            out["large"] = 0.0
            return out
    else:
        ref = max(own, min_height_px)
    ref = max(ref, 2.0)
    inside = [o for o in recent if not o.on_border and not o.predicted]
    width = float(np.median([o.box[2] for o in inside])) / ref if inside else nan
    # large: as much blob as a car (area against a standing person's height squared: a person is
    # about 0.3, two side by side 0.6, a car seen from the front 1.0); it sticks to the track, as a
    # car cut by the frame border is still a car
    if inside:
        bulk = float(np.median([o.area for o in inside])) / ref ** 2
        track.state["large"] = track.state.get("large", False) or bulk >= LARGE_BULK
    out["large"] = float(track.state.get("large", False))
    fill = float(np.median([o.area / max(o.box[2] * o.box[3], 1) for o in inside])) if inside else 0.0
    if inside and fill >= SOLID:  # people side by side leave gaps; a vehicle or a carried crate does not
        out["wide"] = width
        height = float(np.median([o.box[3] for o in inside])) / ref
        aspect = float(np.median([o.box[2] / max(o.box[3], 1) for o in inside]))
        # low and wide relative to a standing person: lying or crawling
        out["lying"] = max(0.0, 1.0 - height) * min(1.0, aspect)

    # a box cut by the frame border moves unlike its object (and a half-seen car looks like a
    # person): speeds come from uncut boxes only
    moving = [o for o in recent if not o.on_border]
    span = moving[-1].stamp_s - moving[0].stamp_s if moving else 0.0
    if len(moving) >= 3 and span >= 0.4:
        # the median of velocities over 0.2 s steps: a far walker's box jitters by as much as one
        # step between two frames, and one jump (two objects swapping boxes) moves no median
        centres, stamps = _centres(moving), np.array([o.stamp_s for o in moving])
        later = np.searchsorted(stamps, stamps + STEP_S - 1e-6)
        pairs = np.flatnonzero(later < len(stamps))
        if pairs.size:
            j = later[pairs]
            rates = (centres[j] - centres[pairs]) / (stamps[j] - stamps[pairs])[:, None]
        else:
            rates = ((centres[-1] - centres[0]) / max(span, 1e-6))[None]
        velocity = np.median(rates, axis=0) / ref
        speed = float(np.hypot(*velocity))
        out["fast"] = speed
        if speed >= MOVING:
            out["slow"] = speed
            out["heading_x"], out["heading_y"] = (velocity / speed).tolist()
        feet = np.array([o.foot[1] for o in moving])
        trend = np.polyval(np.polyfit(np.arange(len(feet)), feet, 1), np.arange(len(feet)))
        out["bounce"] = float(np.std(feet - trend)) / ref
    _dwell(track, out, ref)
    _path(track, out, ref)
    _shape(track, out)
    return out


def _dwell(track: ObjectTrack, out: dict, ref: float) -> None:
    """Seconds the track has stood within half a body height of one spot, counted only once
    it has moved (a person who walks in and stops; not a ghost of the start-up background)."""
    state, centre = track.state, np.array(track.last.centre)
    anchor = state.get("anchor")
    if anchor is None or np.hypot(*(centre - anchor[0])) > 0.5 * ref:
        if anchor is not None:
            state["moved"] = state.get("moved", 0.0) + float(np.hypot(*(centre - anchor[0]))) / ref
        state["anchor"] = (centre, track.last.stamp_s)
    if state.get("moved", 0.0) >= 1.0:
        out["stationary"] = track.last.stamp_s - state["anchor"][1]


def _path(track: ObjectTrack, out: dict, ref: float) -> None:
    """1 - straightness over the last ``PATH_WINDOW_S``: a path that goes nowhere (defined once
    the path is 2 body heights long and the window at least 4 s)."""
    window = track.window(PATH_WINDOW_S)
    if len(window) < 5 or window[-1].stamp_s - window[0].stamp_s < 4.0:
        return
    centres = _centres(window)
    # positions averaged over ~0.3 s steps: box jitter would lengthen the path of a walker
    step = max(1, int(round(len(window) * 0.3 / (window[-1].stamp_s - window[0].stamp_s))))
    smooth = np.array([centres[i:i + step].mean(0) for i in range(0, len(centres), step)])
    path = float(np.hypot(*np.diff(smooth, axis=0).T).sum()) / ref
    if path >= 2.0:
        net = float(np.hypot(*(smooth[-1] - smooth[0]))) / ref
        out["loitering"] = 1.0 - net / path


def _shape(track: ObjectTrack, out: dict) -> None:
    """How much the box's aspect changed over ``SHAPE_WINDOW_S`` (a fall turns a tall box wide),
    and how much the silhouette changes frame to frame beyond its motion (arms and legs flung
    about: the mean ``mask_change`` over ``SPEED_WINDOW_S``)."""
    window = [o for o in track.window(SHAPE_WINDOW_S) if not o.on_border and not o.predicted]
    if len(window) >= 3:
        aspects = np.array([o.box[2] / max(o.box[3], 1) for o in window])
        out["shape_change"] = float(abs(np.log((aspects[-1] + 0.1) / (aspects[0] + 0.1))))
    changes = [o.mask_change for o in track.window(SPEED_WINDOW_S) if not math.isnan(o.mask_change)]
    if len(changes) >= 4:
        out["silhouette"] = float(np.mean(changes))
