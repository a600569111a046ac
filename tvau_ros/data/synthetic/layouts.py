"""Procedural scene layouts: ground regions in a top-view map plus walking/driving routes.

Layouts are written in view-relative coordinates (``ViewFrame.pt(u, v)``: u across the
image, v from the far limit 0 to the bottom edge 1), so every layout fits every camera;
the map, the routes and all props live in world metres.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import ArrayLike

from tvau_ros.data.synthetic.camera import Camera

# ground codes
NONE, GRASS, WALK, PLAZA, ROAD, MARK, WATER, FLOWERBED = range(8)
WALKABLE = (WALK, PLAZA, MARK)
FORBIDDEN = (GRASS, FLOWERBED)


class GroundMap:
    """Top-view label map of ground codes, 0.1 m cells, X in [-90, 90), Z in [-10, 120)."""

    RES, X0, Z0, NX, NZ = 0.1, -90.0, -10.0, 1800, 1300

    def __init__(self, base: int = GRASS):
        self.codes = np.full((self.NZ, self.NX), base, np.uint8)

    def cells(self, pts: ArrayLike) -> np.ndarray:
        p = np.asarray(pts, float).reshape(-1, 2)
        return np.round(np.stack([(p[:, 0] - self.X0) / self.RES, (p[:, 1] - self.Z0) / self.RES], 1)
                        * 16).astype(np.int32)

    def band(self, pts: ArrayLike, width: float, code: int) -> None:
        cv2.polylines(self.codes, [self.cells(pts).reshape(-1, 1, 2)], False, code,
                      max(1, int(round(width / self.RES))), cv2.LINE_8, 4)

    def polygon(self, pts: ArrayLike, code: int) -> None:
        cv2.fillPoly(self.codes, [self.cells(pts).reshape(-1, 1, 2)], code, cv2.LINE_8, 4)

    def disc(self, center: ArrayLike, radius: float, code: int) -> None:
        c = self.cells([center])[0]
        cv2.circle(self.codes, (int(c[0]), int(c[1])), int(radius / self.RES * 16), code, -1, cv2.LINE_8, 4)

    def code_at(self, x: ArrayLike, z: ArrayLike) -> np.ndarray:
        x, z = np.asarray(x, float), np.asarray(z, float)
        x, z = np.nan_to_num(x, nan=-1e6), np.nan_to_num(z, nan=-1e6)
        col = np.floor((x - self.X0) / self.RES).astype(np.int64)
        row = np.floor((z - self.Z0) / self.RES).astype(np.int64)
        ok = (col >= 0) & (col < self.NX) & (row >= 0) & (row < self.NZ)
        out = np.zeros(np.shape(x), np.uint8)
        out[ok] = self.codes[row[ok], col[ok]]
        return out


class ViewFrame:
    """View-relative placement: ``pt(u, v)`` is the ground point seen at image fraction
    (u, v), with v measured from the far limit (0) to the bottom edge (1)."""

    def __init__(self, cam: Camera, z_far: float = 60.0):
        self.cam = cam
        uv, _ = cam.project([[0.0, 0.0, z_far]])
        self.v_top = max(float(uv[0, 1]), cam.horizon_v() + 6.0, 0.0)
        self.z_far = z_far

    def pt(self, u: float, v: float) -> np.ndarray:
        row = max(self.v_top + v * (self.cam.height - self.v_top), self.cam.horizon_v() + 3.0)
        x, z = (float(c) for c in self.cam.ground_from_pixel(u * self.cam.width, row))
        if z > 105.0:  # keep far points inside the ground map, on the same image column
            x, z = x * 105.0 / z, 105.0
        return np.array([x, z])

    def half_width(self, z: float) -> float:
        return 0.5 * self.cam.width * float(self.cam.ground_depth(z)) / self.cam.focal


@dataclass
class Route:
    """A path in world XZ metres. One-way routes are walked in point order only."""

    points: np.ndarray
    width: float
    kind: str = "walk"        # "walk" | "drive"
    one_way: bool = False
    name: str = ""
    cum: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, float)
        seg = np.linalg.norm(np.diff(self.points, axis=0), axis=1)
        self.cum = np.concatenate([[0.0], np.cumsum(seg)])

    @property
    def length(self) -> float:
        return float(self.cum[-1])

    def at(self, s: float, offset: float = 0.0) -> tuple[np.ndarray, float]:
        """Position (x, z) at arc length ``s`` shifted ``offset`` m to the right, and heading."""
        pos, heading = self.at_many(np.array([s], float), offset)
        return pos[0], float(heading[0])

    def at_many(self, s: np.ndarray, offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised :meth:`at`: positions (N, 2) and headings (N,); heading is smoothed over
        +-0.6 m so corners are rounded."""
        s = np.clip(np.asarray(s, float), 0.0, self.length)
        a = self._interp(np.maximum(0.0, s - 0.6))
        b = self._interp(np.minimum(self.length, s + 0.6))
        d = b - a
        heading = np.arctan2(d[:, 0], d[:, 1])
        right = np.stack([np.cos(heading), -np.sin(heading)], 1)
        return self._interp(s) + offset * right, heading

    def _interp(self, s: np.ndarray) -> np.ndarray:
        return np.stack([np.interp(s, self.cum, self.points[:, 0]), np.interp(s, self.cum, self.points[:, 1])], 1)

    def reversed(self) -> Route:
        return Route(self.points[::-1].copy(), self.width, self.kind, self.one_way, self.name + "_rev")


@dataclass
class Building:
    x0: float
    x1: float
    z0: float
    z1: float
    height: float
    door_x: float | None = None


@dataclass
class Layout:
    name: str
    routes: list[Route]
    buildings: list[Building] = field(default_factory=list)
    props: dict = field(default_factory=dict)        # prop kind -> count to scatter
    fixed_props: list[tuple] = field(default_factory=list)  # (kind, x, z, facing)
    one_way: bool = False


def extend(pts: ArrayLike, meters: float = 8.0, start: bool = True, end: bool = True) -> np.ndarray:
    p = np.asarray(pts, float).copy()
    if start:
        d = p[0] - p[1]
        p = np.vstack([p[0] + d / (np.linalg.norm(d) + 1e-9) * meters, p])
    if end:
        d = p[-1] - p[-2]
        p = np.vstack([p, p[-1] + d / (np.linalg.norm(d) + 1e-9) * meters])
    return p


def offset_line(pts: ArrayLike, d: float) -> np.ndarray:
    """Polyline shifted ``d`` metres to its right (per-vertex normals)."""
    p = np.asarray(pts, float)
    tang = np.gradient(p, axis=0)
    tang /= np.linalg.norm(tang, axis=1, keepdims=True) + 1e-9
    right = np.stack([tang[:, 1], -tang[:, 0]], 1)
    return p + d * right


def bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, n: int = 24) -> np.ndarray:
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2


def intersect(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    da, db = a1 - a0, b1 - b0
    m = np.array([[da[0], -db[0]], [da[1], -db[1]]])
    t = np.linalg.solve(m, b0 - a0)
    return a0 + t[0] * da


def paint_arrows(gm: GroundMap, route: Route, spacing: float = 7.0) -> None:
    """Direction arrows painted along a one-way walkway."""
    for s in np.arange(3.0, route.length - 2.0, spacing):
        (x, z), h = route.at(s)
        f = np.array([np.sin(h), np.cos(h)])
        r = np.array([f[1], -f[0]])
        c = np.array([x, z])
        gm.polygon([c - 0.6 * f - 0.08 * r, c + 0.1 * f - 0.08 * r, c + 0.1 * f - 0.35 * r, c + 0.7 * f,
                    c + 0.1 * f + 0.35 * r, c + 0.1 * f + 0.08 * r, c - 0.6 * f + 0.08 * r], MARK)


def dashed(gm: GroundMap, pts: ArrayLike, dash: float, gap: float, width: float, code: int = MARK) -> None:
    r = Route(pts, width)
    for s in np.arange(0.0, r.length - dash, dash + gap):
        gm.band([r.at(s)[0], r.at(s + dash)[0]], width, code)


def _walkway(gm: GroundMap, pts: ArrayLike, width: float, one_way: bool = False, name: str = "",
             code: int = WALK) -> Route:
    pts = extend(pts)
    gm.band(pts, width, code)
    return Route(pts, width, "walk", one_way, name)


# --- layout templates ------------------------------------------------------------------
# Each takes (view frame, ground map, rng, one_way) and returns a Layout.

def cross_walkway(vf: ViewFrame, gm: GroundMap, rng: np.random.Generator, one_way: bool) -> Layout:
    y, d, w = rng.uniform(0.35, 0.75), rng.uniform(-0.15, 0.15), rng.uniform(3.0, 5.0)
    r = _walkway(gm, [vf.pt(-0.15, y - d), vf.pt(1.15, y + d)], w, one_way, "main")
    if rng.random() < 0.5:
        r = Route(r.points[::-1].copy(), w, "walk", one_way, "main")
    return Layout("cross_walkway", [r], props={"tree": 6, "bench": 2, "lamp": 2, "bush": 3},
                  one_way=one_way)


def receding_walkway(vf: ViewFrame, gm: GroundMap, rng: np.random.Generator, one_way: bool) -> Layout:
    w = rng.uniform(3.0, 4.5)
    r = _walkway(gm, [vf.pt(rng.uniform(0.3, 0.7), 1.15), vf.pt(rng.uniform(0.35, 0.65), -0.05)], w,
                 one_way, "main")
    if rng.random() < 0.5:
        r = Route(r.points[::-1].copy(), w, "walk", one_way, "main")
    return Layout("receding_walkway", [r], props={"tree": 8, "lamp": 3, "bench": 1, "bush": 2},
                  one_way=one_way)


def crossroads(vf: ViewFrame, gm: GroundMap, rng: np.random.Generator, one_way: bool) -> Layout:
    w = rng.uniform(3.0, 4.5)
    y = rng.uniform(0.35, 0.6)
    a0, a1 = vf.pt(-0.15, y + rng.uniform(-0.1, 0.1)), vf.pt(1.15, y + rng.uniform(-0.1, 0.1))
    b0, b1 = vf.pt(rng.uniform(0.35, 0.65), 1.15), vf.pt(rng.uniform(0.35, 0.65), -0.05)
    c = intersect(a0, a1, b0, b1)
    gm.disc(c, rng.uniform(3.5, 5.5), PLAZA)
    routes = [_walkway(gm, [a0, a1], w, name="h"), _walkway(gm, [b0, b1], w, name="v")]
    for p, q in ((a0, b0), (a0, b1), (a1, b0), (a1, b1)):
        routes.append(Route(extend([p, c, q]), w, "walk", False, "turn"))
    return Layout("crossroads", routes, props={"tree": 6, "bench": 3, "lamp": 2, "bush": 2})


def plaza(vf: ViewFrame, gm: GroundMap, rng: np.random.Generator, one_way: bool) -> Layout:
    gm.polygon([vf.pt(-0.4, -0.1), vf.pt(1.4, -0.1), vf.pt(1.4, 1.4), vf.pt(-0.4, 1.4)], PLAZA)
    c = vf.pt(0.5, rng.uniform(0.4, 0.6))
    r = rng.uniform(2.5, 4.0)
    if rng.random() < 0.5:
        gm.disc(c, r + 0.5, MARK)
        gm.disc(c, r, WATER)
    else:
        gm.disc(c, r, FLOWERBED)
    for u0, u1, v0, v1 in ((-0.3, 0.12, 0.75, 1.3), (0.88, 1.3, 0.75, 1.3), (-0.3, 0.2, -0.1, 0.25),
                           (0.8, 1.3, -0.1, 0.25)):
        if rng.random() < 0.6:
            gm.polygon([vf.pt(u0, v0), vf.pt(u1, v0), vf.pt(u1, v1), vf.pt(u0, v1)], GRASS)
    side = r + 2.5
    routes = []
    for p, q, off in (((-0.15, 0.5), (1.15, 0.5), (0, -side)), ((-0.15, 0.55), (1.15, 0.6), (0, side)),
                      ((0.5, 1.15), (0.5, -0.05), (side, 0)), ((0.2, 1.15), (1.15, 0.3), (0, 0)),
                      ((-0.15, 0.3), (0.75, 1.15), (0, 0))):
        pa, pb = vf.pt(*p), vf.pt(*q)
        mid = c + np.array(off) if off != (0, 0) else None
        pts = [pa, mid, pb] if mid is not None else [pa, pb]
        routes.append(Route(extend(pts), 3.0, "walk", False, "plaza"))
    return Layout("plaza", routes, props={"bench": 3, "lamp": 3, "bin": 2, "tree": 3},
                  buildings=_far_buildings(vf, rng))


def street(vf: ViewFrame, gm: GroundMap, rng: np.random.Generator, one_way: bool) -> Layout:
    y, d = rng.uniform(0.35, 0.6), rng.uniform(-0.08, 0.08)
    rw, sw = rng.uniform(6.5, 8.5), rng.uniform(2.8, 3.6)
    line = extend([vf.pt(-0.2, y - d), vf.pt(1.2, y + d)], 10)
    gm.band(line, rw, ROAD)
    dashed(gm, line, 3.0, 3.0, 0.15)
    routes = []
    for s in (-1, 1):
        side = offset_line(line, s * (rw / 2 + sw / 2))
        gm.band(side, sw, WALK)
        gm.band(offset_line(line, s * rw / 2), 0.25, MARK)
        routes.append(Route(side, sw, "walk", False, "sidewalk"))
        lane = offset_line(line, s * rw / 4)
        routes.append(Route(lane if s > 0 else lane[::-1], rw / 2, "drive", True, "lane"))
    return Layout("street", routes, props={"tree": 4, "lamp": 3, "bin": 1},
                  buildings=_far_buildings(vf, rng))


def diagonal(vf: ViewFrame, gm: GroundMap, rng: np.random.Generator, one_way: bool) -> Layout:
    w = rng.uniform(2.8, 4.0)
    a, b = vf.pt(-0.15, rng.uniform(0.6, 1.0)), vf.pt(1.15, rng.uniform(0.1, 0.45))
    if rng.random() < 0.5:
        a[0], b[0] = -a[0], -b[0]
    r = _walkway(gm, [a, b], w, one_way, "main")
    return Layout("diagonal", [r], props={"tree": 7, "bush": 4, "bench": 1}, one_way=one_way)


def curved(vf: ViewFrame, gm: GroundMap, rng: np.random.Generator, one_way: bool) -> Layout:
    w = rng.uniform(3.0, 4.0)
    p0, p1, p2 = vf.pt(-0.15, rng.uniform(0.6, 0.95)), vf.pt(0.5, rng.uniform(-0.1, 0.25)), \
        vf.pt(1.15, rng.uniform(0.6, 0.95))
    pts = bezier(p0, p1, p2)
    r = _walkway(gm, pts, w, one_way, "curve")
    inner = 0.5 * (p0 + p2) * 0.3 + 0.7 * bezier(p0, p1, p2, 3)[1]
    gm.disc(inner, rng.uniform(1.5, 2.5), FLOWERBED)
    return Layout("curved", [r], props={"tree": 6, "bench": 2, "lamp": 2, "bush": 2}, one_way=one_way)


def building_front(vf: ViewFrame, gm: GroundMap, rng: np.random.Generator, one_way: bool) -> Layout:
    zb = vf.pt(0.5, rng.uniform(0.08, 0.22))[1]
    half = vf.half_width(zb) * 1.5 + 10
    door = rng.uniform(-0.4, 0.4) * vf.half_width(zb)
    w = rng.uniform(3.0, 4.0)
    zw = zb - w / 2 - 0.3
    b = Building(-half, half, zb, zb + 15, rng.uniform(8, 16), door)
    front = _walkway(gm, [(-half, zw), (half, zw)], w, name="facade")
    gm.polygon([(door - 3, zb), (door + 3, zb), (door + 3, zw - w), (door - 3, zw - w)], PLAZA)
    down = vf.pt(rng.uniform(0.3, 0.7), 1.15)
    path = [(door, zb - 0.2), (door, zw), down]
    gm.band(extend(path, start=False), w, WALK)
    routes = [front, Route(extend(path, start=False), w, "walk", False, "door")]
    for s in (-1, 1):
        routes.append(Route(extend([(s * half, zw), (door, zw), down], start=False), w, "walk", False, "turn"))
    return Layout("building_front", routes, buildings=[b], props={"tree": 4, "bush": 4, "lamp": 2, "bin": 1})


def park_benches(vf: ViewFrame, gm: GroundMap, rng: np.random.Generator, one_way: bool) -> Layout:
    y, w = rng.uniform(0.45, 0.7), rng.uniform(3.0, 4.0)
    main = _walkway(gm, [vf.pt(-0.15, y), vf.pt(1.15, y + rng.uniform(-0.08, 0.08))], w, one_way, "main")
    u0 = rng.choice([rng.uniform(0.1, 0.3), rng.uniform(0.7, 0.9)])
    s_j = _closest_s(main, vf.pt(u0, y))
    j = main.at(s_j)[0]
    far = vf.pt(u0 + rng.uniform(-0.1, 0.1), -0.05)
    side = _walkway(gm, [j, far], w * 0.8, name="side")
    fixed = []
    for s in np.arange(rng.uniform(2, 5), main.length, rng.uniform(5, 8)):
        (x, z), h = main.at(s, -(w / 2 + 0.7))
        if abs(s - s_j) > 3:
            fixed.append(("bench", x, z, h - np.pi / 2))
    # in a one-way scene the turn is walked in the flow direction only
    routes = [main, side.reversed(), Route(extend([main.points[1], j, far]), w, "walk", one_way, "turn")]
    if not one_way:
        routes.append(Route(extend([main.points[-2], j, far]), w, "walk", False, "turn"))
    return Layout("park_benches", routes, fixed_props=fixed, props={"tree": 7, "bush": 2, "lamp": 1},
                  one_way=one_way)


def two_parallel(vf: ViewFrame, gm: GroundMap, rng: np.random.Generator, one_way: bool) -> Layout:
    y1, y2, w = rng.uniform(0.22, 0.4), rng.uniform(0.65, 0.85), rng.uniform(2.8, 3.8)
    r1 = _walkway(gm, [vf.pt(-0.15, y1), vf.pt(1.15, y1 + rng.uniform(-0.05, 0.05))], w, False, "far")
    r2 = _walkway(gm, [vf.pt(-0.15, y2), vf.pt(1.15, y2 + rng.uniform(-0.05, 0.05))], w, one_way, "near")
    uc = rng.uniform(0.25, 0.75)
    c1, c2 = r1.at(_closest_s(r1, vf.pt(uc, y1)))[0], r2.at(_closest_s(r2, vf.pt(uc, y2)))[0]
    gm.band([c1, c2], w * 0.8, WALK)
    routes = [r1, r2, Route(extend([r1.points[1], c1, c2, r2.points[-2]]), w, "walk", one_way, "link"),
              Route(extend([r2.points[1], c2, c1, r1.points[-2]]), w, "walk", one_way, "link")]
    return Layout("two_parallel", routes, props={"tree": 5, "bush": 4, "bench": 2}, one_way=one_way)


def t_junction(vf: ViewFrame, gm: GroundMap, rng: np.random.Generator, one_way: bool) -> Layout:
    y, w = rng.uniform(0.3, 0.55), rng.uniform(3.0, 4.5)
    main = _walkway(gm, [vf.pt(-0.15, y), vf.pt(1.15, y + rng.uniform(-0.08, 0.08))], w, one_way, "main")
    j = main.at(_closest_s(main, vf.pt(rng.uniform(0.3, 0.7), y)))[0]
    down = vf.pt(rng.uniform(0.2, 0.8), 1.15)
    branch = _walkway(gm, [j, down], w, name="branch")
    gm.disc(j, w * 0.8, WALK)
    routes = [main, branch]
    for end in (main.points[1],) if one_way else (main.points[1], main.points[-2]):
        routes.append(Route(extend([end, j, down]), w, "walk", one_way, "turn"))
    return Layout("t_junction", routes, props={"tree": 6, "bench": 2, "lamp": 2, "bush": 2}, one_way=one_way)


def promenade(vf: ViewFrame, gm: GroundMap, rng: np.random.Generator, one_way: bool) -> Layout:
    w = rng.uniform(10, 14)
    center = extend([vf.pt(rng.uniform(0.35, 0.65), 1.15), vf.pt(rng.uniform(0.4, 0.6), -0.05)])
    gm.band(center, w, PLAZA)
    strip = rng.uniform(1.5, 2.5)
    gm.band(center, strip, FLOWERBED)
    lane = w / 4 + strip / 4
    away = Route(offset_line(center, lane), w / 2 - strip / 2, "walk", one_way, "away")
    back = Route(offset_line(center, -lane)[::-1], w / 2 - strip / 2, "walk", one_way, "back")
    if one_way:
        paint_arrows(gm, away)
        paint_arrows(gm, back)
    fixed = []
    r = Route(center, strip)
    for s in np.arange(4.0, r.length, rng.uniform(6, 9)):
        (x, z), _ = r.at(s)
        fixed.append(("tree", x, z, 0.0))
    return Layout("promenade", [away, back], fixed_props=fixed, props={"lamp": 2, "bench": 2, "bin": 1},
                  buildings=_far_buildings(vf, rng), one_way=one_way)


def zebra_crossing(vf: ViewFrame, gm: GroundMap, rng: np.random.Generator, one_way: bool) -> Layout:
    rw, sw = rng.uniform(6.5, 8.0), rng.uniform(2.5, 3.5)
    line = extend([vf.pt(rng.uniform(0.35, 0.65), 1.15), vf.pt(rng.uniform(0.4, 0.6), -0.05)], 10)
    gm.band(line, rw, ROAD)
    road = Route(line, rw)
    s_c = _closest_s(road, vf.pt(0.5, rng.uniform(0.35, 0.65)))
    (cx, cz), h = road.at(s_c)
    f = np.array([np.sin(h), np.cos(h)])
    rgt = np.array([f[1], -f[0]])
    c = np.array([cx, cz])
    for k in np.arange(-rw / 2 + 0.3, rw / 2 - 0.3, 0.9):
        gm.polygon([c + k * rgt - 1.5 * f, c + (k + 0.5) * rgt - 1.5 * f, c + (k + 0.5) * rgt + 1.5 * f,
                    c + k * rgt + 1.5 * f], MARK)
    routes = []
    sides = {}
    for s in (-1, 1):
        side = offset_line(line, s * (rw / 2 + sw / 2))
        gm.band(side, sw, WALK)
        sides[s] = side
        routes.append(Route(side, sw, "walk", False, "sidewalk"))
        lane = offset_line(line, s * rw / 4)
        routes.append(Route(lane if s < 0 else lane[::-1], rw / 2, "drive", True, "lane"))
    off = rw / 2 + sw / 2
    for s in (-1, 1):
        a, b = c + s * off * rgt, c - s * off * rgt
        routes.append(Route([sides[s][0], a, b, sides[-s][-1]], sw, "walk", False, "crossing"))
    return Layout("zebra_crossing", routes, props={"tree": 5, "lamp": 2, "bush": 2},
                  buildings=_far_buildings(vf, rng))


def campus_square(vf: ViewFrame, gm: GroundMap, rng: np.random.Generator, one_way: bool) -> Layout:
    w = rng.uniform(2.8, 3.8)
    a0, a1 = vf.pt(-0.15, rng.uniform(0.8, 1.05)), vf.pt(1.15, rng.uniform(0.05, 0.3))
    b0, b1 = vf.pt(-0.15, rng.uniform(0.05, 0.3)), vf.pt(1.15, rng.uniform(0.8, 1.05))
    c = intersect(a0, a1, b0, b1)
    gm.disc(c, rng.uniform(3.0, 4.5), PLAZA)
    routes = [_walkway(gm, [a0, a1], w, name="d1"), _walkway(gm, [b0, b1], w, name="d2")]
    for p, q in ((a0, b0), (a0, b1), (a1, b0), (a1, b1)):
        routes.append(Route(extend([p, c, q]), w, "walk", False, "turn"))
    zb = max(a1[1], b0[1]) + 6
    hw = vf.half_width(zb)
    blds = [Building(-hw * 1.6, -hw * 0.25, zb, zb + 14, rng.uniform(9, 18)),
            Building(hw * 0.3, hw * 1.6, zb + rng.uniform(-2, 4), zb + 16, rng.uniform(9, 18))]
    return Layout("campus_square", routes, buildings=blds, props={"tree": 5, "bench": 2, "lamp": 2, "bush": 3})


def _closest_s(route: Route, p: np.ndarray) -> float:
    ss = np.linspace(0, route.length, 200)
    d = [np.linalg.norm(route.at(s)[0] - p) for s in ss]
    return float(ss[int(np.argmin(d))])


def _far_buildings(vf: ViewFrame, rng: np.random.Generator) -> list[Building]:
    z = vf.z_far * rng.uniform(0.85, 1.15)
    hw = vf.half_width(z) * 1.3 + 10
    out, x = [], -hw
    while x < hw:
        wdt = rng.uniform(10, 26)
        zz = z + rng.uniform(0, 8)
        out.append(Building(x, x + wdt, zz, zz + 15, rng.uniform(8, 30)))
        x += wdt + rng.uniform(0, 6)
    return out


LAYOUTS = {
    "cross_walkway": (cross_walkway, True), "receding_walkway": (receding_walkway, True),
    "crossroads": (crossroads, False), "plaza": (plaza, False), "street": (street, False),
    "diagonal": (diagonal, True), "curved": (curved, True), "building_front": (building_front, False),
    "park_benches": (park_benches, True), "two_parallel": (two_parallel, True),
    "t_junction": (t_junction, True), "promenade": (promenade, True),
    "zebra_crossing": (zebra_crossing, False), "campus_square": (campus_square, False),
}
"""name -> (template function, supports a one-way walkway)"""


def build_layout(name: str, vf: ViewFrame, gm: GroundMap, rng: np.random.Generator, one_way: bool) -> Layout:
    fn, supports = LAYOUTS[name]
    layout = fn(vf, gm, rng, one_way and supports)
    if layout.one_way:
        for r in layout.routes:
            if r.one_way and r.kind == "walk" and r.name in ("main", "near", "curve"):
                paint_arrows(gm, r)
    return layout
