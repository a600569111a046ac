"""Stable track ids for anomalous regions across processed clips.

Regions are matched to tracks by IoU (preferred) or, failing that, by centre distance, with
an optimal assignment; a region that carries its engine's ``object_id`` only matches the track
of that object (an object-level engine has already solved identity). The distance gate is
``max_center_distance`` (a fraction of the image
diagonal) or what a target moving at ``max_speed`` (diagonals per second) covers since the
track was last seen, whichever is larger: a slow engine or a processing stall does not break
tracks. A new track is *tentative* until it has ``min_hits`` matches over at least
``min_confirm_s`` seconds; then it is confirmed and
gets the next id (1, 2, 3, ...: ids are never reused). A tentative track that misses once is
dropped; a confirmed one ends after more than ``max_misses`` consecutive misses spanning more
than ``min_lost_s`` seconds (so neither a fast nor a slow engine ends episodes early). An unmatched
region lying mostly (``duplicate_overlap`` of its area) inside a matched track's box is a piece
of that target and starts no track of its own. The update reports which tracks were confirmed
(episode started) and which ended.

>>> from tvau_ros.core.types import Box, Region
>>> t = Tracker(TrackerConfig(min_hits=2, max_misses=1, min_lost_s=0.5))
>>> r = lambda x: [Region(Box(x, 10, 20, 20), 0.9, 0.8, 0.01)]
>>> s = 400_000_000  # 0.4 s between processed clips
>>> [t.update(r(x), stamp_ns=i * s, image_size=(100, 100)).started for i, x in enumerate([10, 14, 18])]
[[], [1], []]
>>> t.update([], 3 * s, (100, 100)).ended, t.update([], 4 * s, (100, 100)).ended
([], [1])
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from tvau_ros.core.types import NS_PER_S, Box, Region, Track


@dataclass(frozen=True)
class TrackerConfig:
    iou_threshold: float = 0.1
    max_center_distance: float = 0.15
    max_speed: float = 0.5
    min_hits: int = 2
    min_confirm_s: float = 0.0  # and at least this long since its first sighting
    max_misses: int = 3
    min_lost_s: float = 1.0
    duplicate_overlap: float = 0.5

    def __post_init__(self):
        if not 0.0 <= self.iou_threshold <= 1.0:
            raise ValueError(f"tracking.iou_threshold must be in [0, 1], got {self.iou_threshold}")
        if self.max_center_distance < 0:
            raise ValueError(f"tracking.max_center_distance must be >= 0, got {self.max_center_distance}")
        if self.max_speed < 0:
            raise ValueError(f"tracking.max_speed must be >= 0, got {self.max_speed}")
        if self.min_lost_s < 0:
            raise ValueError(f"tracking.min_lost_s must be >= 0, got {self.min_lost_s}")
        if self.min_hits < 1:
            raise ValueError(f"tracking.min_hits must be >= 1, got {self.min_hits}")
        if not self.min_confirm_s >= 0:
            raise ValueError(f"tracking.min_confirm_s must be >= 0, got {self.min_confirm_s}")
        if not 0.0 < self.duplicate_overlap <= 1.0:
            raise ValueError(f"tracking.duplicate_overlap must be in (0, 1], got {self.duplicate_overlap}")
        if self.max_misses < 0:
            raise ValueError(f"tracking.max_misses must be >= 0, got {self.max_misses}")


def assignment_solver() -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """scipy's ``linear_sum_assignment``, imported when a tracker is built (on configure), not
    on the first frame with objects: the import takes 0.4 s, and a node spending it mid-stream
    dropped the frames behind it (which changed what it tracked)."""
    from scipy.optimize import linear_sum_assignment

    return linear_sum_assignment


def _covered(inner: Box, outer: Box) -> float:
    """Fraction of ``inner``'s area inside ``outer``."""
    ix = min(inner.x_max, outer.x_max) - max(inner.x, outer.x) + 1
    iy = min(inner.y_max, outer.y_max) - max(inner.y, outer.y) + 1
    return 0.0 if ix <= 0 or iy <= 0 else ix * iy / inner.area


@dataclass
class TrackUpdate:
    """Result of one update: confirmed tracks alive now, ids whose episode started / ended."""

    tracks: list[Track] = field(default_factory=list)
    started: list[int] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)
    ended_tracks: list[Track] = field(default_factory=list)


class Tracker:
    def __init__(self, cfg: TrackerConfig = TrackerConfig()):
        self.cfg = cfg
        self._tracks: list[Track] = []  # tentative tracks have track_id 0
        self._next_id = 1
        self._solve = assignment_solver()

    @property
    def confirmed(self) -> list[Track]:
        return [t for t in self._tracks if t.confirmed]

    def _cost(self, track: Track, region: Region, diagonal: float, stamp_ns: int) -> float:
        if track.object_id and region.object_id:
            return 0.0 if track.object_id == region.object_id else math.inf
        iou = track.box.iou(region.box)
        if iou > 0 and iou >= self.cfg.iou_threshold:
            return 1.0 - iou
        (tx, ty), (rx, ry) = track.box.center(), region.box.center()
        dist = math.hypot(tx - rx, ty - ry) / diagonal
        elapsed_s = max(0, stamp_ns - track.last_stamp_ns) / NS_PER_S
        gate = max(self.cfg.max_center_distance, self.cfg.max_speed * elapsed_s)
        if dist <= gate:
            return 1.0 + dist / gate  # always worse than any IoU match
        return math.inf

    def _assign(self, regions: list[Region], diagonal: float, stamp_ns: int) -> list[tuple[int, int]]:
        if not self._tracks or not regions:
            return []
        cost = np.array([[self._cost(t, r, diagonal, stamp_ns) for r in regions] for t in self._tracks])
        feasible = np.isfinite(cost)
        rows, cols = self._solve(np.where(feasible, cost, 1e6))
        return [(int(i), int(j)) for i, j in zip(rows, cols, strict=True) if feasible[i, j]]

    def update(self, regions: list[Region], stamp_ns: int, image_size: tuple[int, int]) -> TrackUpdate:
        """Match ``regions`` (boxes in source pixels of an image of ``image_size`` = (h, w)).

        Sets ``region.track_id`` for regions of confirmed tracks (0 otherwise).
        """
        diagonal = max(1.0, math.hypot(*image_size))
        out = TrackUpdate()
        owner: dict[int, Track] = {}  # region index -> track it updated or created
        for ti, ri in self._assign(regions, diagonal, stamp_ns):
            track, region = self._tracks[ti], regions[ri]
            track.box, track.last_stamp_ns = region.box, stamp_ns
            if region.peak_score > track.peak_score:
                track.peak_score, track.label = region.peak_score, region.label
            track.object_id = track.object_id or region.object_id
            track.hits += 1
            track.misses = 0
            if not track.confirmed and track.hits >= self.cfg.min_hits and \
                    (stamp_ns - track.first_stamp_ns) / NS_PER_S >= self.cfg.min_confirm_s:
                self._confirm(track, out)
            owner[ri] = track
        matched = {id(t) for t in owner.values()}
        survivors = []
        for track in self._tracks:
            if id(track) not in matched:
                track.misses += 1
                if not track.confirmed:
                    continue  # a tentative track that misses is noise
                lost_s = (stamp_ns - track.last_stamp_ns) / NS_PER_S
                if track.misses > self.cfg.max_misses and lost_s > self.cfg.min_lost_s:
                    out.ended.append(track.track_id)
                    out.ended_tracks.append(replace(track))
                    continue
            survivors.append(track)
        matched_boxes = [t.box for t in owner.values()]
        for ri, region in enumerate(regions):
            if ri in owner:
                continue
            if not region.object_id and any(_covered(region.box, box) >= self.cfg.duplicate_overlap
                                            for box in matched_boxes):
                region.track_id = 0
                continue  # a piece of a target already tracked
            track = Track(0, region.box, stamp_ns, stamp_ns, region.peak_score, object_id=region.object_id,
                          label=region.label)
            if self.cfg.min_hits <= 1 and self.cfg.min_confirm_s <= 0:
                self._confirm(track, out)
            owner[ri] = track
            survivors.append(track)
        self._tracks = survivors
        for ri, track in owner.items():
            regions[ri].track_id = track.track_id  # 0 while the track is tentative
        out.tracks = [replace(t) for t in self._tracks if t.confirmed]
        return out

    def _confirm(self, track: Track, out: TrackUpdate) -> None:
        track.confirmed = True
        track.track_id = self._next_id
        self._next_id += 1
        out.started.append(track.track_id)

    def end_all(self) -> list[Track]:
        """End every confirmed track (stream reset); return them. Ids keep counting up."""
        ended = [replace(t) for t in self._tracks if t.confirmed]
        self._tracks = []
        return ended
