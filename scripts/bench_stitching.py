#!/usr/bin/env python
"""How long ``stitch_fragments`` takes on many fragments (the query service runs it on every new
evidence window): random 30 px tall timelines scattered over 900 frames (60 s at 15 fps), short
flickers (up to 50 frames) and long overlapping ones (up to 900 frames), one core.

    python scripts/bench_stitching.py [--counts 50 100 200 400] [--seed 0]
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from tvau_ros.data.annotation.extraction import FrameObservation
from tvau_ros.data.annotation.stitching import stitch_fragments
from tvau_ros.data.annotation.timeline import TargetTimeline

FRAMES, W, H = 900, 320, 240


def observation(frame: int, x: float, y: float, h: int = 30, w: int = 10) -> FrameObservation:
    x1, y1 = int(x), int(y)
    extent = (x1, y1, x1 + w - 1, y1 + h - 1)
    touches = frozenset(side for side, hit in (("left", x1 <= 0), ("right", x1 + w >= W),
                                               ("top", y1 <= 0), ("bottom", y1 + h >= H)) if hit)
    return FrameObservation(frame, None, extent, extent, w * h, w * h, (x1 + w / 2, y1 + h / 2),
                            (x1 + w / 2, float(y1 + h)), touches, None)


def fragments(count: int, longest: int, rng: np.random.Generator) -> list[TargetTimeline]:
    out = []
    for _ in range(count):
        start, length = int(rng.integers(1, FRAMES - 50)), int(rng.integers(1, longest))
        x, y = rng.uniform(5, W - 20), rng.uniform(5, H - 40)
        out.append(TargetTimeline(0, None, [observation(f, x + rng.normal(0, 2), y + rng.normal(0, 2))
                                            for f in range(start, min(start + length, FRAMES - 1))]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[50, 100, 200, 400])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if any(c < 1 for c in args.counts):
        print(f"bench_stitching: error: --counts must be >= 1, got {args.counts}", file=sys.stderr)
        return 2
    print("fragments | kind | seconds | targets")
    for longest, kind in ((50, "flickers <= 50 frames"), (FRAMES, "overlapping <= 900 frames")):
        rng = np.random.default_rng(args.seed)
        for count in args.counts:
            timelines = fragments(count, longest, rng)
            started = time.perf_counter()
            groups = stitch_fragments(timelines, 15.0, 0, FRAMES - 1)
            print(f"{count} | {kind} | {time.perf_counter() - started:.3f} | {len(groups)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
