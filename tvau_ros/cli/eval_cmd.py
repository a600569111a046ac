"""``tvau eval ...``: evaluation subcommands (formats and metrics: docs/metrics.md).

Each entry of ``_SUBCOMMANDS`` adds one ``tvau eval <name>`` parser; adding a subcommand is
one function appended there. ``add_region_options`` / ``eval_options`` and ``load_videos`` are
shared by the subcommands.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from tvau_ros.cli import CliError, add_device_option, check_device

if TYPE_CHECKING:
    from tvau_ros.metrics.report import EvalOptions


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def add_dataset_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, metavar="ROOT",
                        help="dataset root (UBnormal or ShanghaiTech layout)")
    parser.add_argument("--split", default="test", help="split to evaluate (default: test)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder for report.json and the PNG plots")


def add_region_options(parser: argparse.ArgumentParser) -> None:
    """Options of the RBDC/TBDC evaluation and of the heatmap -> detections conversion."""
    group = parser.add_argument_group("localization (RBDC/TBDC)")
    group.add_argument("--alpha", type=_fraction, default=0.1,
                       help="fraction of a track's regions to detect (default 0.1)")
    group.add_argument("--beta", type=_fraction, default=0.1,
                       help="IoU for a detection to match a region (default 0.1)")
    group.add_argument("--base-threshold", type=float, default=0.5,
                       help="heatmaps: lowest value kept in a component (default 0.5)")
    group.add_argument("--min-area", type=_positive_int, default=1,
                       help="heatmaps: smallest component in heatmap cells (default 1)")
    group.add_argument("--gt-region", choices=("largest", "all"), default="largest",
                       help="GT box from a mask: largest component or all pixels of the object id")
    parser.add_argument("--allow-missing", action="store_true",
                        help="skip videos without predictions (listed in the report) instead of failing")


def eval_options(args: argparse.Namespace) -> EvalOptions:
    from tvau_ros.metrics.report import EvalOptions

    return EvalOptions(alpha=args.alpha, beta=args.beta, base_threshold=args.base_threshold,
                       min_area=args.min_area, region_mode=args.gt_region,
                       allow_missing=args.allow_missing)


def load_videos(root: str, split: str) -> list:
    """The split's videos through ``tvau_ros.data.load_dataset``, errors as ``CliError``."""
    try:
        from tvau_ros.data import load_dataset
    except ImportError:
        try:
            from tvau_ros.data.dataset import load_dataset
        except ImportError as exc:
            raise CliError(f"dataset readers are not available ({exc})") from None
    try:
        videos = load_dataset(root, split)
    except (OSError, ValueError) as exc:
        raise CliError(f"--dataset {root} --split {split}: {exc}") from None
    if not videos:
        raise CliError(f"--dataset {root} --split {split}: no videos in this split")
    return videos


def print_summary(report: dict, written: dict) -> None:
    frame, region = report.get("frame"), report.get("region")
    if frame:
        print(f"frame: micro AUC {_pct(frame.get('micro_auc'))}, macro AUC {_pct(frame.get('macro_auc'))} "
              f"({frame['num_videos']} videos)")
    if region:
        print(f"region: RBDC {_pct(region.get('rbdc'))}, TBDC {_pct(region.get('tbdc'))}")
    for key, value in report.get("skipped", {}).items():
        if value:
            print(f"skipped: {key}: {value if isinstance(value, int) else len(value)}")
    print(f"report: {written['report']}")


def _pct(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.2f}%"


def _run_predictions(args: argparse.Namespace) -> int:
    from tvau_ros.metrics.predictions import PredictionError, load_predictions
    from tvau_ros.metrics.report import evaluate_predictions, write_evaluation

    options = eval_options(args)
    try:
        predictions = load_predictions(args.pred)
        videos = load_videos(args.dataset, args.split)
        evaluation = evaluate_predictions(predictions, videos, options)
    except PredictionError as exc:
        raise CliError(str(exc)) from None
    written = write_evaluation(evaluation, args.out)
    print_summary(evaluation.report, written)
    return 0


def _add_predictions(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predictions", help="score a prediction file (frame scores, detections or heatmaps)",
        description="Frame micro/macro AUC and RBDC/TBDC of a .jsonl or .npz prediction file "
                    "(format: docs/metrics.md); writes report.json and PNG curves.")
    add_dataset_options(parser)
    parser.add_argument("--pred", required=True, metavar="FILE", help="predictions (.jsonl or .npz)")
    add_region_options(parser)
    parser.set_defaults(func=_run_predictions)


def _parse_method(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=CHECKPOINT, got {text!r}")
    return name, path


def _run_ahd(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from tvau_ros.evaluation.ahd_benchmark import evaluate_methods

    checkpoints = dict(args.checkpoint)
    if not checkpoints and not args.motion_baseline:
        raise CliError("nothing to evaluate: give --checkpoint NAME=PATH and/or --motion-baseline")
    options = eval_options(args)
    device = check_device(args.device)
    out = Path(args.out)
    tables = {}
    for split in args.split:
        videos = load_videos(args.dataset, split)
        try:
            tables[split] = evaluate_methods(videos, checkpoints, args.motion_baseline, options,
                                             out / split, progress=not args.quiet,
                                             clip_stride=args.clip_stride, device=device)
        except (OSError, ValueError) as exc:
            raise CliError(str(exc)) from None
    (out / "summary.json").write_text(json.dumps(tables, indent=2) + "\n")
    for split, rows in tables.items():
        print(f"\n{split} ({rows[0]['videos']} videos, {rows[0]['frames']} frames evaluated)")
        print(f"{'method':<28}{'micro AUC':>10}{'macro AUC':>10}{'RBDC':>8}{'TBDC':>8}{'fps':>8}")
        for row in rows:
            print(f"{row['method']:<28}{row['micro_auc']:>10.1f}{row['macro_auc']:>10.1f}"
                  f"{row['rbdc']:>8.1f}{row['tbdc']:>8.1f}{row['fps']:>8.1f}")
        types = sorted(rows[0]["micro_auc_by_type"])
        if types:
            print("\nmicro AUC by anomaly type (that type's videos + all normal videos)")
            print(f"{'method':<28}" + "".join(f"{t[:12]:>13}" for t in types))
            for row in rows:
                print(f"{row['method']:<28}" + "".join(f"{row['micro_auc_by_type'][t]:>13.1f}" for t in types))
    print(f"\nreport: {out / 'summary.json'}")
    return 0


def _add_ahd(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ahd", help="evaluate AHD checkpoints and baselines on the same frames",
        description="Runs each AHD checkpoint (heads sharing an encoder share its pass) and the "
                    "classical motion baseline over every frame of the split(s); writes per method "
                    "report.json + ROC/RBDR/TBDR plots, a heatmap overlay grid and summary.json, "
                    "and prints a table.")
    parser.add_argument("--dataset", required=True, metavar="ROOT", help="dataset root")
    parser.add_argument("--split", nargs="+", default=["test"], help="split(s) (default: test)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--checkpoint", type=_parse_method, action="append", default=[],
                        metavar="NAME=PATH", help="an AHD checkpoint to evaluate (repeatable)")
    parser.add_argument("--motion-baseline", action="store_true",
                        help="also evaluate the classical motion baseline (background difference + optical flow blobs)")
    parser.add_argument("--clip-stride", type=_positive_int, default=1,
                        help="evaluate every k-th clip of clip_len frames of each video, the same "
                             "frames for every method (default 1: all frames)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_device_option(parser, "the AHD checkpoints (the motion baseline runs on the CPU)")
    add_region_options(parser)
    parser.set_defaults(func=_run_ahd)


def _parse_config_method(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=CONFIG (a pipeline YAML, or 'default'), got {text!r}")
    return name, path


def _parse_set(text: str) -> tuple[str, str, object]:
    import yaml

    target, sep, value = text.partition("=")
    method, dot, key = target.partition(":")
    if not sep or not dot or not key:
        raise argparse.ArgumentTypeError("expected METHOD:KEY=VALUE (e.g. behaviour:regions.threshold=0.6), "
                                         f"got {text!r}")
    return method, key, yaml.safe_load(value)


def _methods_and_overrides(args: argparse.Namespace) -> tuple[dict[str, str], dict[str, dict]]:
    """``--method NAME=CONFIG`` and ``--set METHOD:KEY=VALUE`` as (methods, nested overrides per method)."""
    methods = dict(args.method)
    if not methods:
        raise CliError("nothing to evaluate: give --method NAME=CONFIG (repeatable)")
    overrides: dict = {name: {} for name in methods}
    for method, key, value in args.set:
        if method not in methods:
            raise CliError(f"--set {method}:{key}: no method {method!r} (methods: {', '.join(methods)})")
        node = overrides[method]
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return methods, overrides


def _print_tables(tables: dict[str, list[dict]], what: str = "every frame") -> None:
    for split, rows in tables.items():
        print(f"\n{split} ({rows[0]['videos']} videos, {rows[0]['frames']} frames, {what})")
        print(f"{'method':<28}{'micro AUC':>10}{'macro AUC':>10}{'RBDC':>8}{'TBDC':>8}{'fps':>8}"
              f"{'false ep/min':>13}{'targets found':>14}")
        for row in rows:
            ep = row["episodes"]
            fpm = ep["false_episodes_per_min_normal"]
            print(f"{row['method']:<28}{row['micro_auc']:>10.1f}{row['macro_auc']:>10.1f}"
                  f"{row['rbdc']:>8.1f}{row['tbdc']:>8.1f}{row['fps']:>8.1f}"
                  f"{(fpm if fpm is not None else float('nan')):>13.2f}"
                  f"{ep['targets_with_episode']:>8}/{ep['targets']:<5}")
        for key, title in (("micro_auc_by_type", "anomaly type"), ("micro_auc_by_size", "target size")):
            groups = sorted(rows[0][key])
            print(f"\nmicro AUC by {title} (those abnormal videos + all normal videos)")
            print(f"{'method':<28}" + "".join(f"{g[:12]:>13}" for g in groups))
            for row in rows:
                print(f"{row['method']:<28}" + "".join(f"{row[key].get(g, float('nan')):>13.1f}" for g in groups))
        recalls = [(row["method"], row.get("object_recall")) for row in rows if row.get("object_recall")]
        if recalls:
            print("\nobject recall of the abnormal targets' boxes (any engine object, whatever its score)")
            print(f"{'method':<28}{'IoU>=0.5':>10}{'IoU>=0.1':>10}{'small':>8}{'medium':>8}{'large':>8}"
                  f"{'targets seen half':>19}")
            for name, rec in recalls:
                sizes = "".join(f"{rec['by_size'].get(s, {}).get('recall_iou_0.5', float('nan')):>8.1f}"
                                for s in ("small", "medium", "large"))
                print(f"{name:<28}{rec['recall_iou_0.5']:>10.1f}{rec['recall_iou_0.1']:>10.1f}{sizes}"
                      f"{rec['targets_seen_half']:>12}/{rec['targets']:<6}")


def _run_pipeline(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from tvau_ros.core.engine_registry import EngineLoadError
    from tvau_ros.evaluation.pipeline_eval import evaluate_methods

    methods, overrides = _methods_and_overrides(args)
    options = eval_options(args)
    out = Path(args.out)
    tables = {}
    for split in args.split:
        videos = load_videos(args.dataset, split)
        try:
            tables[split] = evaluate_methods(videos, methods, overrides, options, out / split,
                                             scene_dir=args.scene_models, workers=args.workers,
                                             progress=not args.quiet)
        except (OSError, ValueError, EngineLoadError) as exc:
            raise CliError(str(exc)) from None
    (out / "summary.json").write_text(json.dumps(tables, indent=2) + "\n")
    _print_tables(tables)
    print(f"\nreport: {out / 'summary.json'}")
    return 0


def _run_realcheck(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from tvau_ros.core.behaviour.scene_model import SceneModelError
    from tvau_ros.core.engine_registry import EngineLoadError
    from tvau_ros.evaluation.realcheck_eval import FOLDS, evaluate_realcheck

    root = Path(args.dir)
    missing = [f for f in FOLDS if not (root / f).is_dir()]
    if missing:
        raise CliError(f"--dir {root}: no {', '.join(missing)} (build the set with `tvau data realcheck`)")
    methods, overrides = _methods_and_overrides(args)
    out = Path(args.out)
    try:
        rows = evaluate_realcheck(root, methods, overrides, eval_options(args), out, args.scene_dir or out / "scenes",
                                  workers=args.workers, progress=not args.quiet)
    except (OSError, ValueError, EngineLoadError, SceneModelError) as exc:
        raise CliError(str(exc)) from None
    (out / "summary.json").write_text(json.dumps({"realcheck": rows}, indent=2) + "\n")
    _print_tables({"real-footage check set, both folds": rows})
    print(f"\nreport: {out / 'summary.json'}")
    return 0


def _add_method_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", type=_parse_config_method, action="append", default=[],
                        metavar="NAME=CONFIG",
                        help="a pipeline config to evaluate ('default' = the packaged one); repeatable")
    parser.add_argument("--set", type=_parse_set, action="append", default=[], metavar="METHOD:KEY=VALUE",
                        help="override one config key of one method (ablations), e.g. behaviour:scene=''")
    parser.add_argument("--workers", type=_positive_int, default=1, help="parallel processes (default 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_region_options(parser)


def _add_realcheck(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "realcheck", help="evaluate pipelines on the real-footage check set (both folds)",
        description="Learns each fold's scene model from its learning footage (per behaviour method, with "
                    "its config), runs every method on the "
                    "fold's check clips through the node's pipeline, and scores both folds as one set "
                    "(frame AUCs, RBDC/TBDC, AUC per composited kind, false episodes per minute).")
    parser.add_argument("--dir", required=True, metavar="DIR", help="the check set (tvau data realcheck --out)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--scene-dir", metavar="DIR",
                        help="where the folds' scene models go, one folder per method (default OUT/scenes)")
    _add_method_options(parser)
    parser.set_defaults(func=_run_realcheck, base_threshold=0.1)


def _add_pipeline(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pipeline", help="evaluate pipelines exactly as the node runs them (every frame)",
        description="Streams every frame of each video through a fresh AnomalyPipeline per method "
                    "(engine, regions, tracker: what the node publishes), then scores frame AUCs, "
                    "RBDC/TBDC (over the regions down to --base-threshold) and anomaly episodes at the "
                    "pipeline's own threshold; per-type and per-size breakdowns, report.json and plots "
                    "per method, summary.json.")
    parser.add_argument("--dataset", required=True, metavar="ROOT", help="dataset root")
    parser.add_argument("--split", nargs="+", default=["test"], help="split(s) (default: test)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--scene-models", metavar="DIR",
                        help="scene models by scene name (tvau learn-normal --per-scene): each video is "
                             "run with its scene's model (methods whose engine has scene models)")
    _add_method_options(parser)
    parser.set_defaults(func=_run_pipeline, base_threshold=0.1)


def _run_dialogue(args: argparse.Namespace) -> int:
    import json
    import sys
    from pathlib import Path

    from tvau_ros.cli.run_cmd import pipeline_config_from_args
    from tvau_ros.core.dialogue.answerers import AnswererUnavailable, build_answerer
    from tvau_ros.core.engine_registry import EngineLoadError, build_engine
    from tvau_ros.data.annotation.dialogue import read_jsonl
    from tvau_ros.data.dataset import load_dataset
    from tvau_ros.evaluation.dialogue_eval import evaluate_dialogues, read_predictions

    samples = []
    for path in args.dialogues:
        try:
            samples += read_jsonl(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CliError(f"--dialogues {path}: not a dialogue JSONL from tvau data annotate ({exc})") from None
    if args.limit:
        samples = samples[: args.limit]
    if not samples:
        raise CliError(f"--dialogues {' '.join(args.dialogues)}: no dialogue samples")
    videos = {}
    for split in sorted({s.split for s in samples}):
        try:
            videos.update({v.name: v for v in load_dataset(args.dataset, split, layout=args.layout)})
        except (OSError, ValueError) as exc:
            raise CliError(f"--dataset {args.dataset} --split {split}: {exc}") from None
    missing = sorted({s.video for s in samples} - set(videos))
    if missing:
        raise CliError(f"--dataset {args.dataset}: no video named {missing[0]!r} (of {len(missing)} missing)")
    predictions = {}
    for name, path in args.predictions:
        try:
            predictions[name] = read_predictions(path)
        except (OSError, ValueError) as exc:
            raise CliError(f"--predictions {name}={path}: {exc}") from None
    try:
        answerer_options = json.loads(args.answerer_options) if args.answerer_options else {}
    except json.JSONDecodeError as exc:
        raise CliError(f"--answerer-options: not a JSON object ({exc}): {args.answerer_options[:80]!r}") from None
    if not isinstance(answerer_options, dict):
        raise CliError(f"--answerer-options: not a JSON object: {args.answerer_options[:80]!r}")
    answerer_rows = {}
    for name, spec in args.answerer_row:
        spec, _, evidence = spec.partition("@")
        evidence = evidence or "engine"
        if evidence not in ("engine", "ground_truth") or (evidence == "engine" and args.no_engine):
            raise CliError(f"--answerer-row {name}: evidence must be @engine or @ground_truth (and the engine row on)")
        try:
            answerer_rows[name] = (evidence, build_answerer(spec, **answerer_options))
        except (ValueError, AnswererUnavailable, TypeError, OSError) as exc:
            raise CliError(f"--answerer-row {name}={spec}: {exc}") from None
    cfg = pipeline_config_from_args(args)
    engine = None
    if not args.no_engine:
        try:
            engine = build_engine(cfg)
        except (EngineLoadError, ValueError) as exc:
            raise CliError(str(exc)) from None
    report = evaluate_dialogues(samples, videos, cfg, engine, ground_truth=not args.no_ground_truth,
                                answerer_rows=answerer_rows, prediction_rows=predictions,
                                progress=None if args.quiet else lambda m: print(m, file=sys.stderr, flush=True))
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"--out {out}: cannot create the folder ({exc.strerror or exc})") from None
    answers = report.pop("answers")
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    with open(out / "answers.jsonl", "w", encoding="utf-8") as file:
        for row, records in answers.items():
            for record in records:
                file.write(json.dumps({"row": row, **record}, ensure_ascii=False) + "\n")
    print(f"{report['samples']} dialogues, {len(report['videos'])} videos; frame micro AUC "
          + ", ".join(f"{k} {v:.1f}" for k, v in report["frame_micro_auc"].items()))
    print(f"{'row':<26}{'Yes/No':>8}{'bAcc':>7}{'Target':>8}{'Traj':>7}{'Motion':>8}{'faithful':>10}{'flagged':>9}{'errors':>8}")
    for row in report["rows"]:
        def cell(key: str, width: int, row: dict = row) -> str:
            return f"{row[key]:>{width}.1f}" if row.get(key) is not None else f"{'-':>{width}}"

        print(f"{row['row']:<26}{cell('yes_no_accuracy', 8)}{cell('balanced_accuracy', 7)}{cell('bleu4_target', 8)}"
              f"{cell('bleu4_trajectory', 7)}{cell('bleu4_motion', 8)}{cell('faithfulness', 10)}"
              f"{cell('flagged_claim_rate', 9)}{row['errors']:>8}")
    for row in report["rows"]:
        kinds = ", ".join(f"{k} {v['agree']}/{v['claims']}" for k, v in row["by_kind"].items() if v["claims"])
        print(f"  {row['row']}: claims agreeing with the truth: {kinds or 'none'}")
    print(f"report: {out / 'report.json'}, answers: {out / 'answers.jsonl'}")
    return 0


def _add_dialogue(subparsers: argparse._SubParsersAction) -> None:
    from tvau_ros.cli.run_cmd import add_pipeline_options

    parser = subparsers.add_parser(
        "dialogue", help="ask the benchmark's dialogues and score the answers (Yes/No, BLEU-4, faithfulness)",
        description="Runs every dialogue's video through the pipeline (on ground-truth masks and on the "
                    "configured engine), asks its questions as one session and scores the answers: Yes/No "
                    "accuracy and balanced accuracy, BLEU-4 (best reference) of Target, Trajectory and "
                    "motion answers, attribute faithfulness against meta.json, flagged-claim rate.")
    parser.add_argument("--dataset", required=True, metavar="ROOT",
                        help="dataset root the dialogues were annotated from")
    parser.add_argument("--dialogues", required=True, nargs="+", metavar="JSONL",
                        help="dialogue files from tvau data annotate (their samples name the split)")
    parser.add_argument("--layout", choices=("ubnormal", "shanghaitech"), help="dataset layout (default: detected)")
    parser.add_argument("--out", required=True, metavar="DIR", help="report.json and answers.jsonl go here")
    add_pipeline_options(parser)
    parser.add_argument("--no-engine", action="store_true", help="skip the engine-evidence row")
    parser.add_argument("--no-ground-truth", action="store_true", help="skip the ground-truth-evidence row")
    parser.add_argument("--predictions", type=_parse_method, action="append", default=[], metavar="NAME=JSONL",
                        help="a row of answers from a file: lines {video, turn, answer} (e.g. the LVLM's; repeatable)")
    parser.add_argument("--answerer-row", type=_parse_method, action="append", default=[],
                        metavar="NAME=ANSWERER[@EVIDENCE]",
                        help="a row answered in this process by ANSWERER (qwen2_5_vl, package.module:callable) on "
                             "@engine (default) or @ground_truth evidence (repeatable)")
    parser.add_argument("--answerer-options", default="", metavar="JSON",
                        help="keyword options of the --answerer-row answerers, e.g. qwen2_5_vl's "
                             "'{\"model_path\": \"/models/Qwen2.5-VL-7B-Instruct\", \"adapter\": \"OUT/adapter\"}'")
    parser.add_argument("--limit", type=_positive_int, help="only the first N dialogues")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.set_defaults(func=_run_dialogue)


_SUBCOMMANDS: list[Callable] = [_add_predictions, _add_ahd, _add_pipeline, _add_realcheck, _add_dialogue]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("eval", help="evaluate predictions with the paper's metrics")
    eval_sub = parser.add_subparsers(dest="eval_command", metavar="EVAL_COMMAND")
    for add in _SUBCOMMANDS:
        add(eval_sub)
    parser.set_defaults(func=lambda _args: parser.print_help() or 0)
