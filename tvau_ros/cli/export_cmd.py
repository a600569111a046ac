"""``tvau export onnx``: encoder + AHD as one ONNX graph (docs/ahd.md).

    tvau export onnx --checkpoint models/ahd.safetensors --out build/ahd.onnx --verify
    tvau export onnx --config default --random-init --out build/ahd_untrained.onnx
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from tvau_ros.cli import CliError

if TYPE_CHECKING:
    from tvau_ros.core.ahd import TorchAHDEngine


def parse_size(text: str) -> tuple[int, int]:
    """``"168x224"`` -> (168, 224) (H x W); a single number means a square."""
    parts = text.lower().split("x")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 224x224, got {text!r}") from None
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected HxW such as 224x224, got {text!r}")
    return values


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Where the AHD comes from: a checkpoint, or a config with a randomly initialised head."""
    group = parser.add_argument_group("model")
    group.add_argument("--checkpoint", metavar="FILE", help="AHD checkpoint (.safetensors)")
    group.add_argument("--config", default="default", metavar="NAME|YAML",
                       help="AHD config for --random-init (default: default)")
    group.add_argument("--random-init", action="store_true",
                       help="no checkpoint: random head, text features from the config's prompts")
    group.add_argument("--seed", type=int, default=0, help="seed of --random-init (default 0)")
    group.add_argument("--input-size", type=parse_size, metavar="HxW",
                       help="override the config's input size (the head does not depend on it)")


def load_torch_engine(args: argparse.Namespace) -> TorchAHDEngine:
    """A ``TorchAHDEngine`` from ``add_model_options``' arguments; user errors -> CliError."""
    import dataclasses

    from tvau_ros.core.ahd import TorchAHDEngine
    from tvau_ros.core.ahd_spec import load_ahd_config

    try:
        if args.checkpoint:
            engine = TorchAHDEngine.from_checkpoint(args.checkpoint)
        elif args.random_init:
            engine = TorchAHDEngine.from_config(load_ahd_config(args.config), seed=args.seed)
        else:
            raise CliError("give --checkpoint FILE, or --random-init (with --config) for an untrained AHD")
        if args.input_size:
            engine = TorchAHDEngine(engine.backbone, engine.head,
                                    dataclasses.replace(engine.config, input_size=args.input_size), engine.model_id)
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    return engine


def _verify(engine: TorchAHDEngine, onnx_path: str | Path, tolerance: float = 1e-4) -> float:
    import numpy as np

    from tvau_ros.core.ahd_ort import OrtAHDEngine

    frames = np.random.default_rng(0).integers(0, 256, (engine.clip_len, 120, 160, 3), dtype=np.uint8)
    ref, got = engine.infer(frames), OrtAHDEngine(onnx_path, providers=["cpu"]).infer(frames)
    diff = float(np.abs(ref.heatmap - got.heatmap).max())
    if diff > tolerance:
        raise CliError(f"ONNX heatmap differs from torch by {diff:.2e} (> {tolerance:g})")
    return diff


def _run_onnx(args: argparse.Namespace) -> int:
    from tvau_ros.export.onnx_export import export_ahd_onnx

    engine = load_torch_engine(args)
    try:
        path = export_ahd_onnx(engine, args.out, opset=args.opset, frames=args.frames)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    print(f"wrote {path} (input clip: T x 3 x {engine.input_size[0]} x {engine.input_size[1]}, "
          f"model {engine.model_id})")
    if args.verify:
        print(f"verified: max |heatmap torch - onnxruntime| = {_verify(engine, path):.2e}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    export = subparsers.add_parser("export", help="export models (ONNX)")
    kinds = export.add_subparsers(dest="export_kind", metavar="KIND", required=True)
    onnx = kinds.add_parser("onnx", help="encoder + AHD as one ONNX graph (input clip, outputs heatmap and H_c)")
    add_model_options(onnx)
    onnx.add_argument("--out", required=True, metavar="FILE", help="output .onnx file")
    onnx.add_argument("--frames", type=int, help="frames of the example clip used for tracing (default: clip_len)")
    onnx.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    onnx.add_argument("--verify", action="store_true", help="compare onnxruntime with torch on a random clip")
    onnx.set_defaults(func=_run_onnx)
