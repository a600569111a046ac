"""A small generated surveillance clip with one anomaly, for demos and tests.

A fixed camera looks at a textured plaza; a few pedestrians walk slowly; from frame
``anomaly_start`` a runner (the anomaly, object id 1) crosses the scene from left to right
several times faster than anyone else, then leaves. ``generate_sample_clip`` writes the H.264
MP4 and ``<stem>_gt.npz`` (``masks`` (N, H, W) uint8 with 1 on the runner, ``labels`` (N,)
uint8, ``fps``) and returns the same ground truth. Deterministic for a given seed.

Run ``python -m tvau_ros.io.sample_clip OUT.mp4`` to write one.

>>> import tempfile, os
>>> clip = generate_sample_clip(os.path.join(tempfile.mkdtemp(), "s.mp4"), frames=40, anomaly_start=10)
>>> clip.masks.shape, int(clip.labels[:10].sum()), int(clip.labels[12:20].min())
((40, 240, 320), 0, 1)
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PALETTE = [(200, 40, 40), (40, 90, 200), (230, 200, 60), (60, 160, 80), (150, 60, 160), (240, 240, 240)]


@dataclass
class SampleClip:
    path: Path
    fps: float
    masks: np.ndarray   # (N, H, W) uint8, 1 = anomalous target
    labels: np.ndarray  # (N,) uint8, 1 = abnormal frame

    def abnormal_span(self) -> tuple[int, int]:
        """First and last abnormal frame (inclusive)."""
        idx = np.flatnonzero(self.labels)
        return int(idx[0]), int(idx[-1])


def _background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    import cv2

    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    base = np.empty((h, w, 3), np.float32)
    base[..., 0], base[..., 1], base[..., 2] = 110 + 40 * y, 115 + 35 * y, 105 + 30 * y
    tiles = rng.normal(0, 10, (h // 16 + 1, w // 16 + 1)).astype(np.float32)
    base += cv2.resize(tiles, (w, h), interpolation=cv2.INTER_NEAREST)[..., None]
    base += cv2.GaussianBlur(rng.normal(0, 14, (h, w)).astype(np.float32), (0, 0), 1.5)[..., None]
    for _ in range(4):  # benches / planters: static structure
        x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(h // 3, h - 20))
        cv2.rectangle(base, (x0, y0), (x0 + int(rng.integers(20, 40)), y0 + 10), (70, 60, 50), -1)
    return base


def _draw_person(canvas: np.ndarray, mask: np.ndarray | None, foot_x: float, foot_y: float, height: float,
                 color: tuple[int, int, int], phase: float, mask_id: int) -> None:
    import cv2

    body_h, body_w = height * 0.62, height * 0.26
    cx, top = int(round(foot_x)), foot_y - height
    head_r = max(2, int(height * 0.11))
    torso_c = (cx, int(round(top + 2 * head_r + body_h * 0.4)))
    leg_swing = np.sin(phase) * body_w * 0.6
    shapes = [
        ("circle", (cx, int(round(top + head_r))), head_r, (225, 190, 160)),
        ("ellipse", torso_c, (max(2, int(body_w / 2)), max(3, int(body_h * 0.45))), color),
        ("line", (cx, torso_c[1] + int(body_h * 0.35)), (int(cx + leg_swing), int(foot_y)), (50, 50, 60)),
        ("line", (cx, torso_c[1] + int(body_h * 0.35)), (int(cx - leg_swing), int(foot_y)), (50, 50, 60)),
    ]
    thickness = max(2, int(height * 0.08))
    for target, value in ((canvas, None), (mask, mask_id)):
        if target is None:
            continue
        for kind, a, b, col in shapes:
            col = col if value is None else int(value)
            if kind == "circle":
                cv2.circle(target, a, b, col, -1)
            elif kind == "ellipse":
                cv2.ellipse(target, a, b, 0, 0, 360, col, -1)
            else:
                cv2.line(target, a, b, col, thickness)


def _bounce(x: float, lo: float, hi: float) -> float:
    span = hi - lo
    offset = (x - lo) % (2 * span)
    return lo + (offset if offset <= span else 2 * span - offset)


def render_sample_clip(width: int = 320, height: int = 240, frames: int = 90, fps: float = 15.0,
                       anomaly_start: int = 25, walkers: int = 3, seed: int = 0, background_seed: int | None = None,
                       start_frame: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return (frames (N, H, W, 3) uint8 RGB, masks (N, H, W) uint8) without writing files.

    ``background_seed``: draw the plaza from this seed and the people from ``seed``; None: both
    from ``seed``. ``start_frame``: begin later in the plaza's day (the same walkers in their
    lanes, elsewhere along them: other footage of the same place, e.g. to learn its normal)."""
    rng = np.random.default_rng(seed if background_seed is None else background_seed)
    background = _background(height, width, rng)
    if background_seed is not None:
        rng = np.random.default_rng(seed)
    scale = height / 240.0
    people = []
    for i in range(walkers):
        foot_y = height * rng.uniform(0.55, 0.95)
        people.append({
            "x": width * rng.uniform(0.15, 0.85), "y": foot_y,
            "vx": rng.choice([-1, 1]) * rng.uniform(0.7, 1.2) * scale, "h": (28 + 30 * foot_y / height) * scale,
            "color": PALETTE[(i + 1) % len(PALETTE)], "phase": rng.uniform(0, 6),
        })
    runner_y, runner_h, runner_v = height * 0.72, 50 * scale, 6.5 * scale
    out = np.empty((frames, height, width, 3), np.uint8)
    masks = np.zeros((frames, height, width), np.uint8)
    for i, t in enumerate(range(start_frame, start_frame + frames)):
        canvas = background.copy()
        for p in people:
            x = _bounce(p["x"] + p["vx"] * t, 10.0, width - 10.0)  # walkers turn at the borders
            _draw_person(canvas, None, x, p["y"], p["h"], p["color"], p["phase"] + 0.4 * t, 0)
        runner_x = -20 * scale + runner_v * (t - anomaly_start)
        if t >= anomaly_start and runner_x < width + 20 * scale:
            _draw_person(canvas, masks[i], runner_x, runner_y, runner_h, PALETTE[0], 1.2 * t, 1)
        canvas += rng.normal(0, 2.0, canvas.shape).astype(np.float32)  # sensor noise
        out[i] = np.clip(canvas, 0, 255).astype(np.uint8)
    return out, masks


def generate_sample_clip(path: str | Path, width: int = 320, height: int = 240, frames: int = 90,
                         fps: float = 15.0, anomaly_start: int = 25, walkers: int = 3, seed: int = 0,
                         background_seed: int | None = None, start_frame: int = 0) -> SampleClip:
    """Write the clip as H.264 MP4 plus ``<stem>_gt.npz``; return its ground truth."""
    from tvau_ros.io.writers import Mp4Writer

    path = Path(path)
    images, masks = render_sample_clip(width, height, frames, fps, anomaly_start, walkers, seed, background_seed,
                                       start_frame)
    with Mp4Writer(path, fps=fps, quality=9) as writer:
        for image in images:
            writer.write(image)
    labels = (masks.reshape(frames, -1).max(axis=1) > 0).astype(np.uint8)
    np.savez_compressed(gt_path(path), masks=masks, labels=labels, fps=np.float64(fps))
    return SampleClip(path, float(fps), masks, labels)


def gt_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(f"{path.stem}_gt.npz")


def load_sample_gt(path: str | Path) -> SampleClip:
    """Ground truth written next to a generated clip."""
    with np.load(gt_path(path)) as data:
        return SampleClip(Path(path), float(data["fps"]), data["masks"], data["labels"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="output .mp4 path")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=0, help="the people (and, without --background-seed, the plaza)")
    parser.add_argument("--background-seed", type=int, help="the plaza: other footage of the same place")
    parser.add_argument("--walkers", type=int, default=3)
    parser.add_argument("--start-frame", type=int, default=0, help="begin this many frames later (other footage "
                        "of the same walkers in their lanes)")
    parser.add_argument("--normal", action="store_true", help="no runner: normal activity only")
    args = parser.parse_args(argv)
    start = 1 << 30 if args.normal else 25
    clip = generate_sample_clip(args.out, args.width, args.height, args.frames, args.fps, start, args.walkers,
                                args.seed, args.background_seed, args.start_frame)
    what = "no anomaly" if args.normal else "anomaly frames {}-{}".format(*clip.abnormal_span())
    print(f"wrote {clip.path} ({args.frames} frames, {args.width}x{args.height} @ {args.fps:g} fps; {what}) "
          f"and {gt_path(clip.path)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
