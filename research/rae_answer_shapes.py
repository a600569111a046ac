"""RAE answer-shape probe: where does the full model's Trajectory BLEU lead over the other ablation variants come from?

Reads the greedy answers that ``tvau_ros.train.rae_ablation`` saved (``OUT/<variant>/predictions.jsonl``)
and prints, per variant, over the trajectory turns: the mean per-turn BLEU-4 (best reference,
``tvau_ros.metrics.text``), the paired difference full minus each other variant (mean +-
standard error), the number of distinct answers, how many leave the one sentence shape the
variants without evidence settle on ("already inside the scene at frame N, and stops inside the
scene at frame M"), and how often the entry phrase ("already inside", "enters from the left",
...) is the first reference's.

    python -m research.rae_answer_shapes outputs/rae_ablation_1200_s0 outputs/rae_ablation_1200_s1

Seconds; prints one JSON object per ablation folder.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from research.rae_turn_likelihood import paired

from tvau_ros.metrics.text import bleu4_best_reference
from tvau_ros.train.rae_ablation import VARIANTS

CONSTANT = re.compile(r"^The person is already inside the scene at frame \d+, "
                      r"and stops inside the scene at frame \d+\.$")
ENTRY = re.compile(r"already inside|enters (?:from|at) the \w+")


def entry_phrase(text: str) -> str | None:
    """The first target's entry phrase.

    >>> entry_phrase("The person enters from the left at frame 16, and exits at the bottom at frame 107.")
    'enters from the left'
    """
    match = ENTRY.search(text)
    return match.group(0) if match else None


def shapes(records: list[dict]) -> dict:
    """Per-turn BLEU and shape counts of the trajectory turns of one variant's records."""
    turns = [r for r in records if r["kind"] == "trajectory"]
    return {"bleu": [bleu4_best_reference(r["prediction"], r["references"]) for r in turns],
            "turns": len(turns), "distinct": len({r["prediction"] for r in turns}),
            "off_constant_shape": sum(not CONSTANT.match(r["prediction"]) for r in turns),
            "entry_phrase_agrees": sum(entry_phrase(r["prediction"]) == entry_phrase(r["references"][0])
                                       for r in turns)}


def summarise(folder: Path) -> dict:
    rows = {}
    for name, (_, slug) in VARIANTS.items():
        path = folder / slug / "predictions.jsonl"
        if path.is_file():
            rows[name] = shapes([json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()])
    out = {"folder": str(folder)}
    for name, row in rows.items():
        out[name] = {k: v for k, v in row.items() if k != "bleu"}
        out[name]["trajectory_bleu4"] = round(sum(row["bleu"]) / max(len(row["bleu"]), 1), 2)
        if name != "full" and "full" in rows:
            mean, se = paired(rows["full"]["bleu"], row["bleu"])
            out[name]["full_minus"] = [round(mean, 2), round(se, 2)]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m research.rae_answer_shapes", description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="output folders of tvau_ros.train.rae_ablation")
    args = parser.parse_args(argv)
    for folder in args.folders:
        if not folder.is_dir():
            print(f"rae_answer_shapes: no such folder {folder}", file=sys.stderr)
            return 2
        print(json.dumps(summarise(folder)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
