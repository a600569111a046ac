"""Composited objects: a ball thrown from a real person's position, and a vehicle driving
across the walkway, both drawn through the scene's fitted ground-plane camera so their size
and speed are right for where they are.

Objects are rendered at ``SUPERSAMPLE`` times the resolution and averaged down, which
gives exact fractional coverage at their edges (anti-aliasing) for the paste.
"""
from __future__ import annotations

import cv2
import numpy as np

from tvau_ros.data.realcheck.composite import Composite, FrameOp, Layer
from tvau_ros.data.realcheck.people import (TRIES, PlacementError, crossing_span, random_walkway_point,
                                            rounded)
from tvau_ros.data.realcheck.scene import SceneFacts
from tvau_ros.data.synthetic.camera import Camera
from tvau_ros.data.synthetic.objects import car_figure
from tvau_ros.data.synthetic.palette import VEHICLE_COLORS, shade
from tvau_ros.data.synthetic.render import draw_projected, project_figure

SUPERSAMPLE = 4
GRAVITY = 9.81
BALL_RADIUS_M = (0.10, 0.12)
BALL_COLORS = ((40, 40, 210), (30, 200, 235), (235, 235, 235), (200, 110, 30), (40, 150, 40))
HAND_HEIGHT_M = 1.2
BOUNCE = 0.35                 # vertical speed kept at the bounce
ROLL_DECEL = 2.5              # m/s^2 while rolling
THROW_SPEED = (3.5, 6.0)      # m/s, horizontal
EXPOSURE_S = 0.02             # motion blur of fast objects
VEHICLE_SPEED = (3.0, 5.0)    # m/s
VEHICLE_TRIES = 3000          # most straight lines leave the paving: cheap checks first
ENTER_WITHIN_S = 4.0          # the vehicle enters the view this soon after the clip starts
GRAIN_SIGMA = 3.0             # sensor-like noise on drawn vehicles


def _downsample(color: np.ndarray, cover: np.ndarray, x0: int, y0: int) -> Layer:
    """Average a supersampled (premultiplied-by-coverage) drawing down to a frame layer."""
    s = SUPERSAMPLE
    h, w = cover.shape[0] // s, cover.shape[1] // s
    cov = cover[:h * s, :w * s].reshape(h, s, w, s).mean(axis=(1, 3))
    pre = color[:h * s, :w * s].reshape(h, s, w, s, 3).mean(axis=(1, 3))
    col = pre / np.maximum(cov, 1e-6)[..., None]
    return Layer(x0, y0, col.astype(np.float32), cov.astype(np.float32))


def _ball_layer(centers_uv: np.ndarray, radius_px: float, color: tuple[int, int, int]) -> Layer:
    """A shaded ball at one or more sub-frame positions (motion blur)."""
    s = SUPERSAMPLE
    r = max(radius_px, 0.8)
    x0 = int(np.floor(centers_uv[:, 0].min() - r)) - 1
    y0 = int(np.floor(centers_uv[:, 1].min() - r)) - 1
    x1 = int(np.ceil(centers_uv[:, 0].max() + r)) + 2
    y1 = int(np.ceil(centers_uv[:, 1].max() + r)) + 2
    yy, xx = np.mgrid[0:(y1 - y0) * s, 0:(x1 - x0) * s]
    px, py = (xx + 0.5) / s + x0, (yy + 0.5) / s + y0
    cover = np.zeros(px.shape, np.float32)
    color_acc = np.zeros(px.shape + (3,), np.float32)
    base = np.asarray(color, np.float32)
    for cu, cv in centers_uv:
        d2 = ((px - cu) ** 2 + (py - cv) ** 2) / (r * r)
        inside = d2 <= 1.0
        light = 0.55 + 0.45 * np.clip(1.0 - ((px - cu + 0.35 * r) ** 2 + (py - cv + 0.35 * r) ** 2) / (r * r), 0, 1)
        cover += inside
        color_acc += inside[..., None] * np.clip(base * light[..., None] + 40 * (light[..., None] > 0.95), 0, 255)
    cover /= len(centers_uv)
    color_acc /= len(centers_uv)
    return _downsample(color_acc, cover, x0, y0)


def _ball_path(start: np.ndarray, heading: float, v_h: float, v_y: float, radius: float, fps: float,
               frames: int) -> tuple[np.ndarray, int]:
    """Ball centre (x, y, z) per frame (and half-exposure sub-steps): flight, one bounce,
    rolling with friction, rest. Returns (positions (frames, k, 3), rest frame)."""
    fwd = np.array([np.sin(heading), 0.0, np.cos(heading)])
    y0 = start[1]
    t1 = (v_y + np.sqrt(v_y ** 2 + 2 * GRAVITY * (y0 - radius))) / GRAVITY
    vy1 = BOUNCE * (GRAVITY * t1 - v_y)
    t2 = 2 * vy1 / GRAVITY
    v_roll = 0.7 * v_h
    t3 = v_roll / ROLL_DECEL

    def at(t: float) -> np.ndarray:
        if t < t1:
            d, y = v_h * t, y0 + v_y * t - 0.5 * GRAVITY * t * t
        elif t < t1 + t2:
            tb = t - t1
            d, y = v_h * t1 + 0.85 * v_h * tb, radius + vy1 * tb - 0.5 * GRAVITY * tb * tb
        else:
            tr = min(t - t1 - t2, t3)
            d, y = v_h * t1 + 0.85 * v_h * t2 + v_roll * tr - 0.5 * ROLL_DECEL * tr * tr, radius
        p = np.asarray(start, float) + d * fwd
        p[1] = y
        return p

    subs = np.linspace(-EXPOSURE_S / 2, EXPOSURE_S / 2, 3)
    pos = np.array([[at(max(0.0, k / fps + s)) for s in subs] for k in range(frames)])
    return pos, int(np.ceil((t1 + t2 + t3) * fps))


def thrown_object(facts: SceneFacts, rng: np.random.Generator, source_frames: list[int]) -> Composite:
    """A ball thrown from a real person's hand on a parabola; it bounces, rolls to rest
    and lies there to the end of the clip (all of it abnormal)."""
    n = len(source_frames)
    cam = facts.camera
    for _ in range(TRIES):
        t0 = int(rng.integers(int(0.5 * facts.fps), max(int(0.5 * facts.fps) + 1, n - int(4 * facts.fps))))
        people = facts.person_blobs(source_frames[t0])
        if not people:
            continue
        thrower = people[rng.integers(len(people))]
        fx, fz = facts.ground(*thrower.foot)
        heading = float(rng.uniform(0, 2 * np.pi))
        radius = float(rng.uniform(*BALL_RADIUS_M))
        start = np.array([fx + 0.3 * np.sin(heading), HAND_HEIGHT_M, fz + 0.3 * np.cos(heading)])
        pos, rest = _ball_path(start, heading, float(rng.uniform(*THROW_SPEED)), float(rng.uniform(2.0, 3.5)),
                               radius, facts.fps, n - t0)
        centers = pos[:, 1]
        ground_uv = facts.image(centers[:, 0], centers[:, 2])
        uv, depth = cam.project(pos.reshape(-1, 3))
        uv = uv.reshape(pos.shape[0], pos.shape[1], 2)
        if rest >= n - t0 or not (facts.on_walkway(ground_uv).mean() >= 0.9 and facts.on_walkway(ground_uv[-1:]).all()):
            continue
        if (uv[..., 0].min() < 2 or uv[..., 1].min() < 2 or uv[..., 0].max() > facts.width - 3
                or uv[..., 1].max() > facts.height - 3):
            continue
        color = BALL_COLORS[rng.integers(len(BALL_COLORS))]
        radii = radius * cam.focal / depth.reshape(pos.shape[:2]).mean(axis=1)
        ops: list[FrameOp | None] = [None] * t0
        for k in range(n - t0):
            moving = k < rest
            layer = _ball_layer(uv[k] if moving else uv[k, 1:2], float(radii[k]), color)
            ops.append(FrameOp(layer, float(ground_uv[k][1]), True))
        meta = {"throw_frame": t0, "rest_frame": t0 + rest, "thrower_box": [thrower.x0, thrower.y0,
                                                                           thrower.x1, thrower.y1],
                "ball_radius_m": round(radius, 3), "path_uv": rounded(uv[:, 1]),
                "landing_uv": rounded(ground_uv[-1])}
        return Composite("thrown_object", ops, meta)
    raise PlacementError("thrown_object: no person whose throw lands on the walkway in view")


VEHICLE_SIZE = {"car": (4.3, 1.8), "van": (4.8, 1.95)}   # length, width (m), as car_figure draws them
SHADOW_DARKNESS = 0.5


def _footprint(root_xz: np.ndarray, heading: float, kind: str, grow: float = 0.0) -> np.ndarray:
    """Ground corners (4, 2) of the vehicle's footprint, ``grow`` metres larger all round."""
    length, width = VEHICLE_SIZE[kind]
    fwd = np.array([np.sin(heading), np.cos(heading)])
    right = np.array([np.cos(heading), -np.sin(heading)])
    return np.array([np.asarray(root_xz) + a * (width / 2 + grow) * right + b * (length / 2 + grow) * fwd
                     for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1))])


def _shadow_layer(facts: SceneFacts, root_xz: np.ndarray, heading: float, kind: str) -> Layer:
    """A soft dark patch on the ground under the vehicle (overcast light: no cast direction)."""
    uv = facts.image(*_footprint(root_xz, heading, kind, grow=0.15).T)
    blur = max(1.0, 0.15 * facts.line.at(float(uv[:, 1].mean())) / 1.7)
    pad = int(3 * blur) + 1
    x0, y0 = np.floor(uv.min(0)).astype(int) - pad
    x1, y1 = np.ceil(uv.max(0)).astype(int) + pad
    cover = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.fillConvexPoly(cover, np.rint((uv - (x0, y0)) * 16).astype(np.int32), 1.0, cv2.LINE_AA, 4)
    cover = cv2.GaussianBlur(cover, (0, 0), blur) * SHADOW_DARKNESS
    return Layer(int(x0), int(y0), np.zeros(cover.shape + (3,), np.float32), cover)


def _vehicle_layer(cam: Camera, root_xz: np.ndarray, heading: float, color: tuple[int, int, int], kind: str,
                   rng: np.random.Generator) -> tuple[Layer, float] | None:
    """The vehicle drawn at ``root_xz``: its layer and the image row of its ground centre."""
    s = SUPERSAMPLE
    big = Camera(cam.width * s, cam.height * s, cam.height_m, cam.tilt_deg, cam.hfov_deg)
    fig = car_figure(np.array([root_xz[0], 0.0, root_xz[1]]), heading, color, big.position, kind)
    fig.prims = [p for p in fig.prims if p[0] != "shadow"]  # the ground shadow is drawn into the frame
    proj = project_figure(big, fig)
    if proj is None:
        return None
    x0, y0 = int(np.floor(proj.bbox[0] / s)) - 1, int(np.floor(proj.bbox[1] / s)) - 1
    x1, y1 = int(np.ceil(proj.bbox[2] / s)) + 2, int(np.ceil(proj.bbox[3] / s)) + 2
    if x1 <= 0 or y1 <= 0 or x0 >= cam.width or y0 >= cam.height:
        return None
    canvas = np.zeros(((y1 - y0) * s, (x1 - x0) * s, 3), np.uint8)
    label = np.zeros(canvas.shape[:2], np.uint8)
    proj.uv -= np.array([x0 * s, y0 * s], np.int32) << 4  # draw_projected's fixed-point shift
    draw_projected(canvas, label, proj, 1)
    cover = (label > 0).astype(np.float32)
    layer = _downsample(canvas.astype(np.float32) * cover[..., None], cover, x0, y0)
    layer.color = (cv2.GaussianBlur(layer.color, (0, 0), 0.6)
                   + rng.normal(0, GRAIN_SIGMA, layer.color.shape).astype(np.float32))
    _, v_root, _ = cam.project_point(float(root_xz[0]), 0.0, float(root_xz[1]))
    return layer, float(v_root)


def _footprints_on_walkway(facts: SceneFacts, roots: np.ndarray, heading: float, kind: str) -> np.ndarray:
    """Per position: whether every footprint corner in view (0.3 m out) lies on paved
    ground and no pole or sign stands inside the footprint."""
    corners = np.stack([_footprint(r, heading, kind, grow=0.3) for r in roots])  # (N, 4, 2)
    uv = facts.image(corners[..., 0], corners[..., 1])
    seen = (uv[..., 0] >= 0) & (uv[..., 0] < facts.width) & (uv[..., 1] >= 0) & (uv[..., 1] < facts.height)
    on = facts.on_walkway(uv.reshape(-1, 2), facts.paved).reshape(seen.shape)
    ok = np.all(on | ~seen, axis=1)
    for u, v in facts.occluder_feet:
        gx, gz = facts.ground(u, v)
        ok &= ~np.array([_inside_polygon(c, (gx, gz)) for c in corners])
    return ok


def _inside_polygon(poly: np.ndarray, point: tuple[float, float], grow: float = 0.0) -> bool:
    return cv2.pointPolygonTest(poly.astype(np.float32).reshape(-1, 1, 2), (float(point[0]), float(point[1])),
                                True) >= -grow


def _runs_over_people(facts: SceneFacts, roots: np.ndarray, heading: float, kind: str,
                      frames: list[int], clearance: float = 0.3) -> bool:
    """Whether a real object's feet come within ``clearance`` m of the footprint at any step."""
    length, width = VEHICLE_SIZE[kind]
    fwd = np.array([np.sin(heading), np.cos(heading)])
    right = np.array([np.cos(heading), -np.sin(heading)])
    for root, f in zip(roots, frames, strict=True):
        feet = facts.ground_feet(f) - root
        if len(feet) and np.any((np.abs(feet @ fwd) <= length / 2 + clearance)
                                & (np.abs(feet @ right) <= width / 2 + clearance)):
            return True
    return False


def vehicle(facts: SceneFacts, rng: np.random.Generator, source_frames: list[int]) -> Composite:
    """A car or van driving straight across the walkway at 3-5 m/s, entering (unless the
    clip opens with it on its way) and leaving (unless the clip ends first) through the
    frame border, missing the real people by 0.3 m or more."""
    n = len(source_frames)
    for _ in range(VEHICLE_TRIES):
        heading = float(rng.uniform(0, 2 * np.pi))
        speed = float(rng.uniform(*VEHICLE_SPEED))
        vel = speed * np.array([np.sin(heading), np.cos(heading)])
        centre = random_walkway_point(facts, rng)
        span = np.arange(-3 * n, 3 * n + 1)
        roots = centre[None] + span[:, None] / facts.fps * vel[None]
        uv = facts.image(roots[:, 0], roots[:, 1])
        # in view while the ground centre is within about a vehicle length of the frame
        margin = 2.5 * facts.line.at(np.clip(uv[:, 1], 0, facts.height))
        crossing = crossing_span((uv[:, 0] > -margin) & (uv[:, 0] < facts.width + margin) & (uv[:, 1] > 0)
                                 & (uv[:, 1] < facts.height + margin), 3 * n)
        if crossing is None:
            continue
        lo, hi = crossing
        in_img = (uv[lo:hi + 1, 0] >= 0) & (uv[lo:hi + 1, 0] < facts.width) & (uv[lo:hi + 1, 1] < facts.height)
        if in_img.sum() < 2 * facts.fps:
            continue
        kind = ("car", "van")[int(rng.random() < 0.35)]
        if facts.on_walkway(uv[lo:hi + 1][in_img]).mean() < 0.85:  # cheap test of the centre first
            continue
        if _footprints_on_walkway(facts, roots[lo:hi + 1][in_img], heading, kind).mean() < 0.85:
            continue
        steps = None
        # the clip may also open with the vehicle already up to half-way across
        for enter in rng.permutation(np.arange(-(hi - lo) // 2, int(ENTER_WITHIN_S * facts.fps) + 1)):
            cand = [(int(enter) + k, lo + k) for k in range(hi - lo + 1) if 0 <= enter + k < n]
            if not _runs_over_people(facts, roots[[i for _, i in cand]], heading, kind,
                                     [source_frames[t] for t, _ in cand]):
                steps = cand
                break
        if not steps:
            continue
        enter = steps[0][0] - (steps[0][1] - lo)
        name = VEHICLE_COLORS[rng.integers(len(VEHICLE_COLORS))]
        color = shade(name, rng)
        ops: list[FrameOp | None] = [None] * n
        for t, i in steps:
            drawn = _vehicle_layer(facts.camera, roots[i], heading, color, kind, rng)
            if drawn is not None:
                ops[t] = FrameOp(drawn[0], drawn[1], True, _shadow_layer(facts, roots[i], heading, kind))
        meta = {"vehicle": kind, "color": name, "speed_mps": round(speed, 2),
                "heading_deg": round(float(np.degrees(heading)), 1), "enter_frame": enter,
                "path_uv": rounded([uv[i] for _, i in steps])}
        return Composite("vehicle", ops, meta)
    raise PlacementError("vehicle: no straight drive across the walkway clear of real people")
