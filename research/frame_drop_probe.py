"""Frame-drop probe: how much do the frames a busy node drops change what the behaviour engine flags?

The node processes the newest frame and counts the ones it skipped while busy (``dropped``);
the engine follows objects across frames, so a gap changes its tracks. This probe replays the
generated plaza clip (the demo's, or the proof-of-life test's with ``--anomaly-start 10``)
through the shipped pipeline with the plaza's scene model learnt as ``make demo`` learns it,
once with every frame and once per drop pattern: each single frame, each run of 2 and 3
consecutive frames, and random drops of 10 / 20 / 30 % of the frames (``--seeds`` each). Per
pattern: the share of regions that lie on the runner's mask (what the proof-of-life test
asserts >= 0.9), the frames with a region off the runner, whether any region lies on the runner
at all, and the episodes started (1 = only the runner's).

    python -m research.frame_drop_probe --out outputs/frame_drop_probe [--anomaly-start 10] [--seeds 10]

About 4 minutes on 2 cores; ``OUT/drops.jsonl`` holds one row per pattern, ``OUT/summary.json``
the table printed at the end.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from tvau_ros.cli import main as tvau
from tvau_ros.core.pipeline import AnomalyPipeline
from tvau_ros.io.sample_clip import SampleClip, generate_sample_clip
from tvau_ros.io.sources import open_source

FPS = 15.0
SCENE = "plaza"


def replay(frames: list[np.ndarray], clip: SampleClip, scene_dir: Path, drop: set[int]) -> dict:
    """The pipeline over ``frames`` without the indices in ``drop``: regions on / off the target."""
    pipe = AnomalyPipeline.from_config(overrides={"scene": SCENE, "behaviour": {"scene_dir": str(scene_dir)}})
    on, off, off_frames, off_labels = 0, 0, set(), set()
    for i, image in enumerate(frames):
        if i in drop:
            continue
        evidence = pipe.push(image, stamp_ns=10**12 + round(i * 1e9 / FPS))
        for region in evidence.regions if evidence is not None else []:
            b = region.box
            if clip.masks[i][b.y:b.y + b.height, b.x:b.x + b.width].any():
                on += 1
            else:
                off += 1
                off_frames.add(i)
                off_labels.add(region.label)
    regions = on + off
    return {"dropped": sorted(drop), "regions": regions, "regions_on_target": on,
            "on_target": on / regions if regions else float("nan"),
            "frames_off_target": sorted(off_frames), "labels_off_target": sorted(off_labels),
            "episodes": pipe.episodes.total_started}


def patterns(n: int, seeds: int) -> dict[str, list[set[int]]]:
    """Drop patterns by kind: none, single frames, runs of 2 and 3, random shares."""
    out = {"none": [set()]}
    for run in (1, 2, 3):
        out[f"run_{run}"] = [set(range(s, s + run)) for s in range(n - run + 1)]
    for share in (0.1, 0.2, 0.3):
        out[f"random_{int(share * 100)}pct"] = [set(random.Random(seed).sample(range(n), round(share * n)))
                                                 for seed in range(seeds)]
    return out


def summarise(rows: list[dict]) -> dict:
    rates = [r["on_target"] for r in rows if r["regions"]]
    return {"patterns": len(rows), "below_0.9_on_target": sum(r < 0.9 for r in rates),
            "with_region_off_target": sum(bool(r["frames_off_target"]) for r in rows),
            "min_on_target": round(min(rates), 3) if rates else None,
            "runner_missed": sum(r["regions_on_target"] == 0 for r in rows),
            "episodes_not_1": sum(r["episodes"] != 1 for r in rows)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--anomaly-start", type=int, default=25, help="the runner's start (demo 25, proof of life 10)")
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--seeds", type=int, default=10, help="random drop patterns per share")
    parser.add_argument("--learn-frames", type=int, default=900, help="normal frames the scene model learns from")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    scene_dir = args.out / "scenes"
    if not (scene_dir / f"{SCENE}.safetensors").exists():
        normal = generate_sample_clip(args.out / "normal.mp4", frames=args.learn_frames, anomaly_start=1 << 30,
                                      start_frame=1000)
        if tvau(["learn-normal", "--video", str(normal.path), "--scene", SCENE, "--out", str(scene_dir)]) != 0:
            return 1
    clip = generate_sample_clip(args.out / "clip.mp4", frames=args.frames, anomaly_start=args.anomaly_start)
    frames = [f.image for f in open_source(clip.path)]
    table = {}
    with open(args.out / "drops.jsonl", "w") as rows_file:
        for kind, drops in patterns(len(frames), args.seeds).items():
            rows = [replay(frames, clip, scene_dir, drop) for drop in drops]
            for row in rows:
                rows_file.write(json.dumps({"kind": kind, **row}) + "\n")
            table[kind] = summarise(rows)
            print(kind, json.dumps(table[kind]), flush=True)
    (args.out / "summary.json").write_text(json.dumps(table, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
