"""Object tracks over seconds: blobs of each frame matched to tracks with a history.

Each track predicts its box from its recent velocity; blobs are assigned to tracks optimally
by overlap with that prediction (1 - IoU), or failing overlap by centre distance within a
gate that grows with the track's speed and height. When people cross or walk together their
blobs merge: a track whose blob is much larger than the track itself, or whose predicted box
lies inside another track's blob, goes on along its prediction (observations marked
``predicted``) for up to ``max_occluded_s``, and picks up its own blob again when the group
splits. A new track is tentative until it has ``min_hits`` observations; a track that sees no
blob for more than ``max_missing_s`` ends.
The history (boxes, stamps, masks' areas) covers the last ``history_s`` seconds: what the
behaviour attributes read.

>>> tracker = ObjectTracker(TrackerConfig(min_hits=2))
>>> from tvau_ros.core.behaviour.foreground import Blob, box_centre, box_foot
>>> blob = lambda x: Blob((x, 10, 6, 18), np.ones((18, 6), bool), 108)
>>> [[t.track_id for t in tracker.update([blob(10 + 2 * i)], i / 15, (60, 80))] for i in range(3)]
[[], [1], [1]]
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tvau_ros.core.behaviour.foreground import Blob, box_centre, box_foot
from tvau_ros.core.tracking import assignment_solver


@dataclass(frozen=True)
class TrackerConfig:
    min_hits: int = 3            # observations before a track is reported
    max_missing_s: float = 0.8   # a track unseen this long ends
    history_s: float = 8.0       # seconds of history kept per track
    gate_heights: float = 0.5    # centre-distance gate, in the track's heights (plus its motion)
    merged_area: float = 1.7     # a blob this many times the track's own area is a group of objects
    max_occluded_s: float = 1.5  # a track goes on along its prediction inside a group this long


@dataclass
class Observation:
    stamp_s: float
    box: tuple[int, int, int, int]  # x, y, w, h in work pixels
    area: int
    on_border: bool                 # the box touches the frame border (its size is cut)
    mask_change: float = float("nan")  # silhouette change since the previous observation (mask_change)
    predicted: bool = False         # inside a group of objects: the box is the track's prediction

    @property
    def centre(self) -> tuple[float, float]:
        return box_centre(self.box)

    @property
    def foot(self) -> tuple[float, float]:
        return box_foot(self.box)


@dataclass
class ObjectTrack:
    track_id: int                      # 0 while tentative
    history: deque = field(default_factory=deque)
    mask: np.ndarray | None = None     # the latest blob's mask inside its box
    hits: int = 0
    first_s: float = 0.0
    state: dict = field(default_factory=dict)  # per-track memory of the attributes (dwell anchor, ...)
    _memo: dict = field(default_factory=dict, repr=False)  # velocity / own area of the current history

    def _remembered(self, key: tuple, compute: Callable[[], Any]) -> Any:  # noqa: ANN401 - float or a pair
        """``compute()`` once per state of the history (the tracker asks for each blob)."""
        version = (len(self.history), self.history[0].stamp_s, self.last.stamp_s, self.last.predicted)
        if self._memo.get("version") != version:
            self._memo = {"version": version}
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    @property
    def last(self) -> Observation:
        return self.history[-1]

    @property
    def age_s(self) -> float:
        return self.last.stamp_s - self.first_s

    def window(self, seconds: float) -> list[Observation]:
        """Observations of the last ``seconds`` (up to the newest)."""
        newest = self.last.stamp_s
        return [o for o in self.history if o.stamp_s >= newest - seconds - 1e-9]

    def own_area(self) -> float:
        """Median blob area of the track's own (not predicted) observations of the last second."""
        return self._remembered(("own_area",), self._own_area)

    def _own_area(self) -> float:
        areas = [o.area for o in self.window(1.0) if not o.predicted]
        return float(np.median(areas)) if areas else float(self.last.area)

    def occluded_s(self) -> float:
        """How long the track has been going on along its prediction."""
        own = [o for o in self.history if not o.predicted]
        return self.last.stamp_s - own[-1].stamp_s if own else 0.0

    def velocity(self, seconds: float = 0.7) -> tuple[float, float]:
        """Centre velocity in pixels per second over the ``seconds`` before the last own
        observation: the median of the velocities between observations about 0.2 s apart (one
        wrong match does not send the prediction flying)."""
        return self._remembered(("velocity", seconds), lambda: self._velocity(seconds))

    def _velocity(self, seconds: float) -> tuple[float, float]:
        own = [o for o in self.history if not o.predicted]
        recent = [o for o in own if o.stamp_s >= own[-1].stamp_s - seconds] if own else []
        recent = recent if len(recent) >= 2 else own[-2:]
        if len(recent) < 2:
            return 0.0, 0.0
        rates = []
        for i, a in enumerate(recent):
            b = next((o for o in recent[i + 1:] if o.stamp_s - a.stamp_s >= 0.2 - 1e-6), None)
            if b is not None:
                rates.append(((b.centre[0] - a.centre[0]) / (b.stamp_s - a.stamp_s),
                              (b.centre[1] - a.centre[1]) / (b.stamp_s - a.stamp_s)))
        if not rates:
            a, b = recent[0], recent[-1]
            dt = max(b.stamp_s - a.stamp_s, 1e-6)
            return (b.centre[0] - a.centre[0]) / dt, (b.centre[1] - a.centre[1]) / dt
        vx, vy = np.median(np.array(rates), axis=0)
        return float(vx), float(vy)

    def predicted_box(self, stamp_s: float) -> tuple[float, float, float, float]:
        """The last own box moved on at the track's velocity to ``stamp_s``."""
        own = next((o for o in reversed(self.history) if not o.predicted), self.last)
        vx, vy = self.velocity()
        x, y, w, h = own.box
        dt = stamp_s - own.stamp_s
        return x + vx * dt, y + vy * dt, w, h


def _inside(inner: Sequence[float], outer: Sequence[float]) -> float:
    """Fraction of box ``inner``'s area inside box ``outer`` (x, y, w, h)."""
    ix = min(inner[0] + inner[2], outer[0] + outer[2]) - max(inner[0], outer[0])
    iy = min(inner[1] + inner[3], outer[1] + outer[3]) - max(inner[1], outer[1])
    return 0.0 if ix <= 0 or iy <= 0 else ix * iy / max(inner[2] * inner[3], 1e-6)


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    iy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


class ObjectTracker:
    def __init__(self, cfg: TrackerConfig = TrackerConfig()):
        self.cfg = cfg
        self.tracks: list[ObjectTrack] = []
        self._next_id = 1
        self._solve = assignment_solver()

    def reset(self) -> None:
        self.tracks = []

    def _cost(self, track: ObjectTrack, blob: Blob, stamp_s: float) -> float:
        if len(track.history) >= 5 and blob.area * self.cfg.merged_area < track.own_area():
            return math.inf  # a fragment (a head, a shadow) is not the whole object
        predicted = track.predicted_box(stamp_s)
        overlap = _iou(predicted, blob.box)
        if overlap > 0.05:
            return 1.0 - overlap
        px, py = predicted[0] + predicted[2] / 2, predicted[1] + predicted[3] / 2
        bx, by = blob.centre
        height = max(track.last.box[3], blob.box[3], 4)
        speed = math.hypot(*track.velocity())
        gate = self.cfg.gate_heights * height + speed * max(stamp_s - track.last.stamp_s, 0.0)
        distance = math.hypot(px - bx, py - by)
        return 1.0 + distance / gate if distance <= gate else math.inf

    def _group_of(self, track: ObjectTrack, blobs: list[Blob], stamp_s: float) -> tuple[int, float]:
        """(index, share) of the group blob the track's predicted box lies in (-1 when none): a
        blob much larger than the track holding at least half of the predicted box."""
        if len(track.history) < 5:
            return -1, 0.0
        predicted, own = track.predicted_box(stamp_s), track.own_area()
        best, share = -1, 0.0
        for i, blob in enumerate(blobs):
            if blob.area > self.cfg.merged_area * own:
                inside = _inside(predicted, blob.box)
                if inside >= 0.5 and inside > share:
                    best, share = i, inside
        return best, share

    def update(self, blobs: list[Blob], stamp_s: float, frame_hw: tuple[int, int]) -> list[ObjectTrack]:
        """Match this frame's blobs; returns the confirmed tracks seen in this frame.

        Each track may take one blob, or go on inside a group blob (a column of its own in the
        assignment, cheaper than a distant blob: a runner passing a walker stays the runner)."""
        n_tracks, n_blobs = len(self.tracks), len(blobs)
        groups = [self._group_of(t, blobs, stamp_s) for t in self.tracks]
        pairs, coasting = [], []
        if self.tracks and blobs:
            cost = np.full((n_tracks, n_blobs + n_tracks), math.inf)
            cost[:, :n_blobs] = [[self._cost(t, b, stamp_s) for b in blobs] for t in self.tracks]
            for r, (group, share) in enumerate(groups):
                if group >= 0:
                    cost[r, n_blobs + r] = 0.3 + 0.5 * (1.0 - share)
            rows, cols = self._solve(np.where(np.isfinite(cost), cost, 1e6))
            for r, c in zip(rows, cols, strict=True):
                if np.isfinite(cost[r, c]):
                    (pairs if c < n_blobs else coasting).append((int(r), int(c)))
        height, width = frame_hw
        seen: list[ObjectTrack] = []
        matched_blobs = {c for _, c in pairs}
        matched_tracks = {r for r, _ in pairs} | {r for r, _ in coasting}
        for r, c in pairs:
            track, blob = self.tracks[r], blobs[c]
            if len(track.history) >= 5 and blob.area > self.cfg.merged_area * track.own_area():
                self._coast(track, blob, stamp_s)  # its blob is a group: go on along the prediction
            else:
                self._observe(track, blob, stamp_s, height, width)
            seen.append(track)
        for r, _ in coasting:
            self._coast(self.tracks[r], blobs[groups[r][0]], stamp_s)
            seen.append(self.tracks[r])
        survivors = [t for i, t in enumerate(self.tracks)
                     if i in matched_tracks or stamp_s - t.last.stamp_s <= self.cfg.max_missing_s]
        explained = matched_blobs | {groups[r][0] for r, _ in coasting}  # a group's blob is its members
        for c, blob in enumerate(blobs):
            if c not in explained and not blob.continues_only:
                track = ObjectTrack(0, deque(), first_s=stamp_s)
                self._observe(track, blob, stamp_s, height, width)
                survivors.append(track)
                seen.append(track)
        self.tracks = survivors
        return [t for t in seen if t.track_id]

    def _coast(self, track: ObjectTrack, group: Blob, stamp_s: float) -> None:
        """An observation at the track's predicted box (kept inside the group's blob)."""
        if track.occluded_s() > self.cfg.max_occluded_s:
            return
        x, y, w, h = track.predicted_box(stamp_s)
        gx, gy, gw, gh = group.box
        x = min(max(x, gx), gx + gw - w) if gw >= w else gx
        y = min(max(y, gy), gy + gh - h) if gh >= h else gy
        last = track.last
        track.history.append(Observation(stamp_s, (int(round(x)), int(round(y)), int(w), int(h)), last.area,
                                         last.on_border, predicted=True))
        while track.history[0].stamp_s < stamp_s - self.cfg.history_s:
            track.history.popleft()

    def _observe(self, track: ObjectTrack, blob: Blob, stamp_s: float, height: int, width: int) -> None:
        x, y, w, h = blob.box
        border = x <= 0 or y <= 0 or x + w >= width or y + h >= height
        change = math.nan
        if track.mask is not None and not border and min(blob.mask.shape) >= 6 and min(track.mask.shape) >= 6:
            change = mask_change(track.mask, blob.mask)
        track.history.append(Observation(stamp_s, blob.box, blob.area, border, change))
        while track.history[0].stamp_s < stamp_s - self.cfg.history_s:
            track.history.popleft()
        track.mask = blob.mask
        track.hits += 1
        if not track.track_id and track.hits >= self.cfg.min_hits:
            track.track_id = self._next_id
            self._next_id += 1


def mask_change(a: np.ndarray, b: np.ndarray) -> float:
    """1 - IoU of two blob masks resized to a common 16x8 grid (position and scale removed):
    how much a silhouette changed between two frames beyond its motion.

    >>> m = np.zeros((20, 8), bool); m[:, 2:6] = True
    >>> mask_change(m, m), round(mask_change(m, np.ones((20, 8), bool)), 2)
    (0.0, 0.5)
    """
    import cv2

    a = cv2.resize(a.astype(np.float32), (8, 16), interpolation=cv2.INTER_AREA) >= 0.5
    b = cv2.resize(b.astype(np.float32), (8, 16), interpolation=cv2.INTER_AREA) >= 0.5
    union = np.logical_or(a, b).sum()
    return 0.0 if union == 0 else float(1.0 - np.logical_and(a, b).sum() / union)
