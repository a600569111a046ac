"""``tvau run``: process a recorded video, image folder or rosbag2 without ROS transport.

Drives the same ``AnomalyPipeline`` as the heatmap node and writes to ``--out``:
``annotated.mp4`` (H.264), ``heatmaps.npz`` (per-frame heatmaps, ``tvau eval predictions``
layout), ``events.jsonl`` (one event per processed clip) and ``summary.json``; prints a summary.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from tvau_ros.cli import CliError


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    return parse


def add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``tvau run`` and ``tvau bringup``: which pipeline config and engine."""
    parser.add_argument("--config", metavar="YAML", help="pipeline config (default: the packaged "
                        "tvau_ros/configs/pipeline_default.yaml; a file only needs the keys it changes)")
    parser.add_argument("--engine", choices=("motion_baseline", "ahd"), help="override the config's engine")
    parser.add_argument("--checkpoint", metavar="PATH", help="AHD checkpoint (sets engine: ahd)")


def pipeline_config_from_args(args: argparse.Namespace) -> dict:
    from tvau_ros.core.pipeline import load_pipeline_config

    overrides: dict = {}
    if args.checkpoint:
        overrides["engine"] = "ahd"
        overrides["ahd"] = {"checkpoint": args.checkpoint}
    if args.engine:
        overrides["engine"] = args.engine
    try:
        return load_pipeline_config(args.config, overrides)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """The recording options shared by ``tvau run`` and ``tvau ask``: --video | --bag | --frames."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", metavar="FILE", help="video file (mp4, avi, ...)")
    source.add_argument("--bag", metavar="PATH", help="rosbag2: .mcap / .db3 file or bag folder")
    source.add_argument("--frames", metavar="DIR", help="folder of images (natural name order)")
    parser.add_argument("--topic", help="bag image topic (default: the first Image/CompressedImage topic)")
    parser.add_argument("--fps", type=_positive(float), help="frame rate of --frames (default 30) or override")


def register(subparsers) -> None:
    parser = subparsers.add_parser("run", help="process a recorded video / image folder / rosbag2 offline",
                                   description=__doc__.split("\n\n")[0])
    add_source_options(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    add_pipeline_options(parser)
    parser.add_argument("--max-frames", type=_positive(int), help="stop after this many frames")
    parser.add_argument("--no-video", action="store_true", help="skip the annotated MP4")
    parser.add_argument("--heatmap-side", type=_positive(int), default=160,
                        help="long side of the heatmaps saved in heatmaps.npz (default 160)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tvau_ros.core.pipeline import AnomalyPipeline, EngineLoadError, PipelineConfig, build_engine
    from tvau_ros.io.offline import run_offline
    from tvau_ros.io.sources import SourceError, open_source
    from tvau_ros.io.summary import format_summary

    kind, path = next((k, getattr(args, k)) for k in ("video", "bag", "frames") if getattr(args, k))
    if args.topic and kind != "bag":
        raise CliError("--topic only applies to --bag")
    cfg = pipeline_config_from_args(args)
    try:
        Path(args.out).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"--out {args.out}: cannot create the output folder ({exc.strerror or exc})") from None
    try:
        source = open_source(path, kind, topic=args.topic, fps=args.fps)
    except SourceError as exc:
        raise CliError(str(exc)) from None
    try:
        pipeline_cfg = PipelineConfig.from_dict(cfg)  # checked before an engine loads
        pipeline = AnomalyPipeline(build_engine(cfg), pipeline_cfg)
    except (EngineLoadError, ValueError) as exc:
        source.close()
        raise CliError(str(exc)) from None
    try:
        summary = run_offline(source, pipeline, args.out, video=not args.no_video, max_frames=args.max_frames,
                              heatmap_side=args.heatmap_side)
    except SourceError as exc:
        raise CliError(str(exc)) from None
    print(format_summary(summary, title="tvau run"))
    return 0
