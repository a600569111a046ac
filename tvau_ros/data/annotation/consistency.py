"""Cross-modal consistency verification between a timeline's appearance and its trajectory.

Two directions (paper §3.3):

* appearance -> motion: the trajectory is cut into legs at its turns and speed changes; each leg's
  own high-confidence colour measurements must agree with the timeline's appearance. A leg that
  looks like someone else means the trajectory stitches two targets together.
* motion -> appearance: the motion must be physically continuous for the appearance description
  to belong to one target: no jump of the target's extent between consecutive observations
  beyond ``max_step`` target heights per frame (away from image borders; the height is at least
  the timeline's median, so a target shrunk by an occluder is not mistaken for a jump).

Separately, ``describe`` decides which colours are clear enough to be stated at all: a split
vote or a tiny target leaves a colour unstated rather than guessed (the sample is kept).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tvau_ros.data.annotation.timeline import TargetTimeline
from tvau_ros.data.annotation.trajectory import Trajectory


@dataclass
class ConsistencyResult:
    ok: bool
    reasons: list[str] = field(default_factory=list)


def _legs(timeline: TargetTimeline, trajectory: Trajectory) -> list[tuple[int, int]]:
    cuts = sorted({t.frame for t in trajectory.turns} | {s.start for s in trajectory.speed_states})
    cuts = [c for c in cuts if timeline.start < c <= timeline.end]
    bounds = [timeline.start] + cuts + [timeline.end + 1]
    return [(a, b - 1) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def _leg_agreement(timeline: TargetTimeline, start: int, end: int,
                   stated: tuple[str | None, str | None]) -> tuple[float, int]:
    """Share of the leg's confident frames whose colours match the stated ones."""
    seen = [c for f, c in timeline.frame_colors.items() if start <= f <= end]
    if not seen:
        return 1.0, 0
    agree = sum(all(s is None or s == x for s, x in zip(stated, c, strict=True)) for c in seen)
    return agree / len(seen), len(seen)


def describe(timeline: TargetTimeline, min_color_conf: float = 0.65,
             min_height: int = 15) -> tuple[tuple[str | None, str | None], str]:
    """(top, bottom) colours clear enough to state, and why none is stated ("" when some is).

    A colour is stated when its vote share reaches ``min_color_conf``; nothing is stated for a
    target whose median height is below ``min_height`` pixels.
    """
    attrs = timeline.attributes
    height = float(np.median([o.height for o in timeline.observations]))
    if height < min_height:
        return (None, None), f"too small to describe ({height:.0f} px tall)"
    stated = attrs.stated(min_color_conf) if attrs else (None, None)
    if stated == (None, None):
        return stated, ("colours unclear" if attrs is None
                        else f"colours unclear (top {attrs.top_conf:.2f}, bottom {attrs.bottom_conf:.2f})")
    return stated, ""


def verify(timeline: TargetTimeline, trajectory: Trajectory, min_height: int = 15,
           min_leg_agreement: float = 0.5, min_leg_votes: int = 3, max_step: float = 0.6) -> ConsistencyResult:
    """Check one refined timeline against its trajectory; ``reasons`` says what failed.

    Appearance is only checked on targets at least ``min_height`` pixels tall (smaller ones
    have too few pixels to tell two people apart), against the colours that won at least half
    of the timeline's vote.
    """
    reasons = []
    attrs = timeline.attributes
    height = float(np.median([o.height for o in timeline.observations]))
    if attrs is not None and height >= min_height:
        majority = attrs.stated(0.5)
        for start, end in _legs(timeline, trajectory):
            share, n = _leg_agreement(timeline, start, end, majority)
            if n >= min_leg_votes and share < min_leg_agreement:
                reasons.append(f"appearance->motion: frames {start}-{end} look different ({share:.2f} agree)")
    obs = timeline.observations
    typical = float(np.median([o.height for o in obs]))
    for prev, cur in zip(obs, obs[1:], strict=False):
        if prev.touches or cur.touches:  # a target cut by the border changes shape legitimately
            continue
        scale = max(prev.height, cur.height, typical, 1)
        (px, py), (cx, cy) = (((o.extent[0] + o.extent[2]) / 2, (o.extent[1] + o.extent[3]) / 2)
                              for o in (prev, cur))
        step = float(np.hypot(cx - px, cy - py))
        if step > max_step * scale * (cur.frame - prev.frame):
            reasons.append(f"motion->appearance: jump of {step / scale:.2f} heights at frame {cur.frame}")
            break
    return ConsistencyResult(not reasons, reasons)
