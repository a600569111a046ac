"""``tvau train ahd``: build the encoder feature cache and train the AHD head."""
from __future__ import annotations

import argparse

from tvau_ros.cli import CliError


def _run_ahd(args: argparse.Namespace) -> int:
    from tvau_ros.core.ahd import AHDConfig
    from tvau_ros.train.ahd_trainer import train_ahd
    from tvau_ros.train.config import load_train_config
    from tvau_ros.train.features import build_feature_cache
    from tvau_ros.cli.eval_cmd import load_videos

    try:
        cfg = load_train_config(args.config, {"dataset": args.dataset, "out_dir": args.out,
                                              "epochs": args.epochs, "cache_dir": args.cache})
        model_cfg = AHDConfig.from_dict(dict(cfg.model), f"{args.config}: model")
    except (OSError, ValueError) as exc:
        raise CliError(str(exc)) from None
    splits = {"train": load_videos(cfg.dataset, "train")}
    try:
        splits["validation"] = load_videos(cfg.dataset, "validation")
    except CliError:
        print(f"train: no validation split in {cfg.dataset}; keeping the last epoch")
    try:
        cache = build_feature_cache(cfg.cache_dir, splits, model_cfg, cfg.pairs_per_video,
                                    cfg.abnormal_pair_fraction, cfg.encoder_init, cfg.seed,
                                    progress=not args.quiet)
    except (OSError, ValueError) as exc:
        raise CliError(f"building the feature cache in {cfg.cache_dir}: {exc}") from None
    if args.cache_only:
        print(f"train: feature cache ready in {cfg.cache_dir}")
        return 0
    path = train_ahd(cfg, cache, resume=not args.restart, progress=not args.quiet)
    print(f"train: checkpoint {path}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train models (AHD)")
    sub = parser.add_subparsers(dest="train_command", metavar="TRAIN_COMMAND")
    ahd = sub.add_parser(
        "ahd", help="train the Anomaly Heatmap Decoder on cached frozen-encoder features",
        description="Caches the frozen encoder's multi-layer tokens for sampled frame pairs "
                    "(once; resumes), then trains only the AHD head with focal + dice loss. "
                    "Under torchrun each process trains a shard (DistributedDataParallel). "
                    "Configs: training/configs/*.yaml.")
    ahd.add_argument("--config", required=True, help="training YAML (e.g. training/configs/ahd_fine_tuned.yaml)")
    ahd.add_argument("--dataset", help="override the config's dataset root")
    ahd.add_argument("--out", help="override the config's output folder")
    ahd.add_argument("--cache", help="override the config's feature cache folder")
    ahd.add_argument("--epochs", type=int, help="override the number of epochs")
    ahd.add_argument("--cache-only", action="store_true", help="build the feature cache and stop")
    ahd.add_argument("--restart", action="store_true", help="ignore out/last.pt and train from scratch")
    ahd.add_argument("--quiet", action="store_true", help="no progress bars")
    ahd.set_defaults(func=_run_ahd)
    parser.set_defaults(func=lambda _args: parser.print_help() or 0)
