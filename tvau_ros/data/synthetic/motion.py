"""Actors and their per-frame states, built segment by segment with :class:`Script`.

>>> from tvau_ros.data.synthetic.layouts import Route
>>> s = Script(fps=10, start=0, pos=(0.0, 0.0), heading=0.0, phase=0.0)
>>> end = s.follow(Route([[0, 0], [0, 10]], 3.0), 0.0, 10.0, speed=2.0)
>>> len(s.states), round(s.states[-1].z, 1)
(50, 9.8)
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tvau_ros.data.synthetic.layouts import Route

# metres travelled per gait cycle (two steps) for a 1.72 m person
CYCLE_M = {"walk": 1.45, "walk_slow": 1.1, "carry": 1.25, "limp": 1.0, "run": 2.6, "crawl": 0.6}


@dataclass
class State:
    x: float
    z: float
    y: float
    heading: float
    gait: str
    phase: float
    params: dict | None
    abnormal: bool


@dataclass
class Actor:
    """Someone or something in the video. ``obj_id`` > 0 marks an abnormal target."""

    kind: str                      # person | cyclist | skater | car | van
    start: int
    states: list[State]
    look: object | None = None     # palette.Look for people
    obj_id: int = 0
    category: str | None = None
    color: tuple | None = None     # vehicle / bicycle BGR
    color_name: str | None = None
    carry: str | None = None
    subtle: bool = False
    behaviour: str = ""
    cache: dict = field(default_factory=dict, repr=False, compare=False)  # rendered figure cache

    def state(self, frame: int) -> State | None:
        i = frame - self.start
        return self.states[i] if 0 <= i < len(self.states) else None

    def state_count_in(self, num_frames: int) -> int:
        """How many of this actor's states fall inside frames [0, num_frames)."""
        return max(0, min(self.start + len(self.states), num_frames) - max(self.start, 0))

    def abnormal_frames(self, num_frames: int) -> np.ndarray:
        out = np.zeros(num_frames, bool)
        for i, st in enumerate(self.states):
            f = self.start + i
            if 0 <= f < num_frames and st.abnormal:
                out[f] = True
        return out


@dataclass
class Script:
    """Appends one state per frame; ``frame`` is the absolute frame of the next state."""

    fps: float
    start: int
    pos: tuple
    heading: float
    phase: float
    height_m: float = 1.72
    states: list[State] = field(default_factory=list)

    @property
    def frame(self) -> int:
        return self.start + len(self.states)

    def push(self, gait: str, abnormal: bool, y: float = 0.0, params: dict | None = None) -> None:
        self.states.append(State(float(self.pos[0]), float(self.pos[1]), y, float(self.heading), gait,
                                 float(self.phase), params, abnormal))

    def _advance_phase(self, gait: str, speed: float, rate_hz: float | None = None) -> None:
        if rate_hz is not None:
            self.phase += 2 * np.pi * rate_hz / self.fps
        else:
            cycle = CYCLE_M.get(gait, 1.45) * self.height_m / 1.72
            self.phase += 2 * np.pi * speed / cycle / self.fps

    def follow(self, route: Route, s0: float, s1: float, speed: float, gait: str = "walk",
               offset: float = 0.0, abnormal: bool = False, until: int | None = None,
               rate_hz: float | None = None) -> float:
        """Move along ``route`` from arc length s0 forward to s1; return the arc length reached."""
        step = speed / self.fps
        n = max(0, int(np.ceil((s1 - s0) / step))) if step > 0 else 0
        if until is not None:
            n = min(n, max(0, until - self.frame))
        if n == 0:
            return s0
        ss = s0 + step * np.arange(n)
        pos, heads = route.at_many(ss, offset)
        for i in range(n):
            self.pos, self.heading = (float(pos[i, 0]), float(pos[i, 1])), float(heads[i])
            self._advance_phase(gait, speed, rate_hz)
            self.push(gait, abnormal)
        return float(ss[-1] + step)

    def go_to(self, target: np.ndarray, speed: float, gait: str = "walk", abnormal: bool = False,
              until: int | None = None) -> None:
        """Straight line to ``target`` (x, z)."""
        start = np.asarray(self.pos, float)
        d = np.asarray(target, float) - start
        n = max(1, int(np.linalg.norm(d) / speed * self.fps))
        if np.linalg.norm(d) > 1e-6:
            self.heading = float(np.arctan2(d[0], d[1]))
        for k in range(1, n + 1):
            if until is not None and self.frame >= until:
                return
            self.pos = tuple(start + d * k / n)
            self._advance_phase(gait, speed)
            self.push(gait, abnormal)

    def hold(self, n: int, gait: str, abnormal: bool = False, rate_hz: float = 1.0,
             each: Callable[[int], dict] | None = None) -> None:
        """Stay in place for ``n`` frames; ``each(k)`` may return y, heading, pos, params."""
        for k in range(n):
            extra = each(k) if each else {}
            if "heading" in extra:
                self.heading = extra["heading"]
            if "pos" in extra:
                self.pos = extra["pos"]
            self._advance_phase(gait, 0.0, rate_hz)
            self.push(gait, abnormal, extra.get("y", 0.0), extra.get("params"))

    def actor(self, kind: str = "person", **kw: Any) -> Actor:
        return Actor(kind, self.start, self.states, **kw)
