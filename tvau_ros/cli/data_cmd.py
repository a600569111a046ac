"""``tvau data``: generate the synthetic benchmark, print dataset statistics, annotate.

    tvau data generate --config default --out DIR [--seed N] [--workers N] [--overwrite]
    tvau data stats --root DIR [--split test] [--layout ubnormal|shanghaitech]
    tvau data realcheck --video vtest.avi --out DIR [--seed N] [--per-kind N] [--overwrite]
    tvau data annotate ...   (tvau_ros.cli.annotate_cmd)
"""
from __future__ import annotations

import argparse
import os


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="datasets: generate, statistics, annotation",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    parser.set_defaults(func=lambda args: parser.print_help() or 0)

    gen = sub.add_parser("generate", help="generate the synthetic open-set benchmark")
    gen.add_argument("--config", default="default", help="packaged config name (default, smoke) or YAML path")
    gen.add_argument("--out", required=True, help="output folder (gets ubnormal/, shanghaitech/, stats.json)")
    gen.add_argument("--seed", type=int, default=None, help="override the config's seed")
    gen.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="parallel processes")
    gen.add_argument("--overwrite", action="store_true", help="replace data generated earlier in --out")
    gen.add_argument("--no-progress", action="store_true", help="no progress bar")
    gen.set_defaults(func=_generate)

    stats = sub.add_parser("stats", help="statistics of a dataset in the UBnormal or ShanghaiTech layout")
    stats.add_argument("--root", required=True, help="dataset folder (real or generated)")
    stats.add_argument("--split", action="append", help="split(s) to read (default: all present)")
    stats.add_argument("--layout", choices=("ubnormal", "shanghaitech"), help="force a layout")
    stats.add_argument("--masks", action="store_true",
                       help="measure target size from the masks when meta.json is absent (slow)")
    stats.set_defaults(func=_stats)

    real = sub.add_parser("realcheck", help="build the real-footage check set from vtest.avi frames 0-399",
                          description="Composite anomalies (fast walker, fall, thrown object, vehicle, "
                                      "standing still) with exact masks into frames 0-399 of OpenCV's "
                                      "vtest.avi, in two folds; frames 400+ are never read (docs/realcheck.md).")
    real.add_argument("--video", required=True, help="OpenCV's vtest.avi (scripts/get_vtest.sh fetches it)")
    real.add_argument("--out", required=True, help="output folder (gets fold_a/, fold_b/, previews/, summary.json)")
    real.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    real.add_argument("--per-kind", type=int, default=4, help="abnormal clips per kind and fold (default 4)")
    real.add_argument("--overwrite", action="store_true", help="replace a check set built earlier in --out")
    real.set_defaults(func=_realcheck)

    from tvau_ros.cli import annotate_cmd

    annotate_cmd.register(sub)


def _generate(args: argparse.Namespace) -> int:
    from tvau_ros.cli import CliError
    from tvau_ros.data.synthetic import (ConfigError, GenerateError, format_stats, generate_dataset,
                                         load_generator_config)

    if args.workers < 1:
        raise CliError(f"--workers must be >= 1, got {args.workers}")
    try:
        cfg = load_generator_config(args.config)
        stats = generate_dataset(cfg, args.out, seed=args.seed, workers=args.workers,
                                 progress=not args.no_progress, overwrite=args.overwrite)
    except (ConfigError, GenerateError) as exc:
        raise CliError(str(exc)) from None
    print(format_stats(stats))
    print(f"wrote {args.out}/ubnormal, {args.out}/shanghaitech and {args.out}/stats.json")
    return 0


def _realcheck(args: argparse.Namespace) -> int:
    from tvau_ros.cli import CliError
    from tvau_ros.data.realcheck import BuildError, BuildOptions, FootageError, build_check_set, format_summary
    from tvau_ros.data.realcheck.scene import SceneError

    try:
        summary = build_check_set(args.video, args.out, BuildOptions(seed=args.seed, per_kind=args.per_kind,
                                                                     overwrite=args.overwrite))
    except (BuildError, FootageError, SceneError) as exc:
        raise CliError(str(exc)) from None
    print(format_summary(summary))
    print(f"wrote {args.out}/fold_a, {args.out}/fold_b, {args.out}/previews and {args.out}/summary.json")
    return 0


def _stats(args: argparse.Namespace) -> int:
    import numpy as np

    from tvau_ros.cli import CliError
    from tvau_ros.data.dataset import DatasetError, load_dataset

    splits = args.split or (["test"] if args.layout == "shanghaitech" else ["train", "validation", "test"])
    rows = []
    for split in splits:
        try:
            samples = load_dataset(args.root, split, layout=args.layout)
        except DatasetError as exc:
            if args.split:  # asked for explicitly: report; otherwise skip absent splits
                raise CliError(str(exc)) from None
            if "no split file" in str(exc) or "no validation split" in str(exc):
                continue
            raise CliError(str(exc)) from None
        frames = sum(s.num_frames for s in samples)
        abn = sum(int(s.frame_labels.sum()) for s in samples)
        types, sizes = set(), []
        for s in samples:
            for t in (s.meta or {}).get("targets", []):
                types.add(t["category"])
                sizes.append((t.get("mean_area_px", 0.0), t.get("visible_frames", 1)))
            if args.masks and not s.meta and s.is_abnormal:
                for f in np.flatnonzero(s.frame_labels):
                    sizes.append((float((s.read_mask(int(f)) > 0).sum()), 1))
        rows.append((split, len(samples), sum(s.is_abnormal for s in samples), frames, abn / max(1, frames),
                     _weighted_mean(sizes), sorted(types)))
    print(f"{'split':<11}{'videos':>7}{'abn':>5}{'frames':>8}{'abn.ratio':>10}{'size px':>9}  anomaly types")
    for split, n, na, fr, ratio, size, types in rows:
        print(f"{split:<11}{n:>7}{na:>5}{fr:>8}{ratio:>10.3f}{size:>9.1f}  {', '.join(types) or '-'}")
    return 0


def _weighted_mean(pairs: list[tuple[float, float]]) -> float:
    weight = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / weight if weight else float("nan")
