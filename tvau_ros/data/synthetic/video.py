"""One video: place actors, render frames and object-id labels, measure the ground truth.

:func:`render_job` is deterministic for its job (seed, split, index): every random draw
comes from ``np.random.default_rng([seed, split, index, attempt])``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tvau_ros.data.synthetic import figures as F
from tvau_ros.data.synthetic.anomalies import ANOMALY_TYPES, occluder_for
from tvau_ros.data.synthetic.camera import Camera
from tvau_ros.data.synthetic.config import EffectsConfig
from tvau_ros.data.synthetic.motion import Actor, State
from tvau_ros.data.synthetic.objects import ball_figure, bicycle_figure, car_figure, skateboard_figure
from tvau_ros.data.synthetic.population import Infeasible, VideoContext, populate
from tvau_ros.data.synthetic.render import (FrameEffects, draw_projected, noise_bank, on_screen,
                                            overlaps, project_figure)
from tvau_ros.data.synthetic.scene import Scene, SceneSpec, cached_scene, with_extra_props
from tvau_ros.data.synthetic.trajectory import empty_track, mask_track, measure, span_of, trajectory_facts

MAX_ATTEMPTS = 8
MIN_AREA, MIN_AREA_SUBTLE = 40, 15  # mean visible pixels a target needs over its span
SPLIT_CODES = {"train": 1, "validation": 2, "test": 3}


@dataclass
class VideoJob:
    """Everything needed to make one video (picklable, sent to worker processes)."""

    name: str
    split: str
    index: int
    seed: int
    scene: SceneSpec
    num_frames: int
    fps: float
    anomaly_types: list[str]
    pedestrians: tuple[int, int]
    subtle_fraction: float
    effects: EffectsConfig
    shanghaitech_name: str | None = None


@dataclass
class VideoResult:
    job: VideoJob
    frames: list[np.ndarray]            # BGR uint8
    labels: np.ndarray | None           # (T, H, W) uint8 object ids, zero outside target spans
    frame_labels: np.ndarray            # (T,) uint8
    meta: dict
    target_areas: list[float] = field(default_factory=list)
    # with render_job(..., actor_boxes=True): (frame, actor index, (x0, y0, x1, y1), object id)
    # of every actor projected on screen, targets and normal people alike, occluded or not
    actor_boxes: list[tuple[int, int, tuple, int]] | None = None


_POSES = {
    "walk": lambda st, b: F.pose_walk(st.phase), "walk_slow": lambda st, b: F.pose_walk(st.phase, 0.7),
    "run": lambda st, b: F.pose_run(st.phase), "stand": lambda st, b: F.pose_stand(st.phase),
    "talk": lambda st, b: F.pose_stand(st.phase, talk=True), "phone": lambda st, b: F.pose_stand(st.phase, phone=True),
    "limp": lambda st, b: F.pose_walk(st.phase, limp=True), "carry": lambda st, b: F.pose_carry(st.phase),
    "fall": lambda st, b: F.pose_fall(st.params["progress"], st.params["sideways"]),
    "lie": lambda st, b: F.pose_lie(st.phase, st.params["sideways"]), "crawl": lambda st, b: F.pose_crawl(st.phase),
    "jump": lambda st, b: F.pose_jump(st.params["air"]), "dance": lambda st, b: F.pose_dance(st.phase),
    "fight": lambda st, b: F.pose_fight(st.phase, st.params["side"]),
    "throw": lambda st, b: F.pose_throw(st.params["progress"]),
    "cycle": lambda st, b: F.pose_cycle(st.phase, 0.92, b), "skate": lambda st, b: F.pose_skate(st.phase),
}
_UMBRELLA_GAITS = {"walk", "walk_slow", "stand", "talk", "phone", "limp", "run", "jump", "dance"}


AZIMUTH_BINS = 16
PHASE_BINS = 24


def _rot(heading: float) -> np.ndarray:
    c, s = np.cos(heading), np.sin(heading)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _quantized_state(st: State) -> tuple[tuple, State]:
    """Cache key of a person's pose and the state with the values the key stands for."""
    k_phase = int(round((st.phase % (2 * np.pi)) / (2 * np.pi) * PHASE_BINS)) % PHASE_BINS
    p = dict(st.params or {})
    p.pop("ball", None)
    for name in ("progress", "air"):
        if name in p:
            p[name] = round(p[name] * 20) / 20
    key = (st.gait, k_phase, tuple(sorted(p.items())))
    return key, State(0.0, 0.0, 0.0, 0.0, st.gait, k_phase * 2 * np.pi / PHASE_BINS, p, st.abnormal)


def _build_local(actor: Actor, st: State, cam_local: np.ndarray) -> F.Figure:
    """The actor's figure at the origin facing +Z, seen from ``cam_local``."""
    origin = np.zeros(3)
    look = actor.look
    body = F.Body(look.height_m)
    pose = _POSES[st.gait](st, body)
    umbrella = "umbrella" in look.accessories and st.gait in _UMBRELLA_GAITS
    if umbrella:
        pose.arm_flex, pose.elbow, pose.arm_abd = (pose.arm_flex[0], 0.5), (pose.elbow[0], 1.4), (pose.arm_abd[0], 0.1)
    if actor.kind == "cyclist":
        fig = bicycle_figure(origin, 0.0, actor.color, cam_local)
        fig.extend(F.person_figure(look, body, pose, origin, 0.0, cam_local, shadow=False, umbrella=False))
    elif actor.kind == "skater":
        fig = skateboard_figure(origin, 0.0, cam_local)
        fig.extend(F.person_figure(look, body, pose, np.array([0, 0.12, 0]), 0.0, cam_local, umbrella=False))
    else:
        fig = F.person_figure(look, body, pose, origin, 0.0, cam_local, carry=actor.carry, umbrella=umbrella)
    return fig


def actor_figure(actor: Actor, st: State, cam_pos: np.ndarray) -> F.Figure:
    """The actor's figure in world coordinates for state ``st``.

    People are built in their own frame and cached per (pose, phase bin, camera azimuth
    bin): walking cycles repeat, so most frames only rotate and translate a cached figure.
    """
    root = np.array([st.x, st.y, st.z])
    if actor.kind in ("car", "van"):
        return car_figure(root, st.heading, actor.color, cam_pos, actor.kind)
    rot = _rot(st.heading)
    rel = (cam_pos - root) @ rot  # camera in the actor's frame
    az = np.arctan2(rel[0], rel[2])
    k_az = int(round(az / (2 * np.pi) * AZIMUTH_BINS)) % AZIMUTH_BINS
    key, qst = _quantized_state(st)
    key = key + (k_az,)
    local = actor.cache.get(key)
    if local is None:
        a = k_az * 2 * np.pi / AZIMUTH_BINS
        r = float(np.hypot(rel[0], rel[2]))
        local = _build_local(actor, qst, np.array([r * np.sin(a), rel[1], r * np.cos(a)]))
        local = (local.points(), local.prims)
        actor.cache[key] = local
    fig = F.Figure()
    fig.pts = local[0] @ rot.T + root
    fig.prims = local[1]
    if st.params and "ball" in st.params:
        ball = ball_figure(st.params["ball"])
        fig.pts = np.vstack([fig.pts, ball.points()])
        fig.prims = fig.prims + [(k, tuple(i + len(local[0]) for i in idx), sz, c) for k, idx, sz, c in ball.prims]
    return fig


def _maybe_on_screen(cam: Camera, st: State, kind: str) -> bool:
    """Cheap test on the actor's ground point before building its figure."""
    u, v, depth = cam.project_point(st.x, 0.0, st.z)
    if depth < 0.5:
        return False
    size = cam.focal * (6.0 if kind in ("car", "van") else 2.5) / depth
    return -size < u < cam.width + size and -2 < v + size and v - size < cam.height + size


def sample_effects(rng: np.random.Generator, cfg: EffectsConfig, depth: np.ndarray, num_frames: int,
                   fps: float) -> FrameEffects:
    cloud = ()
    if rng.random() < cfg.cloud_probability:
        cloud = (int(rng.uniform(0, num_frames)), int(rng.uniform(1.5, 4.0) * fps), float(rng.uniform(0.15, 0.35)))
    fog = None
    if rng.random() < cfg.fog_probability:
        fog = ((1 - np.exp(-depth / rng.uniform(35, 90))) * rng.uniform(0.5, 0.85))[..., None].astype(np.float32)
    return FrameEffects(
        gain=float(rng.uniform(*cfg.lighting_gain)), channel_gain=tuple(1 + rng.normal(0, 0.04, 3)),
        gamma=float(rng.uniform(0.85, 1.15)), drift_amp=float(rng.uniform(0, cfg.lighting_drift)),
        drift_period=float(rng.uniform(4, 12) * fps), cloud_frames=cloud,
        noise_sigma=float(rng.uniform(*cfg.noise_sigma)),
        jpeg_quality=int(rng.uniform(*cfg.jpeg_quality)) if rng.random() < cfg.jpeg_probability else None,
        blur_sigma=float(rng.uniform(0.4, 0.9)) if rng.random() < cfg.blur_probability else 0.0,
        fog_alpha=fog, fog_color=tuple(int(c) for c in rng.uniform(185, 215, 3)))


def render_frames(scene: Scene, actors: list[Actor], extra_props: list, effects: FrameEffects, rng: np.random.Generator,
                  num_frames: int, actor_boxes: list | None = None) -> tuple[list[np.ndarray], np.ndarray | None, dict]:
    """Frames (BGR), object-id labels (None without targets) and, per target id, its
    unoccluded silhouette measured every frame (see ``trajectory.measure``). ``actor_boxes``,
    when given, receives every on-screen actor's projected box (see ``VideoResult``)."""
    cam = scene.cam
    h, w = cam.height, cam.width
    background, sprites = with_extra_props(scene, extra_props, rng)
    has_targets = any(a.obj_id for a in actors)
    labels = np.zeros((num_frames, h, w), np.uint8) if has_targets else None
    bank = noise_bank(rng, effects.noise_sigma, h, w)
    whole = {a.obj_id: empty_track(num_frames) for a in actors if a.obj_id}
    scratch = np.zeros((h, w), np.uint8)
    cam_pos = cam.position
    frames = []
    for f in range(num_frames):
        img = background.copy()
        lab = labels[f] if labels is not None else None
        items = []
        for index, a in enumerate(actors):
            st = a.state(f)
            if st is None or not _maybe_on_screen(cam, st, a.kind):
                continue
            p = project_figure(cam, actor_figure(a, st, cam_pos), float(cam.ground_depth(st.z)))
            if p is not None and on_screen(p, w, h):
                items.append((p.depth, 1, a, p))
                if actor_boxes is not None:
                    actor_boxes.append((f, index, p.bbox, a.obj_id))
        pasted = []
        for s in sprites:  # far to near; a prop is re-pasted over anything behind it
            if any(d > s.depth and overlaps(p.bbox, s.bbox) for d, _, _, p in items) or \
                    any(q.depth > s.depth and overlaps(q.bbox, s.bbox) for q in pasted):
                pasted.append(s)
        order = sorted(items + [(s.depth, 0, None, s) for s in pasted], key=lambda t: -t[0])
        target_boxes = []
        for _, is_actor, a, obj in order:
            if not is_actor:
                obj.paste(img, lab)
                continue
            if a.obj_id:
                draw_projected(img, lab, obj, a.obj_id)
                target_boxes.append(obj.bbox)
                scratch[:] = 0
                draw_projected(None, scratch, obj, 1)
                measure(whole[a.obj_id], f, scratch)
            elif lab is not None and any(overlaps(obj.bbox, b) for b in target_boxes):
                draw_projected(img, lab, obj, 0)
            else:
                draw_projected(img, None, obj)
        frames.append(effects.apply(img, f, bank, rng))
    return frames, labels, whole


def _object_name(a: Actor) -> str:
    if a.kind == "cyclist":
        return "person riding a bicycle"
    if a.kind == "skater":
        return "person on a skateboard"
    if a.kind in ("car", "van"):
        return a.kind
    if a.carry:
        return f"person carrying a large {a.carry}"
    return "person"


def _attributes(a: Actor, mean_area: float, frame_area: int) -> dict:
    if a.kind in ("car", "van"):
        attrs = {"top_color": a.color_name, "bottom_color": a.color_name, "accessories": [],
                 "color": a.color_name}
    else:
        attrs = a.look.attributes()
    frac = mean_area / frame_area
    attrs["size_class"] = "small" if frac < 0.004 else ("medium" if frac < 0.02 else "large")
    return attrs


def _place(ctx: VideoContext, job: VideoJob, rng: np.random.Generator) -> tuple[list[Actor], list[Actor], list]:
    ids = iter(range(1, 256)).__next__
    targets, extras, props = [], [], []
    for cat in job.anomaly_types:
        subtle = bool(rng.random() < job.subtle_fraction)
        made, more = ANOMALY_TYPES[cat].make(ctx, ids, subtle)
        if subtle:
            for t in made:
                occ = occluder_for(ctx, t, job.num_frames)
                if occ:
                    props.append(occ)
        targets += made
        extras += more
    return targets, extras, props


def render_job(job: VideoJob, actor_boxes: bool = False) -> VideoResult:
    """Render one video, retrying with a fresh draw when a target is not visible enough;
    ``actor_boxes`` also keeps every actor's box (``VideoResult.actor_boxes``; draws nothing
    different)."""
    scene = cached_scene(job.scene)
    min_frames = max(4, int(0.4 * job.fps))
    last_problem = ""
    for attempt in range(MAX_ATTEMPTS):
        rng = np.random.default_rng([job.seed, SPLIT_CODES[job.split], job.index, attempt])
        ctx = VideoContext(scene, rng, job.num_frames, job.fps)
        try:
            targets, extras, props = _place(ctx, job, rng)
        except Infeasible as exc:
            last_problem = str(exc)
            continue
        density = int(rng.integers(job.pedestrians[0], job.pedestrians[1] + 1))
        actors = populate(ctx, density) + extras + targets
        effects = sample_effects(rng, job.effects, scene.depth, job.num_frames, job.fps)
        boxes = [] if actor_boxes else None
        frames, labels, whole = render_frames(scene, actors, props, effects, rng, job.num_frames, boxes)
        spans, ok = {}, True
        for t in targets:
            area = (labels == t.obj_id).sum(axis=(1, 2))
            seen = t.abnormal_frames(job.num_frames) & (area >= 2)
            min_area = MIN_AREA_SUBTLE if t.subtle else MIN_AREA
            if seen.sum() < min_frames or area[seen].mean() < min_area:
                ok, last_problem = False, f"{t.category} target barely visible"
                break
            idx = np.flatnonzero(seen)
            spans[t.obj_id] = (int(idx[0]), int(idx[-1]))
        if ok:
            result = _finish(job, scene, actors, targets, spans, frames, labels, whole, effects, props)
            result.actor_boxes = boxes
            return result
    raise RuntimeError(f"{job.name}: could not place {', '.join(job.anomaly_types)} visibly in "
                       f"Scene{job.scene.index} ({job.scene.layout}) after {MAX_ATTEMPTS} attempts: {last_problem}")


def _finish(job: VideoJob, scene: Scene, actors: list[Actor], targets: list[Actor], spans: dict[int, tuple[int, int]],
            frames: list[np.ndarray], labels: np.ndarray | None, whole: dict[int, dict], effects: FrameEffects,
            props: list[tuple]) -> VideoResult:
    cam = scene.cam
    frame_labels = np.zeros(job.num_frames, np.uint8)
    metas, areas = [], []
    for t in targets:
        s, e = spans[t.obj_id]
        frame_labels[s:e + 1] = 1
        track = mask_track(labels, t.obj_id, s, e)
        seen = track["area"] > 0
        mean_area = float(track["area"][seen].mean())
        areas.append(mean_area)
        metas.append({
            "object_id": t.obj_id, "category": t.category, "abnormal": True, "start": s, "end": e,
            "object": _object_name(t), "subtle": bool(t.subtle or ANOMALY_TYPES[t.category].subtle_by_nature),
            "attributes": _attributes(t, mean_area, cam.width * cam.height),
            "trajectory": trajectory_facts(track, cam, job.fps, span_of(whole[t.obj_id], s, e)),
            "mean_area_px": round(mean_area, 1),
            "visible_frames": int(seen.sum()),
        })
    if labels is not None:
        for t in targets:  # ids only inside their own span
            s, e = spans[t.obj_id]
            for f in list(range(0, s)) + list(range(e + 1, job.num_frames)):
                labels[f][labels[f] == t.obj_id] = 0
    normals = [a for a in actors if not a.obj_id and a.look is not None and a.state_count_in(job.num_frames)]
    meta = {
        "video": job.name, "split": job.split, "scene": f"Scene{job.scene.index}", "layout": job.scene.layout,
        "fps": job.fps, "width": cam.width, "height": cam.height, "num_frames": job.num_frames,
        "anomaly_types": sorted({t.category for t in targets}), "targets": metas,
        "camera": cam.to_dict(), "one_way_walkway": job.scene.one_way, "effects": effects.describe(),
        "pedestrians": len(normals), "occluders": [p[0] for p in props],
        "vehicles": sum(1 for a in actors if not a.obj_id and a.kind in ("car", "van")),
        "shanghaitech_name": job.shanghaitech_name,
    }
    return VideoResult(job, frames, labels, frame_labels, meta, areas)
