"""Composited people: real pedestrian sprites replayed as a fast walker, a fall and someone
standing still for long.

Each maker draws a random place and time (``rng``), checks the path is on the walkway,
inside the frame (a sprite is never cut by the border) and clear of the real people of
the clip at the same distance, and returns a :class:`Composite` whose frame ops carry the
warped sprite layers. Sprites come from the fold's learning frames, never from the clip's
own frames, so nobody is doubled.
"""
from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import ArrayLike

from tvau_ros.data.realcheck.composite import Composite, FrameOp, Layer, warp_layer
from tvau_ros.data.realcheck.scene import SceneFacts
from tvau_ros.data.realcheck.sprites import Sprite, SpriteFrame

TRIES = 800
SPEEDUP = (2.6, 3.4)          # fast walker: replay speed against the sprite's own walk
RUN_SPEED = (3.0, 6.0)        # m/s: the fast walker's speed stays within this
TURN_DEG = 25.0               # a replayed walker may head this far off its own direction
FALL_FRAMES_S = 0.7           # tipping over takes this long
LIE_MIN_S = 3.0
WALK_BEFORE_S = (1.0, 4.0)    # a faller or stander walks this long first (from the clip start)
STILL_LABEL_AFTER_S = 8.0     # standing still counts as abnormal after this long; the longest
                              # still person in frames 0-399 stands about 6 s (summary JSON)
STILL_MIN_S = 12.0
SWAY_PX, SWAY_PERIOD_S = 0.6, 3.0
WIDTH_OF_HEIGHT = 0.45        # a walker's box width in person heights (placement checks)


class PlacementError(RuntimeError):
    """No place and time on the walkway fits the composite."""


def ground_velocity(sprite: Sprite, facts: SceneFacts) -> np.ndarray:
    """The sprite's walking velocity on the ground (vx, vz) in m/s (least squares)."""
    feet = np.array([f.foot for f in sprite.frames])
    x, z = facts.ground(feet[:, 0], feet[:, 1])
    t = np.arange(len(feet)) / facts.fps
    return np.array([np.polyfit(t, x, 1)[0], np.polyfit(t, z, 1)[0]])


def sprite_layer(facts: SceneFacts, frame: SpriteFrame, target: np.ndarray, mirror: bool,
                 angle_deg: float = 0.0) -> Layer:
    """``frame`` with its feet on ``target`` (u, v), scaled to a person's height there."""
    scale = facts.line.at(target[1]) / facts.line.at(frame.foot[1])
    return warp_layer(frame.pixels, frame.mask, frame.foot_in_crop(), target, scale, angle_deg, mirror)


def random_walkway_point(facts: SceneFacts, rng: np.random.Generator) -> np.ndarray:
    vs, us = facts.walkway_pixels
    k = rng.integers(len(us))
    return np.array(facts.ground(float(us[k]), float(vs[k]) + 1.0))


def _person_box(facts: SceneFacts, uv: np.ndarray) -> tuple[int, int, int, int]:
    h = facts.line.at(uv[1])
    half = 0.5 * WIDTH_OF_HEIGHT * h
    return int(uv[0] - half), int(uv[1] - h), int(uv[0] + half), int(uv[1])


def _inside(facts: SceneFacts, box: tuple[int, int, int, int], margin: int = 2) -> bool:
    x0, y0, x1, y1 = box
    return x0 >= margin and y0 >= margin and x1 <= facts.width - margin and y1 <= facts.height - margin


def _clear_path(facts: SceneFacts, uvs: np.ndarray, source_frames: list[int],
                boxes: list[tuple[int, int, int, int]] | None = None) -> bool:
    """Every position inside the frame, on the walkway and clear of real people."""
    boxes = boxes or [_person_box(facts, uv) for uv in uvs]
    if not all(_inside(facts, b) for b in boxes) or not facts.on_walkway(uvs).all():
        return False
    return not any(facts.collides(f, b, uv[1]) for f, b, uv in zip(source_frames, boxes, uvs, strict=True))


def _walk_to(facts: SceneFacts, rng: np.random.Generator, velocity: np.ndarray, longest: int) -> np.ndarray:
    """Foot pixels (frames, 2) of a walk at ``velocity`` (m/s) lasting WALK_BEFORE_S (at most
    ``longest`` frames) and ending at a random walkway point, where the event then happens."""
    frames = int(rng.integers(int(WALK_BEFORE_S[0] * facts.fps), min(int(WALK_BEFORE_S[1] * facts.fps), longest) + 1))
    end = random_walkway_point(facts, rng)
    t = (np.arange(frames)[:, None] - (frames - 1)) / facts.fps
    xz = end[None] + t * np.asarray(velocity)[None]
    return facts.image(xz[:, 0], xz[:, 1])


def _walking_ops(facts: SceneFacts, sprite: Sprite, mirror: bool, uvs: np.ndarray,
                 rng: np.random.Generator) -> list[FrameOp | None]:
    """The sprite walking along ``uvs`` (its own frames in order from a random phase), normal."""
    phase = int(rng.integers(len(sprite.frames)))
    return [FrameOp(sprite_layer(facts, sprite.frames[(phase + k) % len(sprite.frames)], uv, mirror),
                    float(uv[1]), False) for k, uv in enumerate(uvs)]


def crossing_span(in_view: np.ndarray, mid: int) -> tuple[int, int] | None:
    """The run of ``in_view`` around index ``mid`` (first, last), or None when ``mid`` is not
    in view or the run reaches either end (the path never leaves the view).

    >>> crossing_span(np.array([0, 1, 1, 1, 0], bool), 2)
    (1, 3)
    """
    if not in_view[mid]:
        return None
    lo, hi = mid, mid
    while lo > 0 and in_view[lo - 1]:
        lo -= 1
    while hi < len(in_view) - 1 and in_view[hi + 1]:
        hi += 1
    return None if lo == 0 or hi == len(in_view) - 1 else (lo, hi)


def _pick_sprite(sprites: list[Sprite], rng: np.random.Generator, facts: SceneFacts) -> tuple[Sprite, bool, np.ndarray]:
    """A sprite, whether to mirror it, and its ground velocity turned by up to TURN_DEG."""
    sprite = sprites[rng.integers(len(sprites))]
    mirror = bool(rng.random() < 0.5)
    vel = ground_velocity(sprite, facts) * (np.array([-1.0, 1.0]) if mirror else 1.0)
    a = np.radians(rng.uniform(-TURN_DEG, TURN_DEG))
    vel = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ vel
    return sprite, mirror, vel


def _sprite_meta(sprite: Sprite, mirror: bool) -> dict:
    return {"sprite_source_frames": list(sprite.source_frames), "mirrored": mirror}


def _ground_contact(layer: Layer, ground_v: float, progress: float) -> Layer:
    """Lift a falling body so that, once down (``progress`` 1), its lowest pixel rests on
    the ground row instead of reaching below it (it turned about its feet)."""
    rows = np.flatnonzero(layer.cover.max(axis=1) >= 0.5)
    if len(rows):
        layer.y0 -= int(round(max(0.0, layer.y0 + rows[-1] + 1 - ground_v) * progress))
    return layer


def _contact_shadow(layer: Layer, darkness: float = 0.3) -> Layer:
    """A soft darkening under a body lying on the ground, offset slightly downward."""
    cover = np.pad(layer.cover, 3)
    cover = cv2.GaussianBlur(cover, (0, 0), 1.5) * darkness
    return Layer(layer.x0 - 3, layer.y0 - 1, np.zeros(cover.shape + (3,), np.float32), cover)


def fast_walker(facts: SceneFacts, rng: np.random.Generator, sprites: list[Sprite],
                source_frames: list[int]) -> Composite:
    """A real walker replayed ~3x faster (gait and path) along a line across the walkway."""
    n = len(source_frames)
    for _ in range(TRIES):
        sprite, mirror, vel = _pick_sprite(sprites, rng, facts)
        own = float(np.hypot(*vel))
        speedup = float(np.clip(rng.uniform(*SPEEDUP), RUN_SPEED[0] / own, RUN_SPEED[1] / own))
        vel = vel * speedup
        centre = random_walkway_point(facts, rng)
        # the whole crossing, from entering the frame to leaving it, centred on ``centre``
        span = np.arange(-n, n + 1)
        uvs = facts.image(centre[0] + vel[0] * span / facts.fps, centre[1] + vel[1] * span / facts.fps)
        boxes = [_person_box(facts, uv) for uv in uvs]
        crossing = crossing_span(np.array([_inside(facts, b, margin=-int(b[2] - b[0])) for b in boxes]), n)
        if crossing is None or crossing[1] - crossing[0] + 1 < 2 * facts.fps:
            continue  # must enter and leave through the border, and be seen 2 s or more
        lo, hi = crossing
        enter = int(rng.integers(0, max(1, n - (hi - lo + 1)) + 1)) if hi - lo + 1 < n else 0
        steps = [(enter + k, lo + k) for k in range(hi - lo + 1) if enter + k < n]
        feet = np.array([uvs[i] for _, i in steps])
        in_frame = np.array([_inside(facts, boxes[i], 0) for _, i in steps])
        if facts.on_walkway(feet[in_frame]).mean() < 0.7:
            continue
        if any(facts.collides(source_frames[t], boxes[i], uvs[i][1]) for t, i in steps):
            continue
        ops: list[FrameOp | None] = [None] * n
        phase = int(rng.integers(len(sprite.frames)))
        for k, (t, i) in enumerate(steps):
            frame = sprite.frames[int(phase + round(k * speedup)) % len(sprite.frames)]
            ops[t] = FrameOp(sprite_layer(facts, frame, uvs[i], mirror), float(uvs[i][1]), True)
        meta = {"speed_mps": round(float(np.hypot(*vel)), 2), "speedup": round(speedup, 2),
                **_sprite_meta(sprite, mirror), "path_uv": rounded(feet)}
        return Composite("fast_walker", ops, meta)
    raise PlacementError("fast_walker: no line across the walkway clear of real people")


def fall(facts: SceneFacts, rng: np.random.Generator, sprites: list[Sprite],
         source_frames: list[int]) -> Composite:
    """A real walker walks, tips over within ~0.7 s and lies still to the end of the clip."""
    n = len(source_frames)
    tip = max(2, int(round(FALL_FRAMES_S * facts.fps)))
    for _ in range(TRIES):
        sprite, mirror, vel = _pick_sprite(sprites, rng, facts)
        uvs = _walk_to(facts, rng, vel, n - tip - int(LIE_MIN_S * facts.fps))
        walk = len(uvs)
        rest = uvs[-1]
        h = facts.line.at(rest[1])
        side = np.sign(uvs[-1][0] - uvs[0][0]) if abs(uvs[-1][0] - uvs[0][0]) > 0.3 * h else rng.choice([-1.0, 1.0])
        angle = float(side * rng.uniform(78.0, 88.0))
        lying = (int(min(rest[0], rest[0] + side * h)), int(rest[1] - 0.45 * h),
                 int(max(rest[0], rest[0] + side * h)), int(rest[1]))
        far_end = np.array([[rest[0] + side * 0.9 * h, rest[1]]])
        if not _inside(facts, lying) or not facts.on_walkway(far_end).all():
            continue
        if any(facts.collides(f, lying, rest[1], reach=0.35) for f in source_frames[walk:]):
            continue  # nobody walks over or stands just in front of the fallen person
        if not _clear_path(facts, uvs, source_frames[:walk]):
            continue
        ops = _walking_ops(facts, sprite, mirror, uvs, rng)
        pose = sprite.frames[sprite.standing_index()]  # legs together while falling and lying
        for k in range(1, n - walk + 1):
            progress = min(1.0, k / tip)
            layer = _ground_contact(sprite_layer(facts, pose, rest, mirror, angle * progress ** 2), rest[1], progress)
            shadow = _contact_shadow(layer) if progress >= 1.0 else None
            ops.append(FrameOp(layer, float(rest[1]), True, shadow))
        meta = {"walk_speed_mps": round(float(np.hypot(*vel)), 2), "fall_frame": walk,
                "fall_frames": tip, "fall_angle_deg": round(angle, 1), **_sprite_meta(sprite, mirror),
                "path_uv": rounded(uvs), "rest_uv": rounded(rest)}
        return Composite("fall", ops, meta)
    raise PlacementError("fall: no walk and resting place on the walkway clear of real people")


def standing_still(facts: SceneFacts, rng: np.random.Generator, sprites: list[Sprite],
                   source_frames: list[int]) -> Composite:
    """A real walker walks in, then stands still (slight sway) to the end of the clip."""
    n = len(source_frames)
    still_min = int(STILL_MIN_S * facts.fps)
    if n - still_min < int(WALK_BEFORE_S[0] * facts.fps):
        raise PlacementError(f"standing_still: a clip of {n} frames is too short for "
                             f"{STILL_MIN_S:.0f} s of standing after walking in")
    for _ in range(TRIES):
        sprite, mirror, vel = _pick_sprite(sprites, rng, facts)
        uvs = _walk_to(facts, rng, vel, n - still_min)
        walk = len(uvs)
        rest = uvs[-1]
        if any(facts.collides(f, _person_box(facts, rest), rest[1]) for f in source_frames[walk:]):
            continue
        if not _clear_path(facts, uvs, source_frames[:walk]):
            continue
        ops = _walking_ops(facts, sprite, mirror, uvs, rng)
        pose = sprite.frames[sprite.standing_index()]
        label_from = walk + int(round(STILL_LABEL_AFTER_S * facts.fps))
        sway0 = rng.uniform(0, 2 * np.pi)
        for k in range(n - walk):
            du = SWAY_PX * np.sin(sway0 + 2 * np.pi * k / (SWAY_PERIOD_S * facts.fps))
            ops.append(FrameOp(sprite_layer(facts, pose, (rest[0] + du, rest[1]), mirror),
                               float(rest[1]), walk + k >= label_from))
        meta = {"walk_speed_mps": round(float(np.hypot(*vel)), 2), "stop_frame": walk,
                "still_s": round((n - walk) / facts.fps, 1), "labelled_after_still_s": STILL_LABEL_AFTER_S,
                **_sprite_meta(sprite, mirror), "path_uv": rounded(uvs), "rest_uv": rounded(rest)}
        return Composite("standing_still", ops, meta)
    raise PlacementError("standing_still: no place on the walkway stays clear of real people")


def rounded(a: ArrayLike) -> list:
    """Pixel coordinates for meta JSON: nested lists at 0.1 px."""
    return np.round(np.asarray(a, float), 1).tolist()
