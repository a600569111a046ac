"""Trajectory facts derived from a target timeline: entry/exit side, turns, speed states.

* Entry/exit side: the image border the target's extent touches in its first/last observation
  ("inside" when none); at a corner, the border it moves away from / towards.
* Ground track: the foot point (centroid column; centroid row plus the running median of the
  centroid-to-bottom distance; the lowest one within +-``FOOT_WINDOW_S`` above the local trend
  so a jump is not a move) mapped to metres on the ground through the camera recovered by
  ``ground.estimate_camera``, smoothed over ``SMOOTH_S``. Frames cut by an image border or
  partly hidden (height or area suddenly below the running median) are not measured
  (interpolated, or continued linearly at the ends).
* Speed states: ground speed over +-``SPEED_WINDOW_S`` thresholded into ``SPEED_STATES``
  (m/s); runs shorter than ``MIN_STATE_S`` are merged into their longer neighbour.
* Turns: heading change above ``TURN_MIN_DEG`` between the ``TURN_WINDOW_S`` before and after a
  frame (each leg at least ``TURN_MIN_LEG_M`` long on the ground, and one of them at least
  ``TURN_MIN_LEG_BODY`` of the target's median height in the image: far from the camera a
  pixel of jitter or a partly hidden foot is a metre on the ground); the strongest frame of each run of such
  frames is the turn. ``left``/``right`` is from the target's own point of view.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tvau_ros.data.annotation.extraction import FrameObservation
from tvau_ros.data.annotation.ground import GroundCamera
from tvau_ros.data.annotation.timeline import TargetTimeline

SPEED_STATES = (("stationary", 0.3), ("slow", 0.9), ("walking", 2.4), ("running", 5.5), ("fast", float("inf")))
FOOT_WINDOW_S = 0.25
FOOT_OFFSET_S = 0.5
OCCLUDED_SHARE = 0.85  # a frame whose height falls below this share of the running median is occluded
SMOOTH_S = 0.6
SPEED_WINDOW_S = 0.4
MIN_STATE_S = 0.6
TURN_WINDOW_S = 0.8
TURN_MIN_DEG = 45.0
TURN_MIN_LEG_M = 0.8
TURN_MIN_LEG_BODY = 0.4
_SIDE_NORMALS = {"left": (-1, 0), "right": (1, 0), "top": (0, -1), "bottom": (0, 1)}


@dataclass(frozen=True)
class Turn:
    frame: int
    direction: str  # "left" | "right"
    angle_deg: float


@dataclass(frozen=True)
class SpeedState:
    start: int
    end: int  # inclusive
    state: str


@dataclass
class Trajectory:
    entry_side: str
    exit_side: str
    entry_frame: int
    exit_frame: int
    turns: list[Turn] = field(default_factory=list)
    speed_states: list[SpeedState] = field(default_factory=list)
    distance_m: float = 0.0

    def to_dict(self) -> dict:
        return {
            "entry_side": self.entry_side, "exit_side": self.exit_side,
            "entry_frame": self.entry_frame, "exit_frame": self.exit_frame,
            "turns": [{"frame": t.frame, "direction": t.direction, "angle": round(abs(t.angle_deg), 1)}
                      for t in self.turns],
            "speed_states": [{"start": s.start, "end": s.end, "state": s.state} for s in self.speed_states],
            "distance_m": round(self.distance_m, 1),
        }


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average along axis 0, same length; the ends are point-reflected so a
    steady motion stays steady up to the first and last frame."""
    pad = min(window // 2, len(values) - 1)
    if pad < 1:
        return values
    window = 2 * pad + 1
    padded = np.pad(values, [(pad, pad)] + [(0, 0)] * (values.ndim - 1), mode="reflect", reflect_type="odd")
    kernel = np.ones(window) / window
    if values.ndim == 1:
        return np.convolve(padded, kernel, mode="valid")
    return np.stack([np.convolve(padded[:, d], kernel, mode="valid") for d in range(values.shape[1])], axis=1)


def _running_median(values: np.ndarray, half: int) -> np.ndarray:
    out = np.full(len(values), np.nan)
    for i in range(len(values)):
        window = values[max(0, i - half):i + half + 1]
        if np.isfinite(window).any():
            out[i] = np.nanmedian(window)
    return out


def _ground_contact(rows: np.ndarray, half: int) -> np.ndarray:
    """Lowest foot row near each frame, above the local linear trend (so a jump, feet briefly
    higher, is not read as moving away, and steady motion gets no lag)."""
    out = np.full(len(rows), np.nan)
    for i in range(len(rows)):
        j = np.arange(max(0, i - half), min(len(rows), i + half + 1))
        j = j[np.isfinite(rows[j])]
        if len(j) == 0:
            continue
        if len(j) < 3:
            out[i] = rows[j].max()
            continue
        slope, intercept = np.polyfit(j, rows[j], 1)
        out[i] = slope * i + intercept + float((rows[j] - (slope * j + intercept)).max())
    return out


def ground_track(timeline: TargetTimeline, camera: GroundCamera,
                 fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frames start..end, (N, 2) smoothed ground positions in metres, frames measured).

    The foot point is the target's centroid column and its centroid row plus the running
    median (``FOOT_OFFSET_S``) of the centroid-to-bottom distance, so leg swing does not move
    it; only frames not cut by an image border are measured, the rest interpolated, and
    continued linearly before the first and after the last measured frame.
    """
    frames = np.arange(timeline.start, timeline.end + 1)
    n = len(frames)
    cx, cy, bottom = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    height, area = np.full(n, np.nan), np.full(n, np.nan)
    usable = np.zeros(n, bool)
    for o in timeline.observations:
        i = o.frame - timeline.start
        (cx[i], cy[i]), bottom[i], usable[i] = o.centroid, o.foot[1], not o.touches
        height[i], area[i] = o.height, o.mask_area
    if not usable.any():  # always cut by a border: use what is seen
        usable = np.isfinite(cx)
    # partly hidden (by an occluder or another target): the visible part's feet are not its feet
    second = max(1, int(round(fps)))
    seen = usable & np.isfinite(cx)
    occluded = seen & ((height < OCCLUDED_SHARE * _running_median(np.where(seen, height, np.nan), second))
                       | (area < OCCLUDED_SHARE ** 2 * _running_median(np.where(seen, area, np.nan), second)))
    if (seen & ~occluded).any():
        usable = seen & ~occluded
    offset = np.where(usable, bottom - cy, np.nan)
    rows = np.where(usable, cy + _running_median(offset, max(1, int(round(FOOT_OFFSET_S * fps)))), np.nan)
    rows = _ground_contact(rows, max(1, int(round(FOOT_WINDOW_S * fps))))
    x, z = camera.ground_from_pixel(cx, rows)
    pos = np.stack([x, z], axis=1)
    good = usable & np.isfinite(pos).all(axis=1)
    if not good.any():
        return frames, np.zeros((n, 2)), good
    idx, g = np.arange(n), np.flatnonzero(good)
    pos = np.stack([np.interp(idx, g, pos[good, d]) for d in range(2)], axis=1)
    if len(g) > 1:
        m = min(len(g) - 1, max(1, int(round(0.5 * fps))))
        v0 = (pos[g[m]] - pos[g[0]]) / (g[m] - g[0])
        v1 = (pos[g[-1]] - pos[g[-1 - m]]) / (g[-1] - g[-1 - m])
        pos[:g[0]] = pos[g[0]] + (idx[:g[0]] - g[0])[:, None] * v0
        pos[g[-1] + 1:] = pos[g[-1]] + (idx[g[-1] + 1:] - g[-1])[:, None] * v1
    return frames, smooth(pos, max(3, int(round(SMOOTH_S * fps)) | 1)), good


def _merge_short(labels: np.ndarray, min_len: int) -> np.ndarray:
    """Relabel runs shorter than ``min_len`` with the longer neighbouring run, shortest first."""
    labels = labels.copy()
    while True:
        runs, start = [], 0
        for i in range(1, len(labels) + 1):
            if i == len(labels) or labels[i] != labels[start]:
                runs.append((start, i))
                start = i
        short = [(e - s, k) for k, (s, e) in enumerate(runs) if e - s < min_len]
        if not short or len(runs) == 1:
            return labels
        _, k = min(short)
        s, e = runs[k]
        neighbours = [runs[j] for j in (k - 1, k + 1) if 0 <= j < len(runs)]
        ns, _ = max(neighbours, key=lambda r: r[1] - r[0])
        labels[s:e] = labels[ns]


def speed_states(frames: np.ndarray, pos: np.ndarray, fps: float,
                 measured: np.ndarray | None = None) -> list[SpeedState]:
    """Inclusive frame runs of ``SPEED_STATES`` from ground positions (metres); frames not
    ``measured`` (positions continued past a border) take the state of the nearest measured one."""
    n = len(frames)
    k = max(1, int(round(SPEED_WINDOW_S * fps)))
    ahead, behind = np.minimum(np.arange(n) + k, n - 1), np.maximum(np.arange(n) - k, 0)
    span = np.maximum(ahead - behind, 1) / fps
    speed = np.linalg.norm(pos[ahead] - pos[behind], axis=1) / span
    labels = np.searchsorted([upper for _, upper in SPEED_STATES[:-1]], speed, side="right")
    if measured is not None and measured.any():
        seen = np.flatnonzero(measured)
        nearest = seen[np.clip(np.searchsorted(seen, np.arange(n)), 0, len(seen) - 1)]
        before = np.clip(np.searchsorted(seen, np.arange(n)) - 1, 0, len(seen) - 1)
        nearest = np.where(np.abs(seen[before] - np.arange(n)) < np.abs(nearest - np.arange(n)), seen[before], nearest)
        labels = labels[nearest]
    labels = _merge_short(labels, max(1, int(round(MIN_STATE_S * fps))))
    states, start = [], 0
    for i in range(1, n + 1):
        if i == n or labels[i] != labels[start]:
            states.append(SpeedState(int(frames[start]), int(frames[i - 1]), SPEED_STATES[labels[start]][0]))
            start = i
    return states


def image_track(timeline: TargetTimeline, fps: float) -> tuple[np.ndarray, float]:
    """((N, 2) smoothed centroid in pixels per frame start..end, interpolated where unseen;
    the target's median height in pixels)."""
    n = timeline.end - timeline.start + 1
    idx = np.array([o.frame - timeline.start for o in timeline.observations])
    centroids = np.array([o.centroid for o in timeline.observations], dtype=np.float64)
    pos = np.stack([np.interp(np.arange(n), idx, centroids[:, d]) for d in range(2)], axis=1)
    height = float(np.median([o.height for o in timeline.observations]))
    return smooth(pos, max(3, int(round(SMOOTH_S * fps)) | 1)), height


def detect_turns(frames: np.ndarray, pos: np.ndarray, fps: float,
                 image: tuple[np.ndarray, float] | None = None) -> list[Turn]:
    """Turns of a ground track (X right, Z away from the camera, metres); with ``image``
    (``image_track``), one of the two legs must also move ``TURN_MIN_LEG_BODY`` body heights in
    the image (the other may be foreshortened: a walk into the depth)."""
    w = max(2, int(round(TURN_WINDOW_S * fps)))
    candidates = []
    for i in range(w, len(frames) - w):
        v_in, v_out = pos[i] - pos[i - w], pos[i + w] - pos[i]
        if min(np.linalg.norm(v_in), np.linalg.norm(v_out)) < TURN_MIN_LEG_M:
            continue
        if image is not None:
            pixels, height = image
            legs = (np.linalg.norm(pixels[i] - pixels[i - w]), np.linalg.norm(pixels[i + w] - pixels[i]))
            if max(legs) < TURN_MIN_LEG_BODY * height:  # one leg may be foreshortened (into the depth)
                continue
        angle = np.degrees(np.arctan2(v_in[0] * v_out[1] - v_in[1] * v_out[0], float(np.dot(v_in, v_out))))
        if abs(angle) > TURN_MIN_DEG:
            candidates.append((i, float(angle)))
    turns, run = [], []
    for cand in candidates + [None]:
        if run and (cand is None or cand[0] != run[-1][0] + 1):
            i, angle = max(run, key=lambda c: abs(c[1]))
            if not turns or frames[i] - turns[-1].frame >= w:
                # counter-clockwise seen from above (X right, Z forward) is a left turn
                turns.append(Turn(int(frames[i]), "left" if angle > 0 else "right", angle))
            run = []
        if cand is not None:
            run.append(cand)
    return turns


def _border_side(touches: frozenset[str], motion: np.ndarray, leaving: bool) -> str:
    """The touched side the motion points away from (entering) or towards (leaving)."""
    if not touches:
        return "inside"
    sign = 1.0 if leaving else -1.0
    return max(sorted(touches), key=lambda s: sign * float(np.dot(_SIDE_NORMALS[s], motion)))


def _centre(obs: FrameObservation) -> np.ndarray:
    return np.array([(obs.extent[0] + obs.extent[2]) / 2, (obs.extent[1] + obs.extent[3]) / 2])


def derive_trajectory(timeline: TargetTimeline, fps: float, camera: GroundCamera) -> Trajectory:
    """Entry/exit side, turns and speed states of one timeline."""
    obs = timeline.observations
    first, last = obs[0], obs[-1]
    span = max(1, int(round(0.5 * fps)))
    after = next((o for o in obs if o.frame >= first.frame + span), last)
    before = next((o for o in reversed(obs) if o.frame <= last.frame - span), first)
    frames, pos, measured = ground_track(timeline, camera, fps)
    return Trajectory(
        entry_side=_border_side(first.touches, _centre(after) - _centre(first), leaving=False),
        exit_side=_border_side(last.touches, _centre(last) - _centre(before), leaving=True),
        entry_frame=first.frame, exit_frame=last.frame,
        turns=detect_turns(frames, pos, fps, image_track(timeline, fps)),
        speed_states=speed_states(frames, pos, fps, measured),
        distance_m=float(np.linalg.norm(np.diff(pos, axis=0), axis=1).sum()) if len(pos) > 1 else 0.0,
    )
