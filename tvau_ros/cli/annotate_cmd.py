"""``tvau data annotate``: fine-grained dialogue annotation of a dataset split.

Registered by the ``tvau data`` group: ``tvau_ros.cli.annotate_cmd.register(data_subparsers)``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(data_subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = data_subparsers.add_parser(
        "annotate", help="build multi-turn dialogue annotations (JSONL) from videos and masks",
        description="Fine-grained annotation (paper sec. 3.3) from videos and pixel masks: boxes, "
                    "colours, timelines, refinement, trajectory, consistency check, dialogues. "
                    "On generated data the accuracy against the generator's ground truth is printed.")
    p.add_argument("--dataset", required=True, metavar="ROOT",
                   help="dataset root (UBnormal, ShanghaiTech or generated)")
    p.add_argument("--split", required=True, choices=("train", "validation", "test"))
    p.add_argument("--out", required=True, metavar="FILE.jsonl", help="dialogue samples, one JSON object per line")
    p.add_argument("--report", metavar="FILE.json", help="write counts, drop reasons and accuracy here")
    p.add_argument("--limit", type=int, metavar="N", help="annotate only the first N videos")
    p.add_argument("--layout", choices=("ubnormal", "shanghaitech"),
                   help="dataset layout (default: detected; a generated root holds both)")
    p.add_argument("--min-color-conf", type=float, default=0.65, metavar="SHARE",
                   help="vote share a colour needs to be stated (default 0.65); below it the colour is left out")
    p.add_argument("--min-height", type=int, default=15, metavar="PX",
                   help="targets with a smaller median height (pixels) are not described (default 15)")
    p.add_argument("--blur-sigma", type=float, help="background blur sigma in pixels (default 2%% of image side)")
    p.add_argument("--strict", action="store_true",
                   help="stop at the first unusable mask instead of skipping the video")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from tvau_ros.cli import CliError
    from tvau_ros.data.annotation.dialogue import write_jsonl
    from tvau_ros.data.annotation.pipeline import AnnotateConfig, AnnotationInputError
    from tvau_ros.data.annotation.runner import annotate_samples, build_report, print_summary
    from tvau_ros.data.dataset import load_dataset

    root = Path(args.dataset)
    if not root.is_dir():
        raise CliError(f"--dataset {root}: no such directory")
    if args.limit is not None and args.limit < 1:
        raise CliError(f"--limit {args.limit}: must be at least 1")
    if not 0.0 < args.min_color_conf <= 1.0:
        raise CliError(f"--min-color-conf {args.min_color_conf}: must be in (0, 1]")
    if args.min_height < 1:
        raise CliError(f"--min-height {args.min_height}: must be at least 1")
    if args.blur_sigma is not None and args.blur_sigma <= 0:
        raise CliError(f"--blur-sigma {args.blur_sigma}: must be positive")
    try:
        samples = load_dataset(root, args.split, layout=args.layout)
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(f"--dataset {root}: {exc}") from exc
    if args.limit:
        samples = samples[: args.limit]
    if not samples:
        raise CliError(f"--dataset {root}: no videos in split {args.split!r}")
    config = AnnotateConfig(min_color_conf=args.min_color_conf, min_height=args.min_height,
                            blur_sigma=args.blur_sigma)
    try:
        annotations = annotate_samples(samples, config, strict=args.strict,
                                       log=lambda m: print(f"tvau: warning: {m}", file=sys.stderr))
    except AnnotationInputError as exc:
        raise CliError(str(exc)) from exc
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl([a.sample for a in annotations if a.sample is not None], out)
    report = build_report(annotations, samples, dataset=str(root), split=args.split)
    report["out"] = str(out)
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print_summary(report)
    print(f"wrote {report['samples_written']} samples to {out}" + (f", report to {args.report}" if args.report else ""))
    return 0
