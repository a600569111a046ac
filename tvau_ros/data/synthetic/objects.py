"""Figures of vehicles, ridden boards and static scene props (trees, benches, buildings...)."""
from __future__ import annotations

import numpy as np

from tvau_ros.data.synthetic.figures import UP, Figure, add_box, circle_points


def heading_axes(heading: float) -> tuple[np.ndarray, np.ndarray]:
    fwd = np.array([np.sin(heading), 0.0, np.cos(heading)])
    right = np.array([np.cos(heading), 0.0, -np.sin(heading)])
    return right, fwd


def car_figure(root: np.ndarray, heading: float, color: tuple[int, int, int], cam_pos: np.ndarray,
               kind: str = "car") -> Figure:
    """A car or van: body box, cabin/glass, four wheels, ground shadow."""
    root = np.asarray(root, float)
    right, fwd = heading_axes(heading)
    length, width = (4.3, 1.8) if kind == "car" else (4.8, 1.95)
    fig = Figure()
    fig.shadow(None, 0.0, 0.35, [root + 0.01 * UP + a * (width / 2 + 0.15) * right + b * (length / 2 + 0.1) * fwd
                                 for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1))])
    side = 1.0 if np.dot(right, cam_pos - root) > 0 else -1.0
    wheels = {s: [root + s * (width / 2 + 0.01) * right + z * fwd + 0.33 * UP
                  for z in (-0.33 * length, 0.33 * length)] for s in (-1.0, 1.0)}
    for c in wheels[-side]:
        fig.poly(circle_points(c, fwd, UP, 0.33, 10), (25, 25, 25))
    glass = (90, 70, 55)
    if kind == "car":
        add_box(fig, root + 0.55 * UP, (right, UP, fwd), (width / 2, 0.3, length / 2), color, cam_pos)
        add_box(fig, root + 1.12 * UP - 0.05 * length * fwd, (right, UP, fwd),
                (0.45 * width, 0.27, 0.27 * length), glass, cam_pos)
        fig.hull([root + 1.4 * UP - 0.05 * length * fwd + a * 0.42 * width * right + b * 0.22 * length * fwd
                  for a in (-1, 1) for b in (-1, 1)], color)
    else:
        add_box(fig, root + 1.05 * UP, (right, UP, fwd), (width / 2, 0.8, length / 2), color, cam_pos)
        front = root + 1.35 * UP + (length / 2 + 0.01) * fwd
        if np.dot(fwd, cam_pos - front) > 0:
            fig.poly([front + a * 0.45 * width * right + b * 0.35 * UP for a, b in
                      ((-1, -1), (1, -1), (1, 1), (-1, 1))], glass)
    for c in wheels[side]:
        fig.poly(circle_points(c, fwd, UP, 0.33, 10), (25, 25, 25))
        fig.disc(c, 0.12, (150, 150, 150))
    return fig


def bicycle_figure(root: np.ndarray, heading: float, color: tuple[int, int, int], cam_pos: np.ndarray) -> Figure:
    root = np.asarray(root, float)
    right, fwd = heading_axes(heading)
    fig = Figure()
    fig.shadow(root + 0.01 * UP, 0.6, alpha=0.25)
    rear, front = root + 0.34 * UP - 0.52 * fwd, root + 0.34 * UP + 0.52 * fwd
    crank, seat = root + 0.32 * UP, root + 0.92 * UP - 0.18 * fwd
    head = root + 0.92 * UP + 0.38 * fwd
    for hub in (rear, front):
        fig.loop(circle_points(hub, fwd, UP, 0.34, 14), 0.035, (30, 30, 30))
    for a, b in ((rear, crank), (crank, seat), (seat, rear), (seat, head), (crank, head), (head, front)):
        fig.seg(a, b, 0.04, color)
    bar = head + 0.1 * UP
    fig.seg(bar - 0.25 * right, bar + 0.25 * right, 0.03, (30, 30, 30))
    return fig


def skateboard_figure(root: np.ndarray, heading: float, cam_pos: np.ndarray) -> Figure:
    right, fwd = heading_axes(heading)
    fig = Figure()
    add_box(fig, np.asarray(root, float) + 0.09 * UP, (right, UP, fwd), (0.11, 0.025, 0.42),
            (40, 60, 110), cam_pos)
    return fig


def ball_figure(center: np.ndarray, radius: float = 0.11, color: tuple[int, int, int] = (30, 140, 230)) -> Figure:
    fig = Figure()
    fig.disc(np.asarray(center, float), radius, color)
    return fig


# Static props. ``root`` is the ground point under the prop; each returns a Figure.

def tree_figure(root: np.ndarray, rng: np.random.Generator, cam_pos: np.ndarray) -> Figure:
    root = np.asarray(root, float)
    h = rng.uniform(2.2, 3.2)
    r = rng.uniform(1.3, 2.4)
    green = np.array([40, 110, 45]) + rng.integers(-15, 25, 3)
    fig = Figure()
    fig.shadow(root + 0.01 * UP, 0.9 * r, alpha=0.25)
    fig.seg(root, root + (h + 0.5 * r) * UP, 0.28, (40, 60, 85))
    c = root + (h + r) * UP
    cam_dir = cam_pos - c
    cam_dir[1] = 0
    cam_dir /= np.linalg.norm(cam_dir) + 1e-9
    side = np.cross(UP, cam_dir)
    for _k in range(5):
        off = rng.normal(0, 0.35 * r, 3) * np.array([1, 0.6, 1])
        shade = np.clip(green * rng.uniform(0.8, 1.25), 0, 255)
        _ellipsoid(fig, c + off, side, cam_dir, (0.75 * r, 0.7 * r), tuple(int(x) for x in shade))
    return fig


def _ellipsoid(fig: Figure, center: np.ndarray, side: np.ndarray, toward: np.ndarray, radii: tuple[float, float],
               color: tuple[int, int, int]) -> None:
    """Silhouette of an ellipsoid seen from ``toward``: an ellipse in the side/up plane."""
    pts = [center + radii[0] * np.cos(a) * side + radii[1] * np.sin(a) * UP
           for a in np.linspace(0, 2 * np.pi, 12, endpoint=False)]
    fig.hull(pts, color)


def bush_figure(root: np.ndarray, rng: np.random.Generator, cam_pos: np.ndarray, size: float | None = None) -> Figure:
    root = np.asarray(root, float)
    r = size or rng.uniform(0.5, 1.0)
    green = np.array([35, 100, 40]) + rng.integers(-10, 25, 3)
    cam_dir = cam_pos - root
    cam_dir[1] = 0
    cam_dir /= np.linalg.norm(cam_dir) + 1e-9
    side = np.cross(UP, cam_dir)
    fig = Figure()
    for _k in range(3):
        off = np.array([rng.normal(0, 0.4 * r), 0, rng.normal(0, 0.2 * r)])
        shade = np.clip(green * rng.uniform(0.8, 1.2), 0, 255)
        _ellipsoid(fig, root + off + 0.6 * r * UP, side, cam_dir, (r, 0.6 * r), tuple(int(x) for x in shade))
    return fig


def bench_figure(root: np.ndarray, facing: float, cam_pos: np.ndarray,
                 color: tuple[int, int, int] = (50, 80, 120)) -> Figure:
    root = np.asarray(root, float)
    right, fwd = heading_axes(facing)
    fig = Figure()
    for s in (-0.7, 0.7):
        fig.seg(root + s * right, root + s * right + 0.45 * UP, 0.06, (40, 40, 40))
    add_box(fig, root - 0.2 * fwd + 0.72 * UP, (right, UP, fwd), (0.8, 0.22, 0.03), color, cam_pos)
    add_box(fig, root + 0.45 * UP, (right, UP, fwd), (0.8, 0.03, 0.22), color, cam_pos)
    return fig


def lamp_figure(root: np.ndarray, cam_pos: np.ndarray) -> Figure:
    root = np.asarray(root, float)
    fig = Figure()
    fig.seg(root, root + 4.2 * UP, 0.12, (50, 50, 55))
    fig.disc(root + 4.3 * UP, 0.22, (200, 220, 230))
    return fig


def bin_figure(root: np.ndarray, cam_pos: np.ndarray, color: tuple[int, int, int] = (40, 90, 40)) -> Figure:
    fig = Figure()
    add_box(fig, np.asarray(root, float) + 0.45 * UP, (np.array([1.0, 0, 0]), UP, np.array([0, 0, 1.0])),
            (0.28, 0.45, 0.28), color, cam_pos)
    return fig


def planter_figure(root: np.ndarray, cam_pos: np.ndarray, width: float = 1.6) -> Figure:
    root = np.asarray(root, float)
    fig = Figure()
    axes = (np.array([1.0, 0, 0]), UP, np.array([0, 0, 1.0]))
    add_box(fig, root + 0.35 * UP, axes, (width / 2, 0.35, 0.5), (120, 130, 140), cam_pos)
    fig.hull([root + 0.7 * UP + a * width / 2 * axes[0] + b * 0.45 * axes[2] + c * 0.35 * UP
              for a in (-1, 1) for b in (-1, 1) for c in (0, 1)], (40, 110, 50))
    return fig


def building_figure(x0: float, x1: float, z0: float, z1: float, height: float, color: tuple[float, float, float],
                    cam_pos: np.ndarray, rng: np.random.Generator, door_x: float | None = None) -> Figure:
    """An axis-aligned building with a window grid on its camera-facing faces."""
    center = np.array([(x0 + x1) / 2, height / 2, (z0 + z1) / 2])
    half = ((x1 - x0) / 2, height / 2, (z1 - z0) / 2)
    axes = (np.array([1.0, 0, 0]), UP, np.array([0, 0, 1.0]))
    fig = Figure()
    add_box(fig, center, axes, half, color, cam_pos)
    win = tuple(int(c) for c in np.clip(np.array(color) * 0.45 + np.array([40, 30, 20]), 0, 255))
    floors = max(1, int(height / 3.2))
    # front face (towards the camera, z = z0) and the side facing the camera
    faces = [(np.array([x0, 0, z0 - 0.02]), axes[0], x1 - x0)]
    if cam_pos[0] < x0:
        faces.append((np.array([x0 - 0.02, 0, z1]), -axes[2], z1 - z0))
    elif cam_pos[0] > x1:
        faces.append((np.array([x1 + 0.02, 0, z0]), axes[2], z1 - z0))
    for origin, along, length in faces:
        cols = max(1, int(length / 3.5))
        for fl in range(floors):
            y = 1.2 + fl * 3.2
            if y + 1.5 > height:
                break
            for cl in range(cols):
                a = origin + (cl + 0.3) * (length / cols) * along + y * UP
                b = a + 0.4 * (length / cols) * along
                fig.poly([a, b, b + 1.5 * UP, a + 1.5 * UP], win)
    if door_x is not None:
        a = np.array([door_x - 1.2, 0, z0 - 0.03])
        fig.poly([a, a + 2.4 * axes[0], a + 2.4 * axes[0] + 2.6 * UP, a + 2.6 * UP], (40, 45, 50))
    return fig
