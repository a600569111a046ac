"""Abnormal behaviours in the UBnormal spirit. Each maker returns (targets, extra normal
actors); targets carry per-frame ``abnormal`` flags: the abnormal span is when the event
happens, not the whole time the person is in view (a faller walks normally, then falls).

``subtle`` places the target far from the camera (small), shortens brief events and adds
a nearby occluder in front of it. Some types are subtle by nature (only the path, speed
pattern or gait differs from normal walkers).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tvau_ros.data.synthetic import layouts as L
from tvau_ros.data.synthetic.motion import Actor, Script
from tvau_ros.data.synthetic.palette import COLOR_NAMES, VEHICLE_COLORS, Look, sample_look, shade
from tvau_ros.data.synthetic.population import MIN_PX, SUBTLE_PX, Infeasible, VideoContext, walker

WALK_SPEED = (1.2, 1.5)


def _walk_speed(ctx: VideoContext) -> float:
    return float(ctx.rng.uniform(*WALK_SPEED))


def _approach(ctx: VideoContext, route: L.Route, s_event: float, t_event: int, speed: float,
              look: Look) -> Script:
    """A walker that reaches ``s_event`` on ``route`` exactly at frame ``t_event``."""
    rng_ = ctx.visible_range(route)
    s0 = max(0.0, rng_[0] - 2.0) if rng_ and rng_[0] < s_event else max(0.0, s_event - 1.0)
    start = t_event - int(round((s_event - s0) / speed * ctx.fps))
    sc = ctx.script(start, route.at(s0)[0], route.at(s0)[1], look.height_m)
    sc.follow(route, s0, s_event, speed, "walk")
    while sc.frame < t_event:
        sc.follow(route, s_event, s_event + 1e-3, speed, "walk")
    sc.pos, sc.heading = route.at(s_event)
    return sc


def _event_setup(ctx: VideoContext, subtle: bool, lo: float = 0.12, hi: float = 0.45,
                 route: L.Route | None = None) -> tuple[L.Route, float, int]:
    route = route or ctx.oriented(ctx.pick_route(subtle))
    s_e = ctx.pick_point(route, subtle)
    t_e = int(ctx.rng.uniform(lo, hi) * ctx.num_frames)
    return route, s_e, t_e


def _seconds(ctx: VideoContext, lo: float, hi: float) -> int:
    return max(2, int(ctx.rng.uniform(lo, hi) * ctx.fps))


# categories whose gait keeps one hand free for an umbrella (others never show one)
UMBRELLA_OK = {"running", "jumping", "dancing", "loitering", "limping", "stop_and_go", "walking_against_flow",
               "lawn_crossing"}


def _person(sc: Script, look: Look, oid: int, cat: str, subtle: bool, **kw: Any) -> Actor:
    if cat not in UMBRELLA_OK and "umbrella" in look.accessories:
        look.accessories = [a for a in look.accessories if a != "umbrella"]
    return sc.actor(kw.pop("kind", "person"), look=look, obj_id=oid, category=cat, subtle=subtle, **kw)


def _start_on(ctx: VideoContext, route: L.Route, speed: float, subtle: bool) -> tuple[int, float]:
    """(start frame, arc length) for a target moving along a whole route: it enters at the
    border when the route's entry is near enough to be seen, otherwise it is already on the
    route, at a fitting size, at frame 0."""
    vis = ctx.visibility(route)
    seen = np.flatnonzero(vis.any)
    if seen.size == 0:
        raise Infeasible("route not visible")
    if ctx.person_px(vis)[seen[0]] >= (SUBTLE_PX[0] if subtle else MIN_PX * 0.7):
        return ctx.entry(route, speed, int(ctx.rng.uniform(0.0, 0.45) * ctx.num_frames))
    pool = ctx.size_pool(vis, subtle)
    if pool.size == 0:
        raise Infeasible("route has no fully visible stretch")
    return 0, float(vis.s[ctx.rng.choice(pool[:max(1, len(pool) // 2)])])


def _traverse(ctx: VideoContext, oid: int, cat: str, subtle: bool, gait: str, speed: float, kind: str = "person",
              rate_hz: float | None = None, route: L.Route | None = None, **kw: Any) -> Actor:
    route = route or ctx.oriented(ctx.pick_route(subtle))
    look = sample_look(ctx.rng)
    start, s0 = _start_on(ctx, route, speed, subtle)
    sc = ctx.script(start, route.at(s0)[0], 0.0, look.height_m)
    sc.follow(route, s0, route.length, speed, gait, abnormal=True, until=ctx.num_frames, rate_hz=rate_hz)
    return _person(sc, look, oid, cat, subtle, kind=kind, **kw)


def running(ctx: VideoContext, ids: Callable[[], int], subtle: bool) -> tuple[list[Actor], list[Actor]]:
    rng = ctx.rng
    speed = rng.uniform(2.8, 3.5) if subtle else rng.uniform(3.3, 4.8)
    if subtle or rng.random() < 0.5:  # walks first, then breaks into a run
        route, s_e, t_e = _event_setup(ctx, subtle)
        look = sample_look(rng)
        sc = _approach(ctx, route, s_e, t_e, _walk_speed(ctx), look)
        dur = rng.uniform(1.0, 1.6) if subtle else 60.0
        s = sc.follow(route, s_e, s_e + speed * dur, speed, "run", abnormal=True, until=ctx.num_frames)
        sc.follow(route, s, route.length, _walk_speed(ctx), "walk", until=ctx.num_frames)
        return [_person(sc, look, ids(), "running", subtle)], []
    return [_traverse(ctx, ids(), "running", subtle, "run", speed)], []


def cycling(ctx: VideoContext, ids: Callable[[], int], subtle: bool) -> tuple[list[Actor], list[Actor]]:
    speed = ctx.rng.uniform(3.0, 3.8) if subtle else ctx.rng.uniform(4.0, 6.0)
    name = COLOR_NAMES[ctx.rng.integers(len(COLOR_NAMES))]
    return [_traverse(ctx, ids(), "cycling", subtle, "cycle", speed, kind="cyclist", rate_hz=speed / 2.1,
                      color=shade(name, ctx.rng), color_name=name)], []


def skateboarding(ctx: VideoContext, ids: Callable[[], int], subtle: bool) -> tuple[list[Actor], list[Actor]]:
    speed = ctx.rng.uniform(2.5, 4.0)
    return [_traverse(ctx, ids(), "skateboarding", subtle, "skate", speed, kind="skater", rate_hz=0.9)], []


def vehicle_on_walkway(ctx: VideoContext, ids: Callable[[], int], subtle: bool) -> tuple[list[Actor], list[Actor]]:
    route = ctx.oriented(ctx.pick_route(subtle, min_width=2.8))
    name = VEHICLE_COLORS[ctx.rng.integers(len(VEHICLE_COLORS))]
    kind = "car" if ctx.rng.random() < 0.6 else "van"
    return [_traverse(ctx, ids(), "vehicle_on_walkway", subtle, "drive", ctx.rng.uniform(2.5, 5.0), kind=kind,
                      route=route, color=shade(name, ctx.rng), color_name=name)], []


def walking_against_flow(ctx: VideoContext, ids: Callable[[], int], subtle: bool) -> tuple[list[Actor], list[Actor]]:
    forward = ctx.pick_route(subtle, one_way=True)
    target = _traverse(ctx, ids(), "walking_against_flow", subtle, "walk", _walk_speed(ctx),
                       route=forward.reversed())
    enter = target.start
    vis = ctx.visibility(forward).any.sum() * 0.25 / 1.35 * ctx.fps
    extras = [walker(ctx, forward, _walk_speed(ctx), int(enter + ctx.rng.uniform(-vis, vis)),
                     ctx.rng.uniform(-0.3, 0.3) * forward.width) for _ in range(int(ctx.rng.integers(3, 6)))]
    return [target], extras


def jumping(ctx: VideoContext, ids: Callable[[], int], subtle: bool) -> tuple[list[Actor], list[Actor]]:
    rng = ctx.rng
    route, s_e, t_e = _event_setup(ctx, subtle)
    look = sample_look(rng)
    sc = _approach(ctx, route, s_e, t_e, _walk_speed(ctx), look)
    for _ in range(int(rng.integers(1, 3) if subtle else rng.integers(2, 6))):
        hmax = rng.uniform(0.2, 0.3) if subtle else rng.uniform(0.3, 0.5)
        n_air = _seconds(ctx, 0.45, 0.6)
        sc.hold(max(2, int(0.15 * ctx.fps)), "jump", True, each=lambda k: {"params": {"air": 0.0}})
        sc.hold(n_air, "jump", True, each=lambda k, n=n_air, h=hmax: {
            "y": 4 * h * (k / n) * (1 - k / n), "params": {"air": 4 * (k / n) * (1 - k / n)}})
    sc.follow(route, s_e, route.length, _walk_speed(ctx), "walk", until=ctx.num_frames)
    return [_person(sc, look, ids(), "jumping", subtle)], []


def falling_down(ctx: VideoContext, ids: Callable[[], int], subtle: bool) -> tuple[list[Actor], list[Actor]]:
    rng = ctx.rng
    route, s_e, t_e = _event_setup(ctx, subtle, 0.15, 0.55)
    look = sample_look(rng)
    sc = _approach(ctx, route, s_e, t_e, _walk_speed(ctx), look)
    side = bool(rng.random() < 0.4)
    n = _seconds(ctx, 0.6, 0.8)
    sc.hold(n, "fall", True, each=lambda k: {"params": {"progress": (k + 1) / n, "sideways": side}})
    sc.hold(max(0, ctx.num_frames - sc.frame), "lie", True, rate_hz=0.3,
            each=lambda k: {"params": {"sideways": side}})
    return [_person(sc, look, ids(), "falling_down", subtle)], []


def fighting(ctx: VideoContext, ids: Callable[[], int], subtle: bool) -> tuple[list[Actor], list[Actor]]:
    """Two people meet from opposite directions and fight side by side as seen from the
    camera (so neither hides the other); sometimes one of them falls and stays down."""
    rng = ctx.rng
    route, s_e, t_e = _event_setup(ctx, subtle, 0.15, 0.45)
    dur = _seconds(ctx, 1.5, 2.5) if subtle else _seconds(ctx, 3.0, 6.0)
    centre = route.at(s_e)[0]
    view = centre / (np.linalg.norm(centre) + 1e-9)        # camera -> fight, on the ground
    across = np.array([view[1], -view[0]])
    out = []
    falls = rng.random() < 0.4
    for k, (r, s) in enumerate(((route, s_e - 1.5), (route.reversed(), route.length - s_e - 1.5))):
        look = sample_look(rng)
        step_in = max(2, int(0.8 * ctx.fps))
        sc = _approach(ctx, r, max(0.5, s), t_e - step_in, _walk_speed(ctx), look)
        spot = centre + (0.45 if k == 0 else -0.45) * across
        sc.go_to(spot, 1.2, "walk")
        facing = float(np.arctan2(*(-(spot - centre))))
        sc.heading = facing
        f = np.array([np.sin(facing), np.cos(facing)])
        sc.hold(dur, "fight", True, rate_hz=1.6 + 0.2 * k, each=lambda i, p=spot, f=f, kk=k, h=facing: {
            "pos": tuple(p + 0.12 * np.sin(i / ctx.fps * 3.0 + kk) * f), "heading": h,
            "params": {"side": int(i / ctx.fps * 1.7 + kk) % 2}})
        if falls and k == 1:
            n = _seconds(ctx, 0.6, 0.8)
            sc.hold(n, "fall", True, each=lambda i, n=n: {"params": {"progress": (i + 1) / n, "sideways": False}})
            sc.hold(max(0, ctx.num_frames - sc.frame), "lie", True, rate_hz=0.3,
                    each=lambda i: {"params": {"sideways": False}})
        else:
            sc.go_to(r.at(max(0.5, s) + 1.5)[0], _walk_speed(ctx), "walk")
            sc.follow(r, max(0.5, s) + 1.5, r.length, _walk_speed(ctx), "walk", until=ctx.num_frames)
        out.append(_person(sc, look, ids(), "fighting", subtle))
    return out, []


def chasing(ctx: VideoContext, ids: Callable[[], int], subtle: bool) -> tuple[list[Actor], list[Actor]]:
    rng = ctx.rng
    route = ctx.oriented(ctx.pick_route(subtle))
    speed = rng.uniform(3.6, 4.6)
    start, s0 = _start_on(ctx, route, speed, subtle)
    gap = rng.uniform(2.5, 4.0)
    out = []
    for k, s_k in enumerate((s0, max(0.0, s0 - gap))):
        look = sample_look(rng)
        sc = ctx.script(start, route.at(s_k)[0], 0.0, look.height_m)
        sc.follow(route, s_k, route.length, speed, "run", 0.3 * (1 if k else -1), True, ctx.num_frames)
        out.append(_person(sc, look, ids(), "chasing", subtle))
    return out, []


def lawn_crossing(ctx: VideoContext, ids: Callable[[], int], subtle: bool) -> tuple[list[Actor], list[Actor]]:
    rng = ctx.rng
    n = 400
    v_lo, v_hi = (0.02, 0.45) if subtle else (0.15, 0.95)
    pts = np.array([ctx.scene.view.pt(u, v)
                    for u, v in zip(rng.uniform(0.08, 0.92, n), rng.uniform(v_lo, v_hi, n), strict=True)])
    grass = pts[ctx.scene.ground.code_at(pts[:, 0], pts[:, 1]) == L.GRASS]
    for _ in range(60):
        if len(grass) < 2:
            break
        a, b = grass[rng.integers(len(grass))], grass[rng.integers(len(grass))]
        d = b - a
        if np.linalg.norm(d) < 5.0:
            continue
        line = a + np.linspace(0, 1, 20)[:, None] * d
        if np.mean(np.isin(ctx.scene.ground.code_at(line[:, 0], line[:, 1]), L.FORBIDDEN)) < 0.85:
            continue
        u = d / np.linalg.norm(d)
        route = L.Route([a - 20 * u, a, b, b + 20 * u], 1.0)
        target = _traverse(ctx, ids(), "lawn_crossing", subtle, "walk", rng.uniform(1.2, 1.45), route=route)
        codes = np.array([ctx.scene.ground.code_at(st.x, st.z) for st in target.states])
        on = np.flatnonzero(np.isin(codes, L.FORBIDDEN))
        for i, st in enumerate(target.states):
            st.abnormal = bool(on.size and on[0] <= i <= on[-1])
        return [target], []
    raise Infeasible("no lawn stretch in view to cross")


def throwing_object(ctx: VideoContext, ids: Callable[[], int], subtle: bool) -> tuple[list[Actor], list[Actor]]:
    rng = ctx.rng
    route, s_e, t_e = _event_setup(ctx, subtle, 0.15, 0.5)
    look = sample_look(rng)
    sc = _approach(ctx, route, s_e, t_e, _walk_speed(ctx), look)
    sc.hold(_seconds(ctx, 0.2, 0.4), "stand", True)
    n = _seconds(ctx, 0.9, 1.1)
    release = int(0.75 * n)
    h = sc.heading + rng.uniform(-0.4, 0.4)
    fwd = np.array([np.sin(h), 0.0, np.cos(h)])
    start = np.array([sc.pos[0], 2.0, sc.pos[1]]) + 0.3 * fwd
    vh, vy = rng.uniform(5.0, 8.0) * (0.7 if subtle else 1.0), 3.0
    t_land = (vy + np.sqrt(vy ** 2 + 2 * 9.8 * 1.9)) / 9.8
    landing = start + vh * t_land * fwd

    def ball(t: float) -> np.ndarray:
        if t < t_land:
            p = start + vh * t * fwd
            p[1] = 2.0 + vy * t - 4.9 * t * t
            return p
        roll = min(1.0, (t - t_land) * 2.0)
        return landing + 0.8 * roll * fwd + np.array([0, 0.11 - landing[1], 0])

    sc.hold(n, "throw", True, each=lambda k: {"params": {"progress": k / n, **(
        {"ball": ball((k - release) / ctx.fps)} if k >= release else {})}})
    t0 = sc.frame - (n - release)
    land_frame = t0 + int((t_land + 0.5) * ctx.fps)
    sc.hold(max(0, land_frame - sc.frame), "stand", True,
            each=lambda k, f0=sc.frame: {"params": {"ball": ball((f0 + k - t0) / ctx.fps)}})
    after = len(sc.states)
    sc.follow(route, s_e, route.length, _walk_speed(ctx), "walk", until=ctx.num_frames)
    rest = ball(1e3)
    for st in sc.states[after:]:
        st.params = {"ball": rest}
    return [_person(sc, look, ids(), "throwing_object", subtle, carry=None)], []


def crawling(ctx: VideoContext, ids: Callable[[], int], subtle: bool) -> tuple[list[Actor], list[Actor]]:
    rng = ctx.rng
    route, s_e, t_e = _event_setup(ctx, subtle, 0.05, 0.3)
    look = sample_look(rng, accessories=[])
    sc = _approach(ctx, route, s_e, t_e, _walk_speed(ctx), look)
    sc.follow(route, s_e, route.length, rng.uniform(0.35, 0.5), "crawl", abnormal=True, until=ctx.num_frames)
    return [_person(sc, look, ids(), "crawling", subtle)], []


def loitering(ctx: VideoContext, ids: Callable[[], int], subtle: bool) -> tuple[list[Actor], list[Actor]]:
    rng = ctx.rng
    try:
        base = ctx.pick_route(subtle, one_way=False)
    except Infeasible:
        base = ctx.pick_route(subtle)
    s_c = ctx.pick_point(base, subtle)
    d = rng.uniform(2.0, 4.0)
    look = sample_look(rng)
    speed = rng.uniform(0.6, 0.9)
    if rng.random() < 0.5:
        sc = ctx.script(0, base.at(s_c)[0], base.at(s_c)[1], look.height_m)
    else:
        sc = _approach(ctx, base, s_c, int(rng.uniform(0.1, 0.3) * ctx.num_frames), _walk_speed(ctx), look)
    rev = base.reversed()
    s, forward = s_c, True
    while sc.frame < ctx.num_frames:
        if forward:
            s = sc.follow(base, s, min(base.length, s_c + d * rng.uniform(0.6, 1.0)), speed, "walk_slow",
                          abnormal=True, until=ctx.num_frames)
        else:
            s = base.length - sc.follow(rev, base.length - s, base.length - max(0.0, s_c - d * rng.uniform(0.6, 1.0)),
                                        speed, "walk_slow", abnormal=True, until=ctx.num_frames)
        h0 = sc.heading
        sc.hold(_seconds(ctx, 0.8, 2.0), "phone" if rng.random() < 0.3 else "stand", True,
                each=lambda k, h=h0: {"heading": h + 0.5 * np.sin(k / ctx.fps * 1.5)})
        forward = not forward
    return [_person(sc, look, ids(), "loitering", subtle)], []


def carrying_large_object(ctx: VideoContext, ids: Callable[[], int], subtle: bool) -> tuple[list[Actor], list[Actor]]:
    carry = ["box", "plank", "sack"][ctx.rng.integers(3)]
    return [_traverse(ctx, ids(), "carrying_large_object", subtle, "carry", ctx.rng.uniform(0.9, 1.3),
                      carry=carry)], []


def stop_and_go(ctx: VideoContext, ids: Callable[[], int], subtle: bool) -> tuple[list[Actor], list[Actor]]:
    rng = ctx.rng
    route = ctx.oriented(ctx.pick_route(subtle))
    look = sample_look(rng)
    speed = _walk_speed(ctx)
    vis = ctx.visibility(route)

    def stops_ahead(start: int, s0: float) -> np.ndarray:
        reach = s0 + speed * (ctx.num_frames - start) / ctx.fps * 0.6  # leave time for the stops
        return ctx.size_pool(vis, subtle, (vis.s > s0 + 1.0) & (vis.s < reach))

    start, s0 = ctx.entry(route, speed, int(rng.uniform(0.0, 0.25) * ctx.num_frames))
    idx = stops_ahead(start, s0)
    if idx.size < 3:  # too far to walk in: already on the walkway when the video starts
        pool = ctx.size_pool(vis, subtle)
        if pool.size == 0:
            raise Infeasible("route has no fully visible stretch")
        start, s0 = 0, float(vis.s[pool[0]]) - 1.5
        idx = stops_ahead(start, s0)
    if idx.size < 2:
        raise Infeasible("route too short in view for stop-and-go")
    stops = np.sort(rng.choice(vis.s[idx], size=min(len(idx), int(rng.integers(2, 4))), replace=False))
    sc = ctx.script(start, route.at(s0)[0], 0.0, look.height_m)
    s, first, last = s0, None, None
    for stop in stops:
        s = sc.follow(route, s, stop, speed, "walk", until=ctx.num_frames)
        if sc.frame >= ctx.num_frames:
            break
        first = sc.frame if first is None else first
        sc.hold(_seconds(ctx, 0.8, 2.0), "stand", rate_hz=0.5)
        last = sc.frame
    if first is None:
        raise Infeasible("stop-and-go walker never reached its first stop in time")
    sc.follow(route, s, route.length, speed, "walk", until=ctx.num_frames)
    for i, st in enumerate(sc.states):
        st.abnormal = first <= sc.start + i <= last + int(ctx.fps)
    return [_person(sc, look, ids(), "stop_and_go", subtle)], []


def dancing(ctx: VideoContext, ids: Callable[[], int], subtle: bool) -> tuple[list[Actor], list[Actor]]:
    rng = ctx.rng
    route, s_e, t_e = _event_setup(ctx, subtle)
    look = sample_look(rng)
    sc = _approach(ctx, route, s_e, t_e, _walk_speed(ctx), look)
    n = _seconds(ctx, 1.5, 2.5) if subtle else _seconds(ctx, 3.0, 7.0)
    h0, p0 = sc.heading, np.asarray(sc.pos, float)
    spin = rng.choice([-1, 1]) * rng.uniform(0.2, 0.5)
    sc.hold(n, "dance", True, rate_hz=1.2, each=lambda k: {
        "heading": h0 + 2 * np.pi * spin * k / ctx.fps,
        "pos": tuple(p0 + 0.25 * np.array([np.sin(k / ctx.fps * 2.0), 0.0])),
        "y": 0.04 * abs(np.sin(k / ctx.fps * 2 * np.pi * 1.2))})
    sc.follow(route, s_e, route.length, _walk_speed(ctx), "walk", until=ctx.num_frames)
    return [_person(sc, look, ids(), "dancing", subtle)], []


def limping(ctx: VideoContext, ids: Callable[[], int], subtle: bool) -> tuple[list[Actor], list[Actor]]:
    return [_traverse(ctx, ids(), "limping", subtle, "limp", ctx.rng.uniform(0.6, 0.9))], []


@dataclass(frozen=True)
class AnomalyType:
    make: Callable
    subtle_by_nature: bool = False
    needs_one_way: bool = False


ANOMALY_TYPES = {
    "running": AnomalyType(running), "cycling": AnomalyType(cycling),
    "skateboarding": AnomalyType(skateboarding), "vehicle_on_walkway": AnomalyType(vehicle_on_walkway),
    "walking_against_flow": AnomalyType(walking_against_flow, True, True),
    "jumping": AnomalyType(jumping), "falling_down": AnomalyType(falling_down),
    "fighting": AnomalyType(fighting), "chasing": AnomalyType(chasing),
    "lawn_crossing": AnomalyType(lawn_crossing, True), "throwing_object": AnomalyType(throwing_object),
    "crawling": AnomalyType(crawling), "loitering": AnomalyType(loitering, True),
    "carrying_large_object": AnomalyType(carrying_large_object), "stop_and_go": AnomalyType(stop_and_go, True),
    "dancing": AnomalyType(dancing), "limping": AnomalyType(limping, True),
}


def occluder_for(ctx: VideoContext, target: Actor, num_frames: int) -> tuple | None:
    """A bush / bin / planter between the camera and the middle of the target's abnormal span."""
    frames = np.flatnonzero(target.abnormal_frames(num_frames))
    if frames.size == 0:
        return None
    st = target.state(int(frames[frames.size // 2]))
    p = np.array([st.x, st.z])
    toward = -p / (np.linalg.norm(p) + 1e-9)
    side = np.array([toward[1], -toward[0]])
    q = p + toward * ctx.rng.uniform(1.0, 2.0) + side * ctx.rng.uniform(-0.6, 0.6)
    return (["bush", "bin", "planter"][ctx.rng.integers(3)], float(q[0]), float(q[1]), 0.0)
