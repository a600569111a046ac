"""Fragments of one target rejoined after binary-mask association.

Without instance ids (binary masks, or a heatmap thresholded into a mask) frame-to-frame
association breaks one target into several timelines in two ways, both common in crowds:

* **pieces**: a target's mask splits into parts (legs apart from the body, a person cut by a
  pole, two people whose masks touch and part again); the smaller part starts a timeline of its
  own that lives inside the bigger one's span, right next to it;
* **hand-overs**: a target's timeline ends inside the image (it merged with another target's
  mask or was occluded) and a new one starts where it was, a moment later, or while the old one
  fades out (distances in the target's usual height: it often ends and restarts as a sliver);
* **split-offs**: a blob much smaller than a target appears inside the image beside it (a thrown
  or dropped object, which the ground truth counts as part of the person).

``stitch_fragments`` rejoins all three; never, as a piece or split-off, a timeline that entered
through an image border after the other one started (a second person walking in beside the
first), nor one present from the first frame (it was not split off anything seen). Hand-overs
may come through a border: a target entering is often cut into a fading sliver and its body
(refusing those cost 3.6 points of faithfulness on the benchmark). Merged timelines keep, per
frame, their largest piece (``merge_timelines``). Cost: each pair of
timelines that could be one target (by their spans) is judged once, plus once per merge for the
merged one (200 fragments: 0.17 s when they are short flickers, 1.1 s when they
overlap for a minute, on one core: ``scripts/bench_stitching.py``).

Measured on the default benchmark's 64 abnormal validation + test videos with ground-truth
masks as the evidence (``docs/dialogue.md``, "Target count"): the number of targets matches the
truth in all 64 videos instead of 53.

>>> from tvau_ros.data.annotation.extraction import FrameObservation
>>> def obs(f, x, y, h=20):
...     return FrameObservation(f, None, (x, y, x + 8, y + h), (x, y, x + 8, y + h), 8 * h, 8 * h,
...                             (x + 4.0, y + h / 2), (x + 4.0, float(y + h)), frozenset(), None)
>>> walker = TargetTimeline(1, None, [obs(f, 100 + f, 50) for f in range(0, 40)])
>>> later = TargetTimeline(2, None, [obs(f, 100 + f, 50) for f in range(44, 80)])   # after 4 frames unseen
>>> stitch_fragments([walker, later], fps=15.0, first_frame=0, last_frame=99)
[[0, 1]]
"""
from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from tvau_ros.data.annotation.extraction import FrameObservation
from tvau_ros.data.annotation.timeline import TargetTimeline


@dataclass(frozen=True)
class StitchConfig:
    adjacency: float = 1.0       # boxes this many target heights apart (or closer) touch
    piece_share: float = 0.5     # a piece touches the bigger timeline in at least this share of its frames
    slack_s: float = 0.5         # a piece may outlive the bigger timeline by this much
    overlap_s: float = 1.5       # a hand-over's two timelines may coexist this long
    gap_s: float = 1.0           # a moving target may be unseen this long ...
    reach_per_s: float = 0.6     # ... and move this many heights per second meanwhile
    still_gap_s: float = 4.0     # a target reappearing within one height of where it vanished
    split_off_area: float = 0.25  # a blob this small against a target, appearing beside it ...
    split_off_reach: float = 3.0  # ... within this many of its heights: something it threw or dropped


def _largest_per_frame(observations: Iterable[FrameObservation]) -> list[FrameObservation]:
    by_frame: dict[int, FrameObservation] = {}
    for obs in observations:
        if obs.frame not in by_frame or obs.mask_area > by_frame[obs.frame].mask_area:
            by_frame[obs.frame] = obs
    return [by_frame[f] for f in sorted(by_frame)]


def merge_timelines(members: list[TargetTimeline], track_id: int = 0) -> TargetTimeline:
    """One timeline of several: per frame, the observation with the largest mask. With a
    ``track_id``, the observations (shared with ``members``, not copied) are given that id."""
    observations = _largest_per_frame(o for member in members for o in member.observations)
    if track_id:
        for obs in observations:
            obs.track_id = track_id
    return TargetTimeline(track_id, None, observations)


@dataclass
class _Group:
    """Timelines joined so far (per frame their largest piece), with what the rules look up."""
    members: list[int]
    frames: dict[int, FrameObservation]
    index: np.ndarray    # frames, ascending
    extents: np.ndarray  # (N, 4) inclusive x1, y1, x2, y2 per frame
    height: float        # median box height
    area: float          # median mask area

    @classmethod
    def of(cls, members: list[int], observations: list[FrameObservation]) -> _Group:
        """``observations``: one per frame, in frame order."""
        return cls(members, {o.frame: o for o in observations}, np.array([o.frame for o in observations]),
                   np.array([o.extent for o in observations], dtype=np.float64),
                   float(np.median([o.height for o in observations])),
                   float(np.median([o.mask_area for o in observations])))

    def joined(self, other: _Group) -> _Group:
        return _Group.of(self.members + other.members, _largest_per_frame([*self.frames.values(),
                                                                            *other.frames.values()]))

    @property
    def first(self) -> FrameObservation:
        return self.frames[self.start]

    @property
    def last(self) -> FrameObservation:
        return self.frames[self.end]

    @property
    def start(self) -> int:
        return int(self.index[0])

    @property
    def end(self) -> int:
        return int(self.index[-1])


def _box_gap(a: FrameObservation, b: FrameObservation) -> float:
    """Pixels between the two extents (0 when they overlap)."""
    ax1, ay1, ax2, ay2 = a.extent
    bx1, by1, bx2, by2 = b.extent
    return float(np.hypot(max(0, bx1 - ax2, ax1 - bx2), max(0, by1 - ay2, ay1 - by2)))


def _touching_share(a: _Group, b: _Group, adjacency: float, of_shared: bool = False) -> float:
    """Share of ``b``'s frames (or of the frames both are seen in) where the two touch: within
    ``adjacency`` heights of the target in that frame, or of ``a``'s median height when larger
    (slivers of someone cut by the image border are a few pixels tall)."""
    _, ia, ib = np.intersect1d(a.index, b.index, assume_unique=True, return_indices=True)
    if not len(ia):
        return 0.0
    ea, eb = a.extents[ia], b.extents[ib]
    dx = np.maximum(0, np.maximum(eb[:, 0] - ea[:, 2], ea[:, 0] - eb[:, 2]))
    dy = np.maximum(0, np.maximum(eb[:, 1] - ea[:, 3], ea[:, 1] - eb[:, 3]))
    height = np.maximum(np.maximum(ea[:, 3] - ea[:, 1], eb[:, 3] - eb[:, 1]) + 1, a.height)
    touching = int(np.count_nonzero(np.hypot(dx, dy) <= adjacency * height))
    return touching / (len(ia) if of_shared else len(b.index))


def _walked_in(a: _Group, b: _Group, slack: float) -> bool:
    """``b`` came in through an image border after ``a`` was there: someone else."""
    return bool(b.first.touches) and b.start > a.start + slack


def _is_piece(a: _Group, b: _Group, fps: float, cfg: StitchConfig) -> bool:
    slack = cfg.slack_s * fps
    if a.start > b.start or b.end > a.end + slack or len(a.frames) < len(b.frames) or _walked_in(a, b, slack):
        return False
    return _touching_share(a, b, cfg.adjacency) >= cfg.piece_share


def _split_off(a: _Group, b: _Group, cfg: StitchConfig) -> float | None:
    """How far (in ``a``'s heights) ``b`` appeared from ``a`` when ``b`` is a small blob that
    appeared inside the image while ``a`` was there (a thrown or dropped object); else None."""
    first = b.first
    near = a.frames.get(b.start)
    if first.touches or near is None or b.area >= cfg.split_off_area * a.area:
        return None
    gap = _box_gap(near, first) / max(a.height, 1.0)
    return gap if gap <= cfg.split_off_reach else None


def _hand_over(a: _Group, b: _Group, fps: float, cfg: StitchConfig) -> tuple | None:
    """A sort key when ``b`` continues ``a`` (smaller = more certain), else None."""
    gap = b.start - a.end
    if gap <= 0:
        if (-gap > cfg.overlap_s * fps
                or _touching_share(a, b, cfg.adjacency, of_shared=True) < cfg.piece_share):
            return None
        return (0, gap)
    last, first = a.last, b.first
    # a target often ends and restarts as a sliver (occluded, half out of view): its usual height
    height = max(last.height, first.height, a.height, b.height)
    dist = float(np.hypot(first.centroid[0] - last.centroid[0], first.centroid[1] - last.centroid[1]))
    if gap <= cfg.gap_s * fps and dist <= height * (1 + cfg.reach_per_s * gap / fps):
        return (1, dist / height)
    if gap <= cfg.still_gap_s * fps and dist <= height:
        return (2, dist / height)
    return None


def _join_key(a: _Group, b: _Group, fps: float, first_frame: int, last_frame: int,
              cfg: StitchConfig) -> tuple | None:
    """Whether ``b`` joins ``a`` and how surely (smaller first: pieces, split-offs, hand-overs)."""
    if b.start <= first_frame or b.start < a.start or b.start > a.end + cfg.still_gap_s * fps:
        return None
    if _is_piece(a, b, fps, cfg):
        return (0, (b.start, a.start))
    gap = _split_off(a, b, cfg)
    if gap is not None:
        return (1, (gap, b.start, a.start))
    if a.end >= last_frame or b.start <= a.start or b.end <= a.end:
        return None
    key = _hand_over(a, b, fps, cfg)
    return None if key is None else (2, (key, a.start, b.start))


def stitch_fragments(timelines: list[TargetTimeline], fps: float, first_frame: int, last_frame: int,
                     config: StitchConfig = StitchConfig()) -> list[list[int]]:
    """Groups of indices into ``timelines`` that are one target, ordered by first frame.

    ``first_frame`` / ``last_frame``: the frames the observations cover (a timeline there was
    not split off anything / did not end)."""
    groups = {i: _Group.of([i], tl.observations) for i, tl in enumerate(timelines) if tl.observations}
    heap: list[tuple] = []

    def judge(ia: int, ib: int) -> None:
        key = _join_key(groups[ia], groups[ib], fps, first_frame, last_frame, config)
        if key is not None:
            heapq.heappush(heap, (key, ia, ib))

    for ia in groups:
        for ib in groups:
            if ia != ib:
                judge(ia, ib)
    next_id = len(timelines)
    while heap:
        _, keep, gone = heapq.heappop(heap)
        if keep not in groups or gone not in groups:
            continue   # judged before one of them was merged into something else
        groups[next_id] = groups.pop(keep).joined(groups.pop(gone))
        for other in list(groups):
            if other != next_id:
                judge(next_id, other)
                judge(other, next_id)
        next_id += 1
    return sorted((sorted(g.members) for g in groups.values()), key=lambda g: min(timelines[i].start for i in g))


def stitch_timelines(timelines: list[TargetTimeline], fps: float, first_frame: int, last_frame: int,
                     config: StitchConfig = StitchConfig()) -> list[tuple[TargetTimeline, list[int]]]:
    """``stitch_fragments``, each group merged (``merge_timelines``, track ids 1, 2, ... by first
    frame), with the indices of its members."""
    groups = stitch_fragments(timelines, fps, first_frame, last_frame, config)
    return [(merge_timelines([timelines[i] for i in group], n), group) for n, group in enumerate(groups, start=1)]
