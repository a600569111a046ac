"""``tvau train ahd``: build the encoder feature cache and train the AHD head.
``tvau train rae``: train RAE + LoRA on the annotated dialogues (the paper's stage 2).
``tvau train detector``: the behaviour engine's person detector on the training split."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tvau_ros.cli import CliError, add_device_option, check_device

if TYPE_CHECKING:
    from tvau_ros.train.config import TrainConfig
    from tvau_ros.train.rae_config import RaeTrainConfig


def parse_setting(text: str) -> tuple[list[str], object]:
    """``KEY=VALUE`` with a dotted KEY and a YAML VALUE: ``model.input_size=[336, 448]``."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip().split("."), yaml.safe_load(value)
    except yaml.YAMLError:
        raise argparse.ArgumentTypeError(f"{text!r}: the value is not valid YAML") from None


def apply_settings(cfg: TrainConfig | RaeTrainConfig,
                   settings: list[tuple[list[str], object]]) -> TrainConfig | RaeTrainConfig:
    """The training config (same class as ``cfg``) with each ``--set`` applied (unknown keys are
    errors naming the key)."""
    data = cfg.to_dict()
    for path, value in settings:
        node = data
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                raise CliError(f"--set {'.'.join(path)}: {part!r} is not a section of the training config")
            node = node[part]
        if node is data and path[-1] not in data:
            raise CliError(f"--set {'.'.join(path)}: unknown training setting; known: {sorted(data)}")
        node[path[-1]] = value
    try:
        return type(cfg)(**data) if settings else cfg
    except (TypeError, ValueError) as exc:
        raise CliError(f"--set: {exc}") from None


def _run_ahd(args: argparse.Namespace) -> int:
    from tvau_ros.core.ahd import AHDConfig
    from tvau_ros.train.ahd_trainer import dist_info, train_ahd
    from tvau_ros.train.config import load_train_config
    from tvau_ros.train.features import FeatureCache, build_feature_cache
    from tvau_ros.cli.eval_cmd import load_videos

    try:
        cfg = load_train_config(args.config, {"dataset": args.dataset, "out_dir": args.out,
                                              "epochs": args.epochs, "cache_dir": args.cache})
        cfg = apply_settings(cfg, args.set)
        model_cfg = AHDConfig.from_dict(dict(cfg.model), f"{args.config}: model")
    except (OSError, ValueError) as exc:
        raise CliError(str(exc)) from None
    device = check_device(args.device)
    splits = {"train": load_videos(cfg.dataset, "train")}
    try:
        splits["validation"] = load_videos(cfg.dataset, "validation")
    except CliError:
        print(f"train: no validation split in {cfg.dataset}; keeping the last epoch")
    rank, world = dist_info(device)
    if rank == 0:  # under torchrun one process builds the cache, the others wait and read it
        try:
            cache = build_feature_cache(cfg.cache_dir, splits, model_cfg, cfg.pairs_per_video,
                                        cfg.abnormal_pair_fraction, cfg.encoder_init, cfg.seed,
                                        progress=not args.quiet, device=device)
        except (OSError, ValueError) as exc:
            raise CliError(f"building the feature cache in {cfg.cache_dir}: {exc}") from None
    if world > 1:
        import torch.distributed

        torch.distributed.barrier()
        cache = FeatureCache(cfg.cache_dir)
    if args.cache_only:
        if rank == 0:
            print(f"train: feature cache ready in {cfg.cache_dir}")
        return 0
    try:
        path = train_ahd(cfg, cache, resume=not args.restart, progress=not args.quiet, device=device)
    except (OSError, ValueError) as exc:
        raise CliError(f"training into {cfg.out_dir}: {exc}") from None
    if rank == 0:
        print(f"train: checkpoint {path}")
    return 0


def _run_rae(args: argparse.Namespace) -> int:
    from tvau_ros.core.lvlm.files import LvlmFilesError
    from tvau_ros.train.ahd_trainer import dist_info
    from tvau_ros.train.rae_config import load_rae_config
    from tvau_ros.train.rae_trainer import train_rae

    try:
        cfg = load_rae_config(args.config, {"dataset": args.dataset, "out_dir": args.out, "epochs": args.epochs,
                                            "train_dialogues": args.train_dialogues,
                                            "val_dialogues": args.val_dialogues}, model_path=args.model_path)
        cfg = apply_settings(cfg, args.set)
    except (OSError, ValueError) as exc:
        raise CliError(str(exc)) from None
    device = check_device(args.device)
    try:
        adapter = train_rae(cfg, resume=not args.restart, progress=not args.quiet, device=device)
    except LvlmFilesError as exc:
        raise CliError(str(exc)) from None
    except (OSError, ValueError) as exc:
        raise CliError(f"training into {cfg.out_dir}: {exc}") from None
    if dist_info(device)[0] == 0:
        print(f"train: adapter {adapter}")
    return 0


def _run_detector(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from tvau_ros.train.person_detector import DetectorTrainConfig, DetectorTrainingError, train_person_detector

    for name in ("epochs", "every", "batch", "width", "workers", "threads"):
        if getattr(args, name) < 1:
            raise CliError(f"--{name} must be >= 1, got {getattr(args, name)}")
    if not 0.0 < args.threshold < 1.0:
        raise CliError(f"--threshold must be in (0, 1), got {args.threshold}")
    if not Path(args.dataset).is_dir():
        raise CliError(f"--dataset {args.dataset}: not a directory")
    if Path(args.out).suffix != ".safetensors":
        raise CliError(f"--out {args.out}: expected a .safetensors path (its .yaml card is written beside it)")
    device = check_device(args.device)
    torch.set_num_threads(args.threads)
    cfg = DetectorTrainConfig(args.epochs, args.every, args.batch, width=args.width, threshold=args.threshold,
                              seed=args.seed)
    try:
        card = train_person_detector(args.dataset, args.out, cfg, args.config, args.generator_seed, args.workers,
                                     device, not args.quiet)
    except (DetectorTrainingError, FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from None
    val = card["validation"]
    print(f"detector: {args.out} ({card['parameters']} parameters, {card['train_minutes']} min); validation "
          f"(every 4th video): precision {val['precision']} %, recall {val['recall']} % at IoU 0.5")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train models (AHD; RAE + LoRA; the person detector)")
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
    ahd.add_argument("--set", type=parse_setting, action="append", default=[], metavar="KEY=VALUE",
                     help="override any config key, dotted for the model section, value in YAML "
                          "(repeatable): --set model.input_size='[336, 448]' --set pairs_per_video=16")
    ahd.add_argument("--cache-only", action="store_true", help="build the feature cache and stop")
    ahd.add_argument("--restart", action="store_true", help="ignore out/last.pt and train from scratch")
    ahd.add_argument("--quiet", action="store_true", help="no progress bars")
    add_device_option(ahd, "the encoder (feature cache) and the training")
    ahd.set_defaults(func=_run_ahd)
    rae = sub.add_parser(
        "rae", help="train RAE + LoRA of the Qwen2.5-VL answerer on annotated dialogues (stage 2)",
        description="Trains (by default) only the Region-aware Anomaly Encoder and LoRA adapters on the LLM's "
                    "attention projections (the LVLM stays frozen; model.trainable: language_model trains the LLM) "
                    "on the multi-turn dialogues of `tvau data annotate`, with heatmaps from ground-truth masks "
                    "(heatmap_source). Writes OUT/adapter (tvau_lvlm.json, rae.safetensors, "
                    "LoRA). Resumes from OUT/last.pt; under torchrun each process trains a shard. "
                    "Configs: training/configs/rae_*.yaml; docs/rae_lvlm.md.")
    rae.add_argument("--config", required=True, help="training YAML (e.g. training/configs/rae_qwen2_5_vl_7b.yaml)")
    rae.add_argument("--model-path", help="local Qwen2.5-VL-3B/7B-Instruct folder (overrides model.model_path)")
    rae.add_argument("--dataset", help="override the dataset root (frames and masks)")
    rae.add_argument("--train-dialogues", help="override the training dialogue JSONL")
    rae.add_argument("--val-dialogues", help="override the validation dialogue JSONL")
    rae.add_argument("--out", help="override the output folder")
    rae.add_argument("--epochs", type=int, help="override the number of epochs")
    rae.add_argument("--set", type=parse_setting, action="append", default=[], metavar="KEY=VALUE",
                     help="override any config key, dotted for sections, value in YAML (repeatable): "
                          "--set lora.r=8 --set batch_size=1")
    rae.add_argument("--restart", action="store_true", help="ignore out/last.pt and train from scratch")
    rae.add_argument("--quiet", action="store_true", help="no progress output")
    add_device_option(rae, "the LVLM and the training")
    rae.set_defaults(func=_run_rae)
    det = sub.add_parser(
        "detector", help="train the behaviour engine's person detector on the benchmark's training split",
        description="Re-renders the training videos of a generated benchmark for every actor's box (targets and "
                    "normal people), trains the small CenterNet-style detector of the behaviour engine on the stored "
                    "frames, measures precision and recall on every 4th validation video and writes OUT (.safetensors) "
                    "with its .yaml card. About 11 min on 2 cores. docs/behaviour.md, 'Objects'.")
    det.add_argument("--dataset", default="data/default/ubnormal", help="generated benchmark (UBnormal layout)")
    det.add_argument("--config", default="default", help="generator config it was generated with")
    det.add_argument("--generator-seed", type=int, default=None, help="generator seed it was generated with "
                     "(default: the config's)")
    det.add_argument("--out", default="models/tvau_person_detector.safetensors")
    det.add_argument("--epochs", type=int, default=6)
    det.add_argument("--every", type=int, default=4, help="train on every N-th frame of each video")
    det.add_argument("--batch", type=int, default=16)
    det.add_argument("--width", type=int, default=32, help="channels of the first stride-4 stage")
    det.add_argument("--threshold", type=float, default=0.3, help="heatmap peak that counts as a person")
    det.add_argument("--seed", type=int, default=0)
    det.add_argument("--workers", type=int, default=2, help="processes re-rendering the videos")
    det.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    det.add_argument("--quiet", action="store_true", help="no progress bar")
    add_device_option(det, "the training")
    det.set_defaults(func=_run_detector)
    parser.set_defaults(func=lambda _args: parser.print_help() or 0)
