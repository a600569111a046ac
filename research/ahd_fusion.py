"""Does fusing the AHD's frame scores into the behaviour engine's help? (issue 16 item 4's ablation)

Both engines' every-frame scores come from ``tvau eval pipeline`` (``frame_scores.npz`` of each
method: the node's pipeline, not a separate loop). The fused score of a frame is
``(1 - w) * behaviour + w * ahd``; this prints frame micro and macro AUC for each weight ``w``
(0 = the behaviour engine alone, 1 = the AHD alone), per split.

    python -m research.ahd_fusion --dataset data/default/ubnormal --eval outputs/behaviour/eval \\
        --behaviour behaviour --ahd ahd [--splits validation test] [--weights 0,0.1,0.25,0.5,1]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from tvau_ros.data import load_dataset
from tvau_ros.metrics.frame_auc import FrameScores, macro_auc, micro_auc


def load_scores(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        return {key.split("/", 1)[1]: archive[key] for key in archive.files}


def fused_aucs(videos, behaviour: dict, ahd: dict, weight: float) -> tuple[float, float]:
    rows = [FrameScores(v.name, np.asarray(v.frame_labels),
                        (1 - weight) * np.nan_to_num(behaviour[v.name]) + weight * np.nan_to_num(ahd[v.name]))
            for v in videos]
    return micro_auc(rows), macro_auc(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--eval", required=True, help="tvau eval pipeline --out folder")
    parser.add_argument("--behaviour", default="behaviour")
    parser.add_argument("--ahd", default="ahd")
    parser.add_argument("--splits", nargs="+", default=["validation", "test"])
    parser.add_argument("--weights", default="0,0.1,0.25,0.5,1")
    args = parser.parse_args(argv)
    try:
        weights = [float(w) for w in args.weights.split(",")]
    except ValueError:
        parser.error(f"--weights must be numbers separated by commas, got {args.weights!r}")
    if any(not 0.0 <= w <= 1.0 for w in weights):
        parser.error(f"--weights must be in [0, 1], got {args.weights}")
    for split in args.splits:
        folder = Path(args.eval) / split
        paths = [folder / args.behaviour / "frame_scores.npz", folder / args.ahd / "frame_scores.npz"]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            print(f"ahd_fusion: error: {missing[0]} not found (run tvau eval pipeline first)", file=sys.stderr)
            return 2
        behaviour, ahd = (load_scores(p) for p in paths)
        videos = load_dataset(args.dataset, split)
        print(f"{split}: weight of the AHD, micro AUC, macro AUC")
        for weight in weights:
            micro, macro = fused_aucs(videos, behaviour, ahd, weight)
            print(f"  {weight:5.2f}  {micro:6.1f}  {macro:6.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
