"""Identity association of frame observations into target timelines, and their refinement.

Association uses mask object ids when the dataset has them (UBnormal); otherwise (binary masks,
e.g. ShanghaiTech) observations are linked frame to frame by box IoU, falling back to centroid
distance in units of the target's height, across gaps of up to ``max_gap`` frames.

Refinement (paper §3.3, "anomaly-focused refinement"): the background outside the mask is
suppressed with a Gaussian blur (``suppress_background``), attributes are re-measured on that
frame over the mask only (``FrameObservation.refined``), and only confident observations
(clear colour votes, not cut by an image border, not shrunk by occlusion) vote for the
timeline's attributes; those agreeing with the vote form the high-confidence timeline.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from tvau_ros.data.annotation.colors import PALETTE
from tvau_ros.data.annotation.extraction import MIN_REGION_PIXELS, Appearance, Box, FrameObservation, size_class


@dataclass
class TimelineAttributes:
    """Appearance attributes aggregated over a timeline's high-confidence observations."""
    top_color: str | None
    bottom_color: str | None
    size_class: str
    accessories: tuple[str, ...]  # not measurable from pixels at these sizes: always empty
    top_conf: float
    bottom_conf: float
    support: int          # observations that voted
    upright: bool = True  # False: lying, crawling or a vehicle (top = front half, bottom = back)

    @property
    def confidence(self) -> float:
        return min(self.top_conf, self.bottom_conf)

    def stated(self, min_conf: float) -> tuple[str | None, str | None]:
        """(top, bottom) colours clear enough to be stated; None where the vote is too split."""
        return (self.top_color if self.top_conf >= min_conf else None,
                self.bottom_color if self.bottom_conf >= min_conf else None)


@dataclass
class TargetTimeline:
    """One target's observations in frame order, with its aggregated attributes once refined."""
    track_id: int
    object_id: int | None
    observations: list[FrameObservation] = field(default_factory=list)
    attributes: TimelineAttributes | None = None
    confident_frames: list[int] = field(default_factory=list)  # clear, unoccluded measurements
    frame_colors: dict[int, tuple[str, str]] = field(default_factory=dict)  # (top, bottom) per frame
    high_conf_frames: list[int] = field(default_factory=list)  # ... that agree with the attributes

    @property
    def start(self) -> int:
        return self.observations[0].frame

    @property
    def end(self) -> int:
        return self.observations[-1].frame

    def at(self, frame: int) -> FrameObservation | None:
        return next((o for o in self.observations if o.frame == frame), None)


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two inclusive (x1, y1, x2, y2) boxes.

    >>> box_iou((0, 0, 9, 9), (5, 0, 14, 9))
    0.3333333333333333
    """
    iw = min(a[2], b[2]) - max(a[0], b[0]) + 1
    ih = min(a[3], b[3]) - max(a[1], b[1]) + 1
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    area = lambda r: (r[2] - r[0] + 1) * (r[3] - r[1] + 1)  # noqa: E731
    return inter / float(area(a) + area(b) - inter)


def _link_score(last: FrameObservation, new: FrameObservation, max_gap: int, min_iou: float,
                max_jump: float) -> float | None:
    """Higher is better; None when the two cannot be the same target."""
    gap = new.frame - last.frame
    if gap <= 0 or gap > max_gap:
        return None
    iou = box_iou(last.box, new.box)
    if iou >= min_iou:
        return 1.0 + iou
    dist = np.hypot(new.centroid[0] - last.centroid[0], new.centroid[1] - last.centroid[1])
    scale = max(last.height, new.height, 1)
    reach = max_jump * scale * gap
    return None if dist > reach else 1.0 - dist / reach


def associate(observations: list[FrameObservation], use_ids: bool, max_gap: int = 10,
              min_iou: float = 0.1, max_jump: float = 0.6) -> list[TargetTimeline]:
    """Group observations into timelines, ordered by first frame (track ids 1, 2, ...)."""
    ordered = sorted(observations, key=lambda o: (o.frame, o.object_id or 0, o.box))
    timelines: list[TargetTimeline] = []
    if use_ids:
        by_id: dict[int, TargetTimeline] = {}
        for obs in ordered:
            tl = by_id.setdefault(obs.object_id, TargetTimeline(0, obs.object_id))
            tl.observations.append(obs)
        timelines = list(by_id.values())
    else:
        frames = sorted({o.frame for o in ordered})
        for f in frames:
            new = [o for o in ordered if o.frame == f]
            pairs = []
            for ti, tl in enumerate(timelines):
                for ni, obs in enumerate(new):
                    score = _link_score(tl.observations[-1], obs, max_gap, min_iou, max_jump)
                    if score is not None:
                        pairs.append((score, ti, ni))
            used_t, used_n = set(), set()
            for _score, ti, ni in sorted(pairs, reverse=True):
                if ti in used_t or ni in used_n:
                    continue
                used_t.add(ti)
                used_n.add(ni)
                timelines[ti].observations.append(new[ni])
            for ni, obs in enumerate(new):
                if ni not in used_n:
                    timelines.append(TargetTimeline(0, None, [obs]))
    timelines.sort(key=lambda t: (t.start, t.object_id or 0))
    for i, tl in enumerate(timelines, start=1):
        tl.track_id = i
        for obs in tl.observations:
            obs.track_id = i
    return timelines


def suppress_background(frame: np.ndarray, mask: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """The frame with everything outside ``mask`` replaced by its Gaussian-blurred version.

    ``sigma`` defaults to 2% of the larger image side (at least 3 px).
    """
    if sigma is None:
        sigma = max(3.0, 0.02 * max(frame.shape[:2]))
    # a wide blur loses nothing when computed at reduced resolution (and is much cheaper)
    factor = max(1, int(sigma // 2))
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    blurred = cv2.resize(cv2.GaussianBlur(small, (0, 0), sigma / factor), (w, h), interpolation=cv2.INTER_LINEAR)
    keep = (mask > 0)[..., None]
    return np.where(keep, frame, blurred)


def _motion_x(timeline: TargetTimeline, span: int = 3) -> dict[int, float]:
    """Horizontal velocity (px / frame) of the extent centre at each observed frame."""
    obs = timeline.observations
    cx = [(o.extent[0] + o.extent[2]) / 2 for o in obs]
    out = {}
    for i, o in enumerate(obs):
        a, b = max(0, i - span), min(len(obs) - 1, i + span)
        out[o.frame] = (cx[b] - cx[a]) / max(obs[b].frame - obs[a].frame, 1)
    return out


def _oriented(obs: FrameObservation, app: Appearance, vx: float) -> tuple[np.ndarray, np.ndarray] | None:
    """(top, bottom) votes: body bands when upright, else (front, back) halves by motion."""
    if app.upright:
        top, bottom = app.votes.get("top"), app.votes.get("bottom")
    elif abs(vx) >= max(0.5, 0.02 * obs.width):
        front, back = ("right", "left") if vx > 0 else ("left", "right")
        top, bottom = app.votes.get(front), app.votes.get(back)
    else:
        return None
    if top is None or bottom is None or min(top.sum(), bottom.sum()) < MIN_REGION_PIXELS:
        return None
    return top, bottom


def _share(v: np.ndarray) -> tuple[str, float]:
    best = int(np.argmax(v))
    return PALETTE[best], float(v[best] / v.sum())


def refine_timeline(timeline: TargetTimeline, frame_shape: tuple[int, int], min_conf: float = 0.5,
                    use_refined: bool = True) -> TargetTimeline:
    """Aggregate attributes over the timeline's confident observations (in place).

    An observation is confident when both its regions have a clear winner (vote share >=
    ``min_conf``), it is not cut by an image border and not shrunk by occlusion (at least 60%
    of the median mask area). The timeline's colours are the winners of the summed, per-frame
    normalised votes of confident observations of the timeline's majority posture (upright or
    wide; a wide target is voted by its halves, front = the side it moves towards). With
    ``use_refined`` False the coarse (raw-frame, whole-box) measurements are used; the report
    shows what refinement adds that way.
    """
    obs = timeline.observations
    measured = [(o, o.refined if use_refined and o.refined is not None else o.coarse) for o in obs]
    upright = sum(a.upright for _, a in measured) >= 0.5 * len(measured)
    median_area = float(np.median([o.mask_area for o in obs]))
    vx = _motion_x(timeline)
    candidates = []
    for o, a in measured:
        if a.upright != upright:
            continue
        pair = _oriented(o, a, vx[o.frame])
        if pair is not None:
            candidates.append((o, pair, min(_share(pair[0])[1], _share(pair[1])[1])))
    kept = [c for c in candidates if c[2] >= min_conf and not c[0].touches
            and c[0].mask_area >= 0.6 * median_area]
    if not kept:  # nothing clear: fall back to every measured observation
        kept = candidates
    if kept:
        top = _share(sum(p[0] / p[0].sum() for _, p, _ in kept))
        bottom = _share(sum(p[1] / p[1].sum() for _, p, _ in kept))
    else:
        top = bottom = (None, 0.0)
    height, width = frame_shape
    timeline.attributes = TimelineAttributes(
        top_color=top[0], bottom_color=bottom[0],
        size_class=size_class(float(np.mean([o.mask_area for o in obs])), height * width),
        accessories=(), top_conf=top[1], bottom_conf=bottom[1], support=len(kept), upright=upright)
    timeline.frame_colors = {o.frame: (_share(p[0])[0], _share(p[1])[0]) for o, p, _ in kept}
    timeline.confident_frames = [o.frame for o, _, _ in kept]
    timeline.high_conf_frames = [f for f, c in timeline.frame_colors.items() if c == (top[0], bottom[0])]
    return timeline
