"""3-D drawing primitives and the articulated person.

A :class:`Figure` is a list of 3-D points plus primitives referring to them (thick
segments, convex hulls, polygons, discs, closed loops, ground shadows), listed in drawing
order. ``render.draw_figure`` projects it through the camera and draws it with OpenCV, so
perspective, viewpoint and scale come from the geometry, not from sprites.

A person is a 15-joint skeleton posed by joint angles (:class:`Pose`): legs and arms swing
in the body's sagittal plane, the trunk leans, the whole body can pitch or roll (falling,
lying, crawling), then yaw to its heading.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import math

import numpy as np

from tvau_ros.data.synthetic.palette import Look

UP = np.array([0.0, 1.0, 0.0])


_RING10 = np.stack([np.cos(np.linspace(0, 2 * np.pi, 10, endpoint=False)), np.zeros(10),
                    np.sin(np.linspace(0, 2 * np.pi, 10, endpoint=False))], 1)


class Figure:
    """Points (metres, world frame) and primitives in drawing order."""

    def __init__(self) -> None:
        self.pts: list = []
        self.prims: list[tuple] = []

    def p(self, xyz: np.ndarray) -> int:
        self.pts.append(xyz)
        return len(self.pts) - 1

    def many(self, rows: Iterable[np.ndarray]) -> tuple:
        """Add several points at once; returns their indices."""
        base = len(self.pts)
        self.pts.extend(rows)
        return tuple(range(base, len(self.pts)))

    def seg(self, a: np.ndarray, b: np.ndarray, width: float, color: tuple[int, int, int]) -> None:
        self.prims.append(("seg", (self.p(a), self.p(b)), width, color))

    def hull(self, points: Iterable[np.ndarray], color: tuple[int, int, int]) -> None:
        self.prims.append(("hull", self.many(points), 0.0, color))

    def poly(self, points: Iterable[np.ndarray], color: tuple[int, int, int]) -> None:
        self.prims.append(("poly", self.many(points), 0.0, color))

    def disc(self, center: np.ndarray, radius: float, color: tuple[int, int, int]) -> None:
        self.prims.append(("disc", (self.p(center),), radius, color))

    def loop(self, points: Iterable[np.ndarray], width: float, color: tuple[int, int, int]) -> None:
        self.prims.append(("loop", self.many(points), width, color))

    def shadow(self, center: np.ndarray | None, radius: float, alpha: float = 0.3,
               ring: Iterable[np.ndarray] | None = None) -> None:
        """A darkened patch of ground (colour only, never in masks)."""
        if ring is None:
            ring = np.asarray(center) + radius * _RING10
        self.prims.append(("shadow", self.many(ring), alpha, (0, 0, 0)))

    def extend(self, other: Figure) -> None:
        base = len(self.pts)
        self.pts.extend(other.pts)
        self.prims.extend((k, tuple(i + base for i in idx), s, c) for k, idx, s, c in other.prims)

    def points(self) -> np.ndarray:
        if isinstance(self.pts, np.ndarray):
            return self.pts
        return np.array(self.pts, dtype=np.float64).reshape(-1, 3)


def circle_points(center: np.ndarray, axis_u: np.ndarray, axis_v: np.ndarray, radius: float, n: int = 12) -> np.ndarray:
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.asarray(center) + radius * (np.cos(ang)[:, None] * axis_u + np.sin(ang)[:, None] * axis_v)


_BOX_SIGNS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
# (axis, sign) -> corner indices in cyclic order, and the shade slot: 0 top, 1 front/back, 2 sides
_BOX_FACES = []
for _k in range(3):
    for _sg in (1.0, -1.0):
        _idx = [i for i in range(8) if _BOX_SIGNS[i, _k] == _sg]
        _a, _b = [d for d in range(3) if d != _k]
        _idx.sort(key=lambda i: np.arctan2(_BOX_SIGNS[i, _b], _BOX_SIGNS[i, _a]))
        _BOX_FACES.append((_k, _sg, tuple(_idx)))


def add_box(fig: Figure, center: np.ndarray, axes: tuple[np.ndarray, np.ndarray, np.ndarray],
            half: tuple[float, float, float], color: tuple[float, float, float], cam_pos: np.ndarray,
            shade: tuple[float, float, float] = (1.0, 0.8, 0.65)) -> None:
    """A box as its camera-facing faces; ``axes`` = (right, up, forward) unit vectors."""
    c = np.asarray(center, float)
    A = np.stack([np.asarray(axes[i], float) * half[i] for i in range(3)])
    corners = c + _BOX_SIGNS @ A
    idx = fig.many(corners)
    to_cam = np.asarray(cam_pos, float) - c
    color = np.asarray(color, float)
    light = {0: shade[2], 1: shade[0], 2: shade[1]}
    for k, sg, face in _BOX_FACES:
        n = sg * A[k]
        if np.dot(n, to_cam - n) <= 0:
            continue
        lit = 0.5 if (k == 1 and sg < 0) else light[k]
        fig.prims.append(("poly", tuple(idx[i] for i in face), 0.0,
                          tuple(int(x) for x in np.clip(color * lit, 0, 255))))


@dataclass
class Pose:
    """Joint angles in radians. Flex > 0 swings a limb forward; knee/elbow bend > 0."""

    leg_flex: tuple = (0.0, 0.0)      # left, right
    knee: tuple = (0.05, 0.05)
    leg_abd: tuple = (0.0, 0.0)
    arm_flex: tuple = (0.0, 0.0)
    elbow: tuple = (0.15, 0.15)
    arm_abd: tuple = (0.08, 0.08)
    lean: float = 0.0                 # trunk forward lean
    twist: float = 0.0                # shoulders yaw about the trunk
    pitch: float = 0.0                # whole body forward rotation (falling forward)
    roll: float = 0.0                 # whole body sideways rotation
    dy: float = 0.0                   # pelvis height offset
    body_yaw: float = 0.0             # body yaw relative to the heading of motion
    snap: str = "feet"                # "feet" | "all" | "none": ground contact rule


class Body:
    """Segment lengths for a person of height ``h`` metres."""

    def __init__(self, h: float):
        self.h = h
        self.hip_h, self.thigh, self.shin = 0.52 * h, 0.245 * h, 0.245 * h
        self.spine, self.neck, self.head_r = 0.30 * h, 0.10 * h, 0.065 * h
        self.shoulder_w, self.hip_w = 0.115 * h, 0.055 * h
        self.upper_arm, self.forearm = 0.17 * h, 0.16 * h


JOINTS = ("pelvis", "neck", "head", "hip_l", "knee_l", "foot_l", "shoulder_l", "elbow_l", "hand_l",
          "hip_r", "knee_r", "foot_r", "shoulder_r", "elbow_r", "hand_r")
J = {name: i for i, name in enumerate(JOINTS)}


def _limb(side: float, flex: float, abd: float, twist: float = 0.0) -> tuple:
    x, y, z = side * math.sin(abd), -math.cos(abd) * math.cos(flex), math.cos(abd) * math.sin(flex)
    if twist:
        c, s = math.cos(twist), math.sin(twist)
        x, z = c * x + s * z, -s * x + c * z
    return x, y, z


def skeleton(body: Body, pose: Pose) -> np.ndarray:
    """(15, 3) joint positions (order :data:`JOINTS`) in the body frame: x right, y up,
    z forward, feet on the ground according to ``pose.snap``."""
    py = body.hip_h + pose.dy
    ty, tz = math.cos(pose.lean), math.sin(pose.lean)
    neck = (0.0, py + body.spine * ty, body.spine * tz)
    rows = [(0.0, py, 0.0), neck, (0.0, neck[1] + body.neck * ty, neck[2] + body.neck * tz)]
    ct, st = math.cos(pose.twist), math.sin(pose.twist)
    drop = 0.03 * body.h
    for i, side in enumerate((-1.0, 1.0)):
        hip = (side * body.hip_w, py, 0.0)
        d = _limb(side, pose.leg_flex[i], pose.leg_abd[i])
        knee = (hip[0] + body.thigh * d[0], hip[1] + body.thigh * d[1], hip[2] + body.thigh * d[2])
        d = _limb(side, pose.leg_flex[i] - pose.knee[i], pose.leg_abd[i])
        foot = (knee[0] + body.shin * d[0], knee[1] + body.shin * d[1], knee[2] + body.shin * d[2])
        sh = (neck[0] + side * body.shoulder_w * ct, neck[1] - drop * ty,
              neck[2] - side * body.shoulder_w * st - drop * tz)
        flex = pose.arm_flex[i] + pose.lean
        d = _limb(side, flex, pose.arm_abd[i], pose.twist)
        elbow = (sh[0] + body.upper_arm * d[0], sh[1] + body.upper_arm * d[1], sh[2] + body.upper_arm * d[2])
        d = _limb(side, flex + pose.elbow[i], pose.arm_abd[i], pose.twist)
        hand = (elbow[0] + body.forearm * d[0], elbow[1] + body.forearm * d[1], elbow[2] + body.forearm * d[2])
        rows += [hip, knee, foot, sh, elbow, hand]
    pts = np.array(rows)
    if pose.pitch:
        c, s = math.cos(pose.pitch), math.sin(pose.pitch)
        y, z = pts[:, 1].copy(), pts[:, 2].copy()
        pts[:, 1], pts[:, 2] = y * c - z * s, z * c + y * s
    if pose.roll:
        c, s = math.cos(pose.roll), math.sin(pose.roll)
        x, y = pts[:, 0].copy(), pts[:, 1].copy()
        pts[:, 0], pts[:, 1] = x * c + y * s, y * c - x * s
    if pose.snap == "feet":
        pts[:, 1] += 0.03 * body.h - min(pts[J["foot_l"], 1], pts[J["foot_r"], 1])
    elif pose.snap == "all":
        pts[:, 1] += 0.06 * body.h - pts[:, 1].min()
    return pts


def person_figure(look: Look, body: Body, pose: Pose, root: np.ndarray, heading: float, cam_pos: np.ndarray,
                  carry: str | None = None, shadow: bool = True, umbrella: bool = True) -> Figure:
    """Figure of a posed person standing at ``root`` (x, y, z) facing ``heading`` (radians,
    0 = +Z, pi/2 = +X)."""
    yaw = heading + pose.body_yaw
    c, s = math.cos(yaw), math.sin(yaw)
    rot = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    world = skeleton(body, pose) @ rot.T + np.asarray(root, float)
    w = {name: world[i] for i, name in enumerate(JOINTS)}
    fwd = np.array([s, 0.0, c])
    right = np.array([c, 0.0, -s])
    to_cam = cam_pos - np.asarray(root, float)
    to_cam[1] = 0.0
    near = "r" if np.dot(right, to_cam) > 0 else "l"
    far = "l" if near == "r" else "r"
    facing = np.dot(fwd, to_cam) > 0
    h = body.h
    fig = Figure()
    if shadow:
        fig.shadow(np.array([w["pelvis"][0], 0.01, w["pelvis"][2]]), 0.28 * h / 1.7)
    trunk_up = w["neck"] - w["pelvis"]
    trunk_up /= np.linalg.norm(trunk_up) + 1e-9
    trunk_fwd = np.array([right[1] * trunk_up[2] - right[2] * trunk_up[1],
                          right[2] * trunk_up[0] - right[0] * trunk_up[2],
                          right[0] * trunk_up[1] - right[1] * trunk_up[0]])

    def leg(s: str):
        fig.seg(w[f"hip_{s}"], w[f"knee_{s}"], 0.075 * h, look.bottom_bgr)
        fig.seg(w[f"knee_{s}"], w[f"foot_{s}"], 0.062 * h, look.bottom_bgr)
        fig.disc(w[f"foot_{s}"] + 0.03 * h * fwd, 0.035 * h, (30, 30, 30))

    def arm(s: str):
        sleeve = look.skin_bgr if look.short_sleeves else look.top_bgr
        fig.seg(w[f"shoulder_{s}"], w[f"elbow_{s}"], 0.055 * h, look.top_bgr)
        fig.seg(w[f"elbow_{s}"], w[f"hand_{s}"], 0.045 * h, sleeve)
        fig.disc(w[f"hand_{s}"], 0.028 * h, look.skin_bgr)

    def backpack():
        c = 0.5 * (w["neck"] + w["pelvis"]) + 0.05 * h * trunk_up - 0.09 * h * trunk_fwd
        add_box(fig, c, (right, trunk_up, trunk_fwd), (0.09 * h, 0.12 * h, 0.05 * h),
                look.extra_bgr.get("backpack", (40, 40, 40)), cam_pos)

    def carried():
        if carry == "box":
            c = w["neck"] - 0.12 * h * trunk_up + 0.22 * h * fwd
            add_box(fig, c, (right, UP, fwd), (0.28, 0.22, 0.22), (70, 120, 170), cam_pos)
        elif carry == "plank":
            c = w[f"shoulder_{near}"] + 0.03 * h * UP
            fig.seg(c - 1.3 * fwd, c + 1.3 * fwd, 0.12, (60, 110, 160))
        elif carry == "sack":
            c = w["neck"] + 0.05 * h * UP - 0.05 * h * trunk_fwd
            fig.disc(c, 0.35, (90, 150, 180))

    leg(far)
    arm(far)
    if "backpack" in look.accessories and facing:
        backpack()
    if carry and not facing:
        carried()
    hips = [w["hip_l"], w["hip_r"]]
    torso = [w["shoulder_l"], w["shoulder_r"], hips[0] + (hips[0] - w["pelvis"]) * 0.6,
             hips[1] + (hips[1] - w["pelvis"]) * 0.6]
    d = 0.06 * h * trunk_fwd
    fig.hull([q + d for q in hips] + [q - d for q in hips] +
             [q - 0.06 * h * trunk_up for q in hips], look.bottom_bgr)
    fig.hull([q + d for q in torso] + [q - d for q in torso], look.top_bgr)
    leg(near)
    if "bag" in look.accessories:
        hand = w["hand_l"]
        add_box(fig, hand - 0.07 * h * UP, (right, UP, fwd), (0.04 * h, 0.07 * h, 0.09 * h),
                look.extra_bgr.get("bag", (60, 60, 120)), cam_pos)
    arm(near)
    if "backpack" in look.accessories and not facing:
        backpack()
    head = w["head"]
    fig.disc(head, body.head_r, look.hair_bgr)
    if np.dot(fwd, to_cam) > -0.3 * np.linalg.norm(to_cam):
        fig.disc(head + 0.3 * body.head_r * fwd - 0.15 * body.head_r * trunk_up,
                 0.8 * body.head_r, look.skin_bgr)
    if "hat" in look.accessories:
        col = look.extra_bgr.get("hat", (50, 50, 50))
        top = head + 0.6 * body.head_r * trunk_up
        fig.hull(circle_points(top, right, trunk_fwd, 1.5 * body.head_r, 8), col)
        fig.disc(top + 0.3 * body.head_r * trunk_up, 0.85 * body.head_r, col)
    if umbrella and "umbrella" in look.accessories:
        col = look.extra_bgr.get("umbrella", (40, 40, 160))
        center = head + 0.35 * h * UP
        fig.seg(w["hand_r"], center, 0.015 * h, (40, 40, 40))
        ring = circle_points(center - 0.06 * h * UP, right, fwd, 0.32 * h, 10)
        fig.hull(list(ring) + [center + 0.05 * h * UP], col)
    if carry and facing:
        carried()
    return fig


# Poses: each maps a phase (radians, advancing with motion) and parameters to a Pose.

def pose_walk(phase: float, amp: float = 1.0, limp: bool = False) -> Pose:
    a = 0.38 * amp
    s, c = np.sin(phase), np.cos(phase)
    knee_l = 0.12 + 0.55 * amp * max(0.0, c)
    knee_r = 0.12 + 0.55 * amp * max(0.0, -c)
    roll = 0.0
    if limp:
        knee_l = 0.04
        a_l, a_r = 0.18 * amp * s, -0.45 * amp * s
        roll = 0.09 * s
        return Pose(leg_flex=(a_l, a_r), knee=(knee_l, knee_r), arm_flex=(-0.2 * s, 0.35 * s),
                    roll=roll, dy=-0.03 * max(0.0, s), lean=0.08)
    return Pose(leg_flex=(a * s, -a * s), knee=(knee_l, knee_r),
                arm_flex=(-0.55 * a * s, 0.55 * a * s), elbow=(0.25, 0.25),
                dy=0.012 * np.cos(2 * phase))


def pose_run(phase: float) -> Pose:
    s, c = np.sin(phase), np.cos(phase)
    return Pose(leg_flex=(0.65 * s, -0.65 * s), knee=(0.35 + 1.3 * max(0.0, c), 0.35 + 1.3 * max(0.0, -c)),
                arm_flex=(-0.8 * s, 0.8 * s), elbow=(1.45, 1.45), lean=0.22,
                dy=0.04 * abs(np.cos(phase)))


def pose_stand(phase: float, talk: bool = False, phone: bool = False) -> Pose:
    sway = 0.03 * np.sin(0.4 * phase)
    if phone:
        return Pose(arm_flex=(0.9, 0.9), elbow=(1.1, 1.1), arm_abd=(0.15, 0.15), lean=0.05,
                    leg_abd=(0.04, 0.04), roll=sway * 0.5)
    if talk:
        g = np.sin(phase)
        return Pose(arm_flex=(0.1, 0.4 + 0.35 * g), elbow=(0.2, 0.9 + 0.4 * g), arm_abd=(0.1, 0.2),
                    leg_abd=(0.05, 0.05), roll=sway)
    return Pose(leg_abd=(0.05, 0.05), roll=sway)


def pose_fall(progress: float, sideways: bool) -> Pose:
    p = min(1.0, max(0.0, progress)) ** 2
    arms = 1.6 * p
    base = Pose(arm_flex=(arms, arms + 0.3), elbow=(0.3, 0.3), knee=(0.3 * p, 0.1),
                leg_flex=(0.1, -0.1), snap="all" if p > 0.5 else "feet")
    if sideways:
        base.roll = 1.5 * p
    else:
        base.pitch = 1.5 * p
    return base


def pose_lie(phase: float, sideways: bool) -> Pose:
    twitch = 0.08 * np.sin(0.5 * phase)
    pose = Pose(arm_flex=(2.6, 0.4 + twitch), elbow=(0.2, 0.6), knee=(0.4, 0.05),
                leg_flex=(0.3, 0.0), snap="all")
    if sideways:
        pose.roll = 1.52
    else:
        pose.pitch = 1.52
    return pose


def pose_crawl(phase: float) -> Pose:
    s = np.sin(phase)
    return Pose(pitch=1.45, leg_flex=(1.45 + 0.3 * s, 1.45 - 0.3 * s), knee=(1.6, 1.6),
                arm_flex=(1.5 - 0.3 * s, 1.5 + 0.3 * s), elbow=(0.05, 0.05), arm_abd=(0.1, 0.1),
                snap="all")


def pose_jump(air: float) -> Pose:
    """``air`` in [0, 1]: 0 on the ground (crouch), 1 at the top of the jump."""
    tuck = air
    return Pose(leg_flex=(0.5 * tuck, 0.4 * tuck), knee=(0.2 + 1.0 * tuck, 0.2 + 0.9 * tuck),
                arm_flex=(2.6 * tuck + 0.2, 2.6 * tuck + 0.2), elbow=(0.2, 0.2),
                arm_abd=(0.3, 0.3), lean=0.1 * (1 - tuck), snap="none")


def pose_dance(phase: float) -> Pose:
    s, s2 = np.sin(phase), np.sin(2 * phase)
    return Pose(arm_flex=(2.3 + 0.6 * s, 2.3 - 0.6 * s), elbow=(0.5, 0.5),
                arm_abd=(0.7 + 0.3 * s2, 0.7 - 0.3 * s2), leg_abd=(0.18 + 0.12 * s, 0.18 - 0.12 * s),
                knee=(0.2 + 0.25 * max(0.0, s), 0.2 + 0.25 * max(0.0, -s)), roll=0.12 * s,
                twist=0.4 * s2)


def pose_fight(phase: float, punch_side: int) -> Pose:
    punch = max(0.0, np.sin(phase)) ** 3
    flex = [1.15, 1.15]
    elbow = [1.7, 1.7]
    flex[punch_side] = 1.15 + 0.35 * punch
    elbow[punch_side] = 1.7 - 1.6 * punch
    return Pose(arm_flex=tuple(flex), elbow=tuple(elbow), arm_abd=(0.25, 0.25),
                leg_flex=(0.3, -0.25), knee=(0.35, 0.3), lean=0.15 + 0.15 * punch,
                twist=0.35 * punch * (1 if punch_side else -1))


def pose_throw(progress: float) -> Pose:
    """Overhand throw with the right arm: wind-up to 0.6, release at 0.75."""
    p = min(1.0, max(0.0, progress))
    if p < 0.6:
        k = p / 0.6
        arm, elbow, twist, lean = -0.2 - 2.6 * k, 0.4 + 0.8 * k, -0.6 * k, -0.1 * k
    else:
        k = min(1.0, (p - 0.6) / 0.25)
        arm, elbow, twist, lean = -2.8 + 4.0 * k, 1.2 - 1.0 * k, -0.6 + 1.0 * k, -0.1 + 0.35 * k
    return Pose(arm_flex=(0.6, arm), elbow=(0.4, elbow), arm_abd=(0.2, 0.35), twist=twist, lean=lean,
                leg_flex=(0.35, -0.3), knee=(0.2, 0.25))


def pose_carry(phase: float) -> Pose:
    pose = pose_walk(phase, amp=0.8)
    pose.arm_flex, pose.elbow, pose.arm_abd = (0.9, 0.9), (0.6, 0.6), (0.25, 0.25)
    pose.lean = -0.05
    return pose


def pose_cycle(phase: float, seat_height: float, body: Body) -> Pose:
    s, c = np.sin(phase), np.cos(phase)
    return Pose(leg_flex=(1.0 + 0.45 * s, 1.0 - 0.45 * s), knee=(1.3 + 0.5 * c, 1.3 - 0.5 * c),
                arm_flex=(0.75, 0.75), elbow=(0.25, 0.25), arm_abd=(0.12, 0.12), lean=0.45,
                dy=seat_height - body.hip_h, snap="none")


def pose_skate(phase: float) -> Pose:
    push = max(0.0, np.sin(phase)) if np.cos(phase / 4) > 0 else 0.0
    return Pose(leg_abd=(0.22, 0.22), leg_flex=(0.05, -0.05 - 0.55 * push), knee=(0.35, 0.3 + 0.4 * push),
                arm_abd=(0.5, 0.5), arm_flex=(0.2, -0.2), elbow=(0.3, 0.3), lean=0.1,
                body_yaw=1.35, dy=-0.02)
