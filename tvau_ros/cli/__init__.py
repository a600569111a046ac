"""The ``tvau`` command: one entry point, one module per subcommand group.

Each module in ``SUBCOMMAND_MODULES`` exposes ``register(subparsers)``, which adds its
subcommand(s) and sets ``func`` (a callable taking the parsed ``argparse.Namespace`` and
returning an exit code) on each parser. Modules are imported lazily only to build the
parser, so ``tvau --help`` stays fast: heavy imports (torch, rclpy) belong inside ``func``.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from tvau_ros import __version__

SUBCOMMAND_MODULES = (
    "tvau_ros.cli.data_cmd",
    "tvau_ros.cli.eval_cmd",
    "tvau_ros.cli.train_cmd",
    "tvau_ros.cli.export_cmd",
    "tvau_ros.cli.bench_cmd",
    "tvau_ros.cli.run_cmd",
    "tvau_ros.cli.learn_cmd",
    "tvau_ros.cli.ask_cmd",
    "tvau_ros.cli.ros_cmd",
)


class CliError(Exception):
    """A user error: printed as one line ``tvau: error: ...`` with exit code 2."""


def add_device_option(parser: argparse.ArgumentParser, what: str = "the encoder and AHD") -> None:
    parser.add_argument("--device", default="cpu", metavar="DEV",
                        help=f"torch device for {what}: cpu, cuda or cuda:N (default: cpu)")


def check_device(device: str) -> str:
    """``device`` if torch can use it, else a CliError naming it."""
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise CliError(f"--device {device!r}: not a torch device (use cpu, cuda or cuda:N)") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise CliError(f"--device {device}: no CUDA device is available to torch {torch.__version__}")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise CliError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s)")
    elif parsed.type != "cpu":
        raise CliError(f"--device {device!r}: only cpu and cuda are supported")
    return device


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tvau",
        description="Text-guided fine-grained video anomaly understanding (T-VAU) for ROS 2.",
    )
    parser.add_argument("--version", action="version", version=f"tvau_ros {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # subcommand group not shipped in this build
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"tvau: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
