"""A scene: camera + layout + props, rendered once into a background and prop sprites.

Scenes are numbered (``Scene{N}``) and fully determined by (seed, N): scene N uses layout
template ``(N - 1) % 14``, so every template appears once the config has >= 14 scenes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from tvau_ros.data.synthetic import layouts as L
from tvau_ros.data.synthetic import objects as O
from tvau_ros.data.synthetic.camera import Camera
from tvau_ros.data.synthetic.figures import Figure
from tvau_ros.data.synthetic.render import Sprite, make_sprite, overlaps

LAYOUT_NAMES = tuple(L.LAYOUTS)


@dataclass(frozen=True)
class SceneSpec:
    index: int
    layout: str
    seed: int
    one_way: bool
    camera: Camera


def make_scene_spec(seed: int, index: int, width: int, height: int) -> SceneSpec:
    rng = np.random.default_rng([seed, 7919, index])
    layout = LAYOUT_NAMES[(index - 1) % len(LAYOUT_NAMES)]
    cam = Camera(width, height, height_m=float(rng.uniform(3.5, 11.0)),
                 tilt_deg=float(rng.uniform(14.0, 36.0)), hfov_deg=float(rng.uniform(50.0, 70.0)))
    one_way = L.LAYOUTS[layout][1] and ((index - 1) // len(LAYOUT_NAMES)) % 2 == 0
    return SceneSpec(index, layout, seed, bool(one_way), cam)


@dataclass
class Scene:
    spec: SceneSpec
    cam: Camera
    ground: L.GroundMap
    layout: L.Layout
    view: L.ViewFrame
    background: np.ndarray
    sprites: list[Sprite]
    depth: np.ndarray                  # (H, W) view depth of each pixel's ground (sky: 1e4)
    props: list[tuple] = field(default_factory=list)

    @property
    def walk_routes(self) -> list[L.Route]:
        return [r for r in self.layout.routes if r.kind == "walk"]

    @property
    def drive_routes(self) -> list[L.Route]:
        return [r for r in self.layout.routes if r.kind == "drive"]


def _palette(rng: np.random.Generator) -> dict[int, np.ndarray]:
    def jitter(c: tuple[int, int, int], s: float = 12) -> np.ndarray:
        return np.clip(np.array(c, float) + rng.normal(0, s, 3), 0, 255)
    walk = [(150, 155, 160), (135, 160, 185), (110, 120, 160), (170, 170, 165), (120, 140, 150)]
    plaza = [(175, 180, 185), (150, 170, 190), (140, 145, 150)]
    return {
        L.NONE: jitter((55, 115, 70)), L.GRASS: jitter((55, 135, 75), 15),
        L.WALK: jitter(walk[rng.integers(len(walk))]), L.PLAZA: jitter(plaza[rng.integers(len(plaza))]),
        L.ROAD: jitter((72, 72, 75), 5), L.MARK: jitter((225, 228, 228), 5),
        L.WATER: jitter((160, 120, 70), 10), L.FLOWERBED: jitter((45, 65, 95), 8),
    }


def _noise_at(rng: np.random.Generator, X: np.ndarray, Z: np.ndarray, cell: float) -> np.ndarray:
    """Smooth value noise in [0, 1] sampled at world points (bilinear over a random grid)."""
    gx, gz = int(180 / cell) + 2, int(130 / cell) + 2
    grid = rng.random((gz, gx), dtype=np.float32)
    mx = ((np.nan_to_num(X, nan=-1e3) - L.GroundMap.X0) / cell).astype(np.float32)
    mz = ((np.nan_to_num(Z, nan=-1e3) - L.GroundMap.Z0) / cell).astype(np.float32)
    return cv2.remap(grid, mx, mz, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.5)


def render_ground(cam: Camera, gm: L.GroundMap, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Background sky + textured ground (BGR uint8) and the per-pixel ground depth."""
    h, w = cam.height, cam.width
    uu, vv = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    X, Z = cam.ground_from_pixel(uu, vv)
    ground = np.isfinite(Z)
    codes = gm.code_at(X, Z)
    pal = _palette(rng)
    lut = np.zeros((8, 3), np.float32)
    for k, c in pal.items():
        lut[k] = c
    img = lut[codes]
    depth = np.where(ground, cam.ground_depth(np.nan_to_num(Z, nan=1e4)), 1e4)
    foot = depth / cam.focal  # metres per pixel
    fine_gain = np.clip(0.06 / foot, 0, 1)[..., None]
    coarse, fine = _noise_at(rng, X, Z, 3.0)[..., None], _noise_at(rng, X, Z, 0.3)[..., None]
    grassy = np.isin(codes, (L.GRASS, L.NONE, L.FLOWERBED))[..., None]
    stripes = 0.05 * np.sin(np.nan_to_num(X) * 2 * np.pi / rng.uniform(3, 6))[..., None]
    img *= np.where(grassy, 1 + 0.25 * (coarse - 0.5) + 0.3 * fine_gain * (fine - 0.5) + stripes,
                    1 + 0.1 * (coarse - 0.5) + 0.12 * fine_gain * (fine - 0.5))
    for code, tile in ((L.WALK, rng.uniform(0.4, 0.8)), (L.PLAZA, rng.uniform(0.9, 1.6))):
        sel = codes == code
        gx = np.mod(np.nan_to_num(X), tile) < 0.05
        gz = np.mod(np.nan_to_num(Z), tile) < 0.05
        grout = (sel & (gx | gz))[..., None]
        img *= np.where(grout, 1 - 0.25 * fine_gain, 1.0)
    flowers = (codes == L.FLOWERBED) & (fine[..., 0] > 0.8)
    img[flowers] = np.array([[60, 60, 220], [60, 200, 230], [200, 120, 220]])[rng.integers(0, 3, flowers.sum())]
    # sky above the horizon, haze towards it
    zenith = np.array([200, 150, 100], np.float32) + rng.normal(0, 10, 3)
    horizon = np.array([235, 220, 205], np.float32) + rng.normal(0, 8, 3)
    hv = cam.horizon_v()
    t = np.clip((vv - (hv - 0.6 * h)) / (0.6 * h + 1e-6), 0, 1)[..., None]
    sky = zenith * (1 - t) + horizon * t
    haze = (1 - np.exp(-depth / 220.0))[..., None]
    img = np.where(ground[..., None], img * (1 - haze) + horizon * haze, sky)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if hv > 8:
        for _ in range(rng.integers(0, 4)):
            c = (int(rng.uniform(0, w)), int(rng.uniform(0, max(1, hv - 4))))
            cv2.ellipse(img, c, (int(rng.uniform(15, 50)), int(rng.uniform(4, 10))), 0, 0, 360,
                        (245, 245, 245), -1, cv2.LINE_AA)
        top = int(min(h, hv))
        img[:top] = cv2.GaussianBlur(img[:top], (0, 0), 2.0) if top > 2 else img[:top]
    return cv2.GaussianBlur(img, (0, 0), 0.6), depth.astype(np.float32)


def _place_props(scene_rng: np.random.Generator, gm: L.GroundMap, vf: L.ViewFrame, cam: Camera,
                 layout: L.Layout) -> list[tuple]:
    walk = np.isin(gm.codes, (L.WALK, L.PLAZA, L.MARK, L.ROAD, L.WATER))
    dist = cv2.distanceTransform((~walk).astype(np.uint8), cv2.DIST_L2, 5) * gm.RES
    n = 600
    u, v = scene_rng.uniform(-0.05, 1.05, n), scene_rng.uniform(-0.05, 1.05, n)
    pts = np.array([vf.pt(a, b) for a, b in zip(u, v, strict=True)])
    codes = gm.code_at(pts[:, 0], pts[:, 1])
    col = np.clip(((pts[:, 0] - gm.X0) / gm.RES).astype(int), 1, gm.NX - 2)
    row = np.clip(((pts[:, 1] - gm.Z0) / gm.RES).astype(int), 1, gm.NZ - 2)
    d = dist[row, col]
    depth = cam.ground_depth(pts[:, 1])
    rules = {"tree": ((L.GRASS, L.FLOWERBED), 1.8, 99, 5.0, 3.5), "bush": ((L.GRASS, L.FLOWERBED), 0.9, 99, 3.0, 1.8),
             "bench": ((L.GRASS,), 0.5, 1.0, 3.0, 2.0), "lamp": ((L.GRASS,), 0.3, 0.8, 3.0, 4.0),
             "bin": ((L.GRASS,), 0.3, 0.7, 3.0, 2.0)}
    placed = [(k, x, z, f) for k, x, z, f in layout.fixed_props]
    for kind, count in layout.props.items():
        allowed, dmin, dmax, min_depth, sep = rules[kind]
        ok = np.flatnonzero(np.isin(codes, allowed) & (d >= dmin) & (d <= dmax) & (depth >= min_depth))
        scene_rng.shuffle(ok)
        got = 0
        for i in ok:
            if got >= count:
                break
            x, z = pts[i]
            if any(np.hypot(x - px, z - pz) < sep for _, px, pz, _ in placed):
                continue
            gx = dist[row[i], col[i] + 1] - dist[row[i], col[i] - 1]
            gz = dist[row[i] + 1, col[i]] - dist[row[i] - 1, col[i]]
            placed.append((kind, float(x), float(z), float(np.arctan2(-gx, -gz))))
            got += 1
    return placed


def prop_figure(kind: str, x: float, z: float, facing: float, cam: Camera, rng: np.random.Generator) -> Figure:
    root = np.array([x, 0.0, z])
    cam_pos = cam.position
    if kind == "tree":
        return O.tree_figure(root, rng, cam_pos)
    if kind == "bush":
        return O.bush_figure(root, rng, cam_pos)
    if kind == "bench":
        return O.bench_figure(root, facing, cam_pos)
    if kind == "lamp":
        return O.lamp_figure(root, cam_pos)
    if kind == "bin":
        return O.bin_figure(root, cam_pos)
    if kind == "planter":
        return O.planter_figure(root, cam_pos)
    raise ValueError(f"unknown prop kind {kind!r}")


def add_sprites(cam: Camera, img: np.ndarray, items: list[tuple]) -> list[Sprite]:
    """Draw (depth, figure, max image fraction) items far to near onto ``img``; return sprites."""
    sprites = []
    for depth, fig, max_area in sorted(items, key=lambda t: -t[0]):
        s = make_sprite(cam, fig, depth, img, max_area)
        if s is not None:
            sprites.append(s)
    return sprites


def build_scene(spec: SceneSpec) -> Scene:
    rng = np.random.default_rng([spec.seed, 104729, spec.index])
    cam = spec.camera
    gm = L.GroundMap()
    vf = L.ViewFrame(cam)
    layout = L.build_layout(spec.layout, vf, gm, rng, spec.one_way)
    img, depth = render_ground(cam, gm, rng)
    props = _place_props(rng, gm, vf, cam, layout)
    items = []
    for b in layout.buildings:
        color = tuple(float(c) for c in rng.choice([(150, 160, 175), (120, 130, 160), (170, 170, 170),
                                                     (110, 120, 130), (140, 170, 200)]) + rng.normal(0, 8, 3))
        fig = O.building_figure(b.x0, b.x1, b.z0, b.z1, b.height, color, cam.position, rng, b.door_x)
        items.append((float(cam.ground_depth(b.z0)), fig, 1.0))
    for kind, x, z, facing in props:
        items.append((float(cam.ground_depth(z)), prop_figure(kind, x, z, facing, cam, rng), 0.1))
    sprites = add_sprites(cam, img, items)
    return Scene(spec, cam, gm, layout, vf, img, sprites, depth, props)


@lru_cache(maxsize=32)
def cached_scene(spec: SceneSpec) -> Scene:
    return build_scene(spec)


def with_extra_props(scene: Scene, extra: list[tuple], rng: np.random.Generator) -> tuple[np.ndarray, list[Sprite]]:
    """Background and sprite list with per-video props (occluders) added in depth order."""
    if not extra:
        return scene.background, scene.sprites
    img = scene.background.copy()
    items = [(float(scene.cam.ground_depth(z)), prop_figure(k, x, z, f, scene.cam, rng), 0.2)
             for k, x, z, f in extra]
    new = add_sprites(scene.cam, img, items)
    for s in sorted(scene.sprites, key=lambda s: -s.depth):  # nearer scene props stay in front
        if any(n.depth > s.depth and overlaps(n.bbox, s.bbox) for n in new):
            s.paste(img)
    return img, sorted(scene.sprites + new, key=lambda s: -s.depth)
