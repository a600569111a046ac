"""``tvau run``: process a recorded video, image folder or rosbag2 without ROS transport.

Drives the same ``AnomalyPipeline`` as the heatmap node and writes to ``--out``:
``annotated.mp4`` (H.264), ``heatmaps.npz`` (per-frame heatmaps, ``tvau eval predictions``
layout), ``events.jsonl`` (one event per processed clip) and ``summary.json``; prints a summary.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from tvau_ros.cli import CliError


def _positive(kind: type) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    return parse


SHIPPED_AHD_CONFIG = "pipeline_ahd.yaml"  # packaged: the shipped AHD (models/tvau_ahd_dinov2s_minilm) + its clips
SHIPPED_AHD = "tvau_ahd_dinov2s_minilm"


def add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    """Options of ``tvau run``: which pipeline config and engine."""
    parser.add_argument("--config", metavar="YAML", help="pipeline config (default: the packaged "
                        "tvau_ros/configs/pipeline_default.yaml; a file only needs the keys it changes)")
    parser.add_argument("--engine", choices=("behaviour", "ahd", "motion_baseline"),
                        help=f"override the config's engine (ahd without a checkpoint: the shipped {SHIPPED_AHD})")
    parser.add_argument("--checkpoint", metavar="PATH", help="AHD checkpoint (sets engine: ahd)")
    parser.add_argument("--scene", metavar="NAME", help="behaviour engine: the scene model (a name in --scene-dir "
                        "or a path; `tvau learn-normal` makes one); default: the generic model")
    parser.add_argument("--scene-dir", metavar="DIR",
                        help="behaviour engine: folder of scene models (default models/scenes)")


def packaged_config(name: str) -> Path:
    """A pipeline config shipped in tvau_ros/configs."""
    from importlib import resources

    return Path(str(resources.files("tvau_ros") / "configs" / name))


def pipeline_config_from_args(args: argparse.Namespace) -> dict:
    """The pipeline config of ``--config`` / ``--engine`` / ``--checkpoint``.

    The AHD engine without a checkpoint anywhere runs the shipped model: with no ``--config``, the
    packaged pipeline_ahd.yaml (the model and the clip stride it was made for); with one, that
    config plus ``ahd.checkpoint: tvau_ahd_dinov2s_minilm``.
    """
    from tvau_ros.core.pipeline_config import load_pipeline_config

    overrides: dict = {}
    if args.checkpoint:
        overrides["engine"] = "ahd"
        overrides["ahd"] = {"checkpoint": args.checkpoint}
    if args.engine:
        overrides["engine"] = args.engine
    if getattr(args, "scene", None):
        overrides["scene"] = args.scene
    if getattr(args, "scene_dir", None):
        overrides["behaviour"] = {"scene_dir": args.scene_dir}
    try:
        cfg = load_pipeline_config(args.config, overrides)
        if cfg["engine"] == "ahd" and not (cfg.get("ahd") or {}).get("checkpoint"):
            if args.config is None:
                cfg = load_pipeline_config(packaged_config(SHIPPED_AHD_CONFIG), overrides)
            else:
                cfg = load_pipeline_config(args.config, {**overrides, "ahd": {"checkpoint": SHIPPED_AHD}})
        return cfg
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


def register(subparsers: argparse._SubParsersAction) -> None:
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


def source_from_args(args: argparse.Namespace) -> tuple[str, str]:
    """The recording option given (``video``, ``bag`` or ``frames``) and its path."""
    kind, path = next((k, getattr(args, k)) for k in ("video", "bag", "frames") if getattr(args, k))
    if args.topic and kind != "bag":
        raise CliError("--topic only applies to --bag")
    return kind, path


def open_source_and_pipeline(args: argparse.Namespace, kind: str, path: str, cfg: dict) -> tuple:
    """The recording and a pipeline for it, or a one-line ``CliError`` (the source is closed)."""
    from tvau_ros.core.engine_registry import EngineLoadError
    from tvau_ros.core.pipeline import AnomalyPipeline
    from tvau_ros.io.sources import SourceError, open_source

    try:
        source = open_source(path, kind, topic=args.topic, fps=args.fps)
    except SourceError as exc:
        raise CliError(str(exc)) from None
    try:
        return source, AnomalyPipeline.from_config(cfg=cfg)
    except (EngineLoadError, ValueError) as exc:
        source.close()
        raise CliError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from tvau_ros.io.offline import run_offline
    from tvau_ros.io.sources import SourceError
    from tvau_ros.io.summary import format_summary

    kind, path = source_from_args(args)
    cfg = pipeline_config_from_args(args)
    try:
        Path(args.out).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"--out {args.out}: cannot create the output folder ({exc.strerror or exc})") from None
    source, pipeline = open_source_and_pipeline(args, kind, path, cfg)
    try:
        summary = run_offline(source, pipeline, args.out, video=not args.no_video, max_frames=args.max_frames,
                              heatmap_side=args.heatmap_side)
    except SourceError as exc:
        raise CliError(str(exc)) from None
    print(format_summary(summary, title="tvau run"))
    return 0
