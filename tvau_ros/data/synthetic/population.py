"""Per-video placement helpers (:class:`VideoContext`) and normal life: walkers alone and
in groups following the walkways at 1.1-1.55 m/s, people standing and talking, cars on roads.

Normal people never step on lawns or flower beds, always follow one-way arrows, and never
run, ride or carry large objects: those are the anomalies.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tvau_ros.data.synthetic import layouts as L
from tvau_ros.data.synthetic.camera import Camera
from tvau_ros.data.synthetic.motion import Actor, Script
from tvau_ros.data.synthetic.palette import VEHICLE_COLORS, Look, sample_look, shade
from tvau_ros.data.synthetic.scene import Scene


MIN_PX = 22.0            # a target this tall (pixels) or more is plainly visible
SUBTLE_PX = (9.0, 22.0)  # subtle targets are placed where a person is this tall


class Infeasible(Exception):
    """This scene/camera cannot host the requested behaviour; try another draw."""


@dataclass
class Visibility:
    s: np.ndarray
    xz: np.ndarray
    any: np.ndarray      # some of the body is in the image
    full: np.ndarray     # the whole body is well inside the image
    depth: np.ndarray


@dataclass
class VideoContext:
    scene: Scene
    rng: np.random.Generator
    num_frames: int
    fps: float
    extra_props: list = field(default_factory=list)

    @property
    def cam(self) -> Camera:
        return self.scene.cam

    def visibility(self, route: L.Route, step: float = 0.25) -> Visibility:
        s = np.arange(0.0, route.length, step)
        x = np.interp(s, route.cum, route.points[:, 0])
        z = np.interp(s, route.cum, route.points[:, 1])
        w, h = self.cam.width, self.cam.height
        foot, depth = self.cam.project(np.c_[x, np.zeros_like(x), z])
        head, _ = self.cam.project(np.c_[x, np.full_like(x, 1.75), z])
        ok = depth > 1.0

        def inside(p: np.ndarray, mu: float = 0.0, mv: float = 0.0) -> np.ndarray:
            return (p[:, 0] >= mu * w) & (p[:, 0] < (1 - mu) * w) & (p[:, 1] >= mv * h) & (p[:, 1] < (1 - mv) * h)
        any_ = ok & (inside(foot) | inside(head))
        full = ok & inside(foot, 0.06, 0.02) & inside(head, 0.06, 0.02)
        return Visibility(s, np.c_[x, z], any_, full, depth)

    def visible_range(self, route: L.Route) -> tuple[float, float] | None:
        vis = self.visibility(route)
        idx = np.flatnonzero(vis.any)
        if idx.size == 0:
            return None
        return float(vis.s[idx[0]]), float(vis.s[idx[-1]])

    def oriented(self, route: L.Route, reverse: bool | None = None) -> L.Route:
        """The route in a walking direction allowed for normal people (random if two-way)."""
        if route.one_way:
            return route
        if reverse is None:
            reverse = bool(self.rng.random() < 0.5)
        return route.reversed() if reverse else route

    def walk_routes(self, min_visible: float = 4.0) -> list[tuple[L.Route, float]]:
        out = []
        for r in self.scene.walk_routes:
            vis = self.visibility(r)
            length = vis.any.sum() * 0.25
            if length >= min_visible:
                out.append((r, length))
        return out

    def pick_route(self, subtle: bool = False, min_visible: float = 6.0, one_way: bool | None = None,
                   min_width: float = 0.0) -> L.Route:
        cands = [(r, n) for r, n in self.walk_routes(min_visible)
                 if (one_way is None or r.one_way == one_way) and r.width >= min_width]
        if not cands:
            raise Infeasible("no suitable walkway in view")
        if subtle:
            depths = [float(np.median(self.visibility(r).depth[self.visibility(r).any])) for r, _ in cands]
            order = np.argsort(depths)[::-1]
            cands = [cands[i] for i in order[:max(1, len(cands) // 2)]]
        w = np.array([n for _, n in cands])
        return cands[self.rng.choice(len(cands), p=w / w.sum())][0]

    def person_px(self, vis: Visibility) -> np.ndarray:
        """Apparent height in pixels of a 1.7 m person at each sample."""
        return self.cam.focal * 1.7 / np.maximum(vis.depth, 1e-3)

    def size_pool(self, vis: Visibility, subtle: bool, where: np.ndarray | None = None) -> np.ndarray:
        """Indices of fully visible samples where a person has a fitting size: at least
        MIN_PX tall, or between SUBTLE_PX for subtle targets (the smallest ones otherwise)."""
        idx = np.flatnonzero(vis.full if where is None else vis.full & where)
        if idx.size == 0:
            return idx
        px = self.person_px(vis)[idx]
        pool = idx[(px >= SUBTLE_PX[0]) & (px <= SUBTLE_PX[1])] if subtle else idx[px >= MIN_PX]
        if pool.size < 3:
            order = idx[np.argsort(px)]
            k = max(1, len(order) // 3)
            pool = order[:k] if subtle else order[-k:]
        return pool

    def pick_point(self, route: L.Route, subtle: bool) -> float:
        """Arc length of a point where a person is fully in view and of a fitting size."""
        vis = self.visibility(route)
        pool = self.size_pool(vis, subtle)
        if pool.size == 0:
            raise Infeasible("route has no fully visible stretch")
        return float(vis.s[self.rng.choice(pool)])

    def entry(self, route: L.Route, speed: float, enter_frame: int) -> tuple[int, float]:
        """(start frame, start arc length) so that the actor comes into view at ``enter_frame``."""
        rng_ = self.visible_range(route)
        if rng_ is None:
            raise Infeasible("route not visible")
        s_in = rng_[0]
        s0 = max(0.0, s_in - 2.0)
        return enter_frame - int(round((s_in - s0) / speed * self.fps)), s0

    def script(self, start: int, pos: np.ndarray, heading: float, height_m: float = 1.72) -> Script:
        return Script(self.fps, start, tuple(pos), heading, float(self.rng.uniform(0, 2 * np.pi)), height_m)

    def on_walkable(self, xz: np.ndarray) -> bool:
        return int(self.scene.ground.code_at(xz[0], xz[1])) in L.WALKABLE


def walker(ctx: VideoContext, route: L.Route, speed: float, enter_frame: int, offset: float,
           look: Look | None = None, gait: str = "walk") -> Actor:
    look = look or sample_look(ctx.rng)
    start, s0 = ctx.entry(route, speed, enter_frame)
    sc = ctx.script(start, route.at(s0)[0], 0.0, look.height_m)
    sc.follow(route, s0, route.length, speed, gait, offset, until=ctx.num_frames)
    return sc.actor("person", look=look, behaviour=gait)


def populate(ctx: VideoContext, density: int) -> list[Actor]:
    """Normal people (and cars) so that about ``density`` people are in view at a time."""
    rng, T, fps = ctx.rng, ctx.num_frames, ctx.fps
    actors: list[Actor] = []
    routes = ctx.walk_routes()
    standing = 0
    if routes and density >= 4:
        for _ in range(rng.integers(0, 3)):
            standing += _standing_group(ctx, routes, actors)
    if routes:
        vis_time = np.mean([n for _, n in routes]) / 1.35
        n_walk = max(1, density - standing)
        total = int(round(n_walk * (T / fps + vis_time) / vis_time))
        weights = np.array([n for _, n in routes])
        made = 0
        while made < total:
            route = ctx.oriented(routes[rng.choice(len(routes), p=weights / weights.sum())][0])
            enter = int(rng.uniform(-vis_time, T / fps) * fps)
            size = 1 if rng.random() > 0.25 else int(rng.integers(2, 4))
            speed = rng.uniform(1.2, 1.55) if size == 1 else rng.uniform(1.1, 1.35)
            half = max(0.0, route.width / 2 - 0.45)
            base = rng.uniform(-0.6, 0.6) * half
            for k in range(size):
                off = float(np.clip(base + (k - (size - 1) / 2) * 0.65, -half, half))
                actors.append(walker(ctx, route, speed, enter + int(rng.integers(-2, 3)), off))
            made += size
    for route in ctx.scene.drive_routes:
        for _ in range(rng.poisson(T / fps / 5.0)):
            speed = rng.uniform(6.0, 11.0)
            start, s0 = ctx.entry(route, speed, int(rng.uniform(-3, T / fps) * fps))
            sc = ctx.script(start, route.at(s0)[0], 0.0)
            sc.follow(route, s0, route.length, speed, "drive", until=T)
            name = VEHICLE_COLORS[rng.integers(len(VEHICLE_COLORS))]
            actors.append(sc.actor("car" if rng.random() < 0.75 else "van", color=shade(name, rng),
                                   color_name=name, behaviour="driving"))
    return actors


def _standing_group(ctx: VideoContext, routes: list[tuple[L.Route, float]], actors: list[Actor]) -> int:
    rng = ctx.rng
    route = routes[rng.integers(len(routes))][0]
    try:
        s = ctx.pick_point(route, subtle=bool(rng.random() < 0.4))
    except Infeasible:
        return 0
    size = int(rng.integers(1, 4))
    edge = (route.width / 2 - 0.7) * (1 if rng.random() < 0.5 else -1)
    center, _ = route.at(s, edge if size > 1 else edge * 1.1)
    if not ctx.on_walkable(center):
        return 0
    rot = rng.uniform(0, 2 * np.pi)
    for k in range(size):
        look = sample_look(rng)
        if size == 1:
            pos, heading, gait = center, rng.uniform(-np.pi, np.pi), ("phone" if rng.random() < 0.5 else "stand")
        else:
            a = rot + 2 * np.pi * k / size
            pos = center + 0.55 * np.array([np.sin(a), np.cos(a)])
            heading, gait = a + np.pi, ("talk" if k % 2 == 0 else "stand")
        sc = ctx.script(0, pos, float(heading), look.height_m)
        sc.hold(ctx.num_frames, gait, rate_hz=rng.uniform(0.5, 0.9))
        actors.append(sc.actor("person", look=look, behaviour="standing"))
    return size
