"""Perfect tracks for ``track_probe.py``: every actor's box, from re-rendering the benchmark.

The synthetic benchmark annotates the abnormal targets only, so the track probe cannot tell
how much its detector (moving foreground + ``Tracker``) costs. This script re-renders every
video of a generator config (deterministic: the same frames as the generated dataset, checked
on each video's length and its first and middle frames) while keeping each actor's projected box, and writes them in the
track probe's cache layout (``OUT/tracks/SPLIT/VIDEO.npz``): one track per actor, occluded or
not, a box being the target when the frame's label map holds the target there.

    python -m research.oracle_tracks --dataset data/default/ubnormal --out outputs/track_probe_oracle
    python -m research.track_probe --dataset data/default/ubnormal --out outputs/track_probe_oracle

About 4 min on 2 cores for the default benchmark's 270 videos.
"""
from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from research.track_probe import MIN_AREA  # boxes smaller than the track probe's smallest component are not kept

MAX_DIFFERENCE = 8.0  # mean grey levels between a re-rendered frame and the dataset's (compression: < 6)


def oracle_table(result) -> np.ndarray:
    """A ``render_job(..., actor_boxes=True)`` result -> the track probe's table ``(N, 7)``:
    frame, track (actor index + 1), x, y, w, h (clipped to the image), target (1 when the
    frame's label map holds the actor's object id, else 0)."""
    h, w = result.frames[0].shape[:2]
    rows = []
    for frame, actor, (x0, y0, x1, y1), obj_id in result.actor_boxes:
        x0, y0 = max(0, int(x0)), max(0, int(y0))
        x1, y1 = min(w - 1, int(np.ceil(x1))), min(h - 1, int(np.ceil(y1)))
        if (x1 - x0 + 1) * (y1 - y0 + 1) < MIN_AREA or x1 <= x0 or y1 <= y0:
            continue
        target = bool(obj_id) and result.labels is not None and bool((result.labels[frame] == obj_id).any())
        rows.append((frame, actor + 1, x0, y0, x1 - x0 + 1, y1 - y0 + 1, float(target)))
    return np.asarray(rows, np.float32).reshape(-1, 7)


def _render(args) -> tuple[str, float]:
    """Render one job and return the mean absolute difference of its first and middle frames
    to the dataset's (infinite for another length); write its table only when that is small
    (another generator version, config or seed renders other videos under the same names)."""
    import cv2

    from tvau_ros.data.synthetic.video import render_job

    job, video, path = args
    if video.num_frames != job.num_frames:
        return job.name, float("inf")
    result = render_job(job, actor_boxes=True)
    difference = 0.0
    for frame in (0, job.num_frames // 2):
        rendered = cv2.cvtColor(result.frames[frame], cv2.COLOR_BGR2RGB).astype(np.int16)
        stored = video.read_frames(frame, frame + 1)[0].astype(np.int16)
        difference = max(difference, float(np.abs(rendered - stored).mean()))
    if difference <= MAX_DIFFERENCE:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, table=oracle_table(result))
    return job.name, difference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="data/default/ubnormal", help="the generated dataset (UBnormal layout)")
    parser.add_argument("--config", default="default", help="generator config it was generated with")
    parser.add_argument("--seed", type=int, default=0, help="generator seed it was generated with")
    parser.add_argument("--out", type=Path, default=Path("outputs/track_probe_oracle"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not Path(args.dataset).is_dir():
        sys.exit(f"oracle_tracks: --dataset {args.dataset} is not a directory")
    if args.workers < 1:
        sys.exit(f"oracle_tracks: --workers must be >= 1, got {args.workers}")

    from tvau_ros.data import load_dataset
    from tvau_ros.data.synthetic.config import load_generator_config
    from tvau_ros.data.synthetic.generate import plan_jobs

    try:
        jobs = plan_jobs(load_generator_config(args.config), seed=args.seed)
    except (FileNotFoundError, ValueError) as exc:
        sys.exit(f"oracle_tracks: --config {args.config}: {exc}")
    videos = {v.name: v for split in sorted({j.split for j in jobs}) for v in load_dataset(args.dataset, split)}
    missing = [j.name for j in jobs if j.name not in videos]
    if missing:
        sys.exit(f"oracle_tracks: {len(missing)} videos of config {args.config!r} are not in {args.dataset} "
                 f"(first: {missing[0]}); pass the --config and --seed it was generated with")
    todo = [(j, videos[j.name], args.out / "tracks" / j.split / f"{j.name}.npz")
            for j in jobs if not (args.out / "tracks" / j.split / f"{j.name}.npz").is_file()]
    with ProcessPoolExecutor(args.workers) as pool:
        differences = dict(pool.map(_render, todo, chunksize=4))
    worst = max(differences.items(), key=lambda kv: kv[1], default=("-", 0.0))
    if worst[1] > MAX_DIFFERENCE:
        bad = sum(d > MAX_DIFFERENCE for d in differences.values())
        sys.exit(f"oracle_tracks: {bad} videos (worst: {worst[0]}, mean difference {worst[1]:.1f}) render differently "
                 f"from {args.dataset}; pass the --config and --seed it was generated with")
    if not todo:
        print(f"all {len(jobs)} tables already in {args.out / 'tracks'}")
        return
    print(f"{len(todo)} videos rendered ({len(jobs) - len(todo)} cached); their frames differ from the "
          f"dataset's by at most {worst[1]:.1f} grey levels on average (video compression)")


if __name__ == "__main__":
    main()
