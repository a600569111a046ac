"""``tvau learn-normal``: learn a scene's (waypoint's) normal activity and save its scene model.

From a recording of normal activity (one to two minutes is best) through the same pipeline
and behaviour engine as the node: ``--video``, ``--bag`` or ``--frames``, saved as
``OUT/SCENE.safetensors`` + ``OUT/SCENE.yaml``. From a benchmark split (``--dataset``):
one model per scene (``--per-scene``, from each scene's frames outside any abnormal actor's
span) or the generic model over all of them (``--generic``).
"""
from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tvau_ros.cli import CliError

if TYPE_CHECKING:
    from tvau_ros.core.behaviour.learning import LearningResult
    from tvau_ros.core.pipeline import AnomalyPipeline

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("learn-normal", help="learn a scene's normal activity (scene model)",
                                   description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--video", metavar="FILE", help="video of normal activity")
    source.add_argument("--bag", metavar="PATH", help="rosbag2 (.mcap / .db3 / folder)")
    source.add_argument("--frames", metavar="DIR", help="folder of images")
    source.add_argument("--dataset", metavar="ROOT", help="a benchmark dataset (UBnormal layout)")
    parser.add_argument("--scene", help="scene (waypoint) name: the model's file name (footage sources)")
    parser.add_argument("--split", default="train", help="--dataset: split to learn from (default: train)")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--per-scene", action="store_true", help="--dataset: one model per scene")
    how.add_argument("--generic", action="store_true", help="--dataset: one generic model over every scene")
    parser.add_argument("--topic", help="bag image topic (default: the first image topic)")
    parser.add_argument("--fps", type=float, help="frame rate of --frames (default 30) or override")
    parser.add_argument("--max-frames", type=int, help="learn from the first N frames only")
    parser.add_argument("--config", metavar="YAML", help="pipeline config (its behaviour section is used)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the scene model(s)")
    parser.set_defaults(func=run)


def _pipeline_factory(config: str | None, generic_model: str | None = None) -> Callable[[], AnomalyPipeline]:
    from tvau_ros.core.engine_registry import EngineLoadError
    from tvau_ros.core.pipeline import AnomalyPipeline
    from tvau_ros.core.pipeline_config import load_pipeline_config

    overrides = {"engine": "behaviour", "scene": ""}
    if generic_model:
        overrides["behaviour"] = {"generic_model": generic_model}
    try:
        cfg = load_pipeline_config(config, overrides)
        AnomalyPipeline.from_config(cfg=cfg)  # fail here, once, on a bad config
    except (EngineLoadError, ValueError) as exc:
        raise CliError(str(exc)) from None
    return lambda: AnomalyPipeline.from_config(cfg=cfg)


def _print(result: LearningResult, path: Path) -> None:
    model = result.model
    print(f"learnt scene {model.name!r} from {result.frames} frames ({result.seconds_of_footage:.1f} s of footage, "
          f"{model.card.get('tracks', 0)} tracks) in {result.wall_s:.1f} s -> {path}")
    for warning in result.warnings:
        print(f"warning: {warning}")


def run(args: argparse.Namespace) -> int:
    from tvau_ros.core.behaviour.scene_model import SceneModelError

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"--out {out}: cannot create the folder ({exc.strerror or exc})") from None
    if args.max_frames is not None and args.max_frames < 1:
        raise CliError(f"--max-frames must be >= 1, got {args.max_frames}")
    try:
        if args.dataset:
            return _from_dataset(args, out)
        return _from_footage(args, out)
    except SceneModelError as exc:
        raise CliError(str(exc)) from None


def _from_footage(args: argparse.Namespace, out: Path) -> int:
    from tvau_ros.core.behaviour.learning import learn_from_frames
    from tvau_ros.io.sources import SourceError, open_source

    if not args.scene or not _NAME.match(args.scene):
        raise CliError(f"--scene must be a name of letters, digits, '_', '-' or '.', got {args.scene!r}")
    if args.per_scene or args.generic:
        raise CliError("--per-scene and --generic apply to --dataset only")
    kind, path = next((k, getattr(args, k)) for k in ("video", "bag", "frames") if getattr(args, k))
    make = _pipeline_factory(args.config)
    try:
        source = open_source(path, kind, topic=args.topic, fps=args.fps)
    except SourceError as exc:
        raise CliError(str(exc)) from None

    def frames():
        for n, item in enumerate(source):
            if args.max_frames is not None and n >= args.max_frames:
                break
            yield item.image, item.time_ns

    try:
        result = learn_from_frames(make(), frames(), args.scene, {"source": str(path)})
    except SourceError as exc:
        raise CliError(str(exc)) from None
    finally:
        source.close()
    _print(result, result.model.save(out / args.scene))
    return 0


def _from_dataset(args: argparse.Namespace, out: Path) -> int:
    from tvau_ros.cli.eval_cmd import load_videos
    from tvau_ros.core.behaviour.learning import learn_from_videos
    from tvau_ros.core.behaviour.scene_model import SceneModelError

    if not (args.per_scene or args.generic):
        raise CliError("--dataset needs --per-scene or --generic")
    videos = load_videos(args.dataset, args.split)
    if args.max_frames is not None:
        raise CliError("--max-frames applies to footage sources only")
    make = _pipeline_factory(args.config, generic_model="none")
    started = time.perf_counter()
    if args.generic:
        result = learn_from_videos(videos, make, args.scene or "generic", generic=True)
        result.model.card["source"] = f"{args.dataset} {args.split}: every scene"
        _print(result, result.model.save(out / (args.scene or "tvau_scene_generic")))
        return 0
    scenes, learnt = sorted({v.scene for v in videos}), 0
    for scene in scenes:
        chosen = [v for v in videos if v.scene == scene]
        try:
            result = learn_from_videos(chosen, make, scene)
        except SceneModelError as exc:  # one scene without usable footage does not stop the others
            print(f"warning: {exc}; no model for {scene}")
            continue
        result.model.card["source"] = f"{args.dataset} {args.split}: {len(chosen)} videos of {scene}"
        _print(result, result.model.save(out / scene))
        learnt += 1
    print(f"learnt {learnt} of {len(scenes)} scene models in {time.perf_counter() - started:.0f} s")
    if not learnt:
        raise CliError(f"--dataset {args.dataset} --split {args.split}: no scene had footage to learn from")
    return 0
