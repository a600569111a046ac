"""Train the AHD head on cached encoder features (paper §3.2.1: only AHD is optimized).

Loss, on the patch grid (before upsampling): focal loss + soft dice between the abnormal
probability (eq. 7-8) and a binary cell target: a cell is abnormal when at least
``target_min_fraction`` of its pixels belong to an abnormal target. Binary, not the covered
fraction: targets here are often smaller than one 14-pixel patch of the model input, so
fractional targets teach the head to stay below 0.5 even on the target (measured: mean
per-frame maximum cell coverage 0.15), and a threshold-free heatmap should reach 1 where the
anomaly is. Focal, because abnormal cells are about 1 % of all cells and most normal cells
are easy; dice, because it scores each frame's region as a whole, which RBDC/TBDC reward.

Runs on one process, or under ``torchrun`` (WORLD_SIZE > 1: DistributedDataParallel,
gloo on CPU / nccl on GPU, each rank a shard of every epoch). Resumable: ``last.pt`` holds
head, optimizer, scheduler, epoch and RNG states.
"""
from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch

from tvau_ros.core.ahd import AHDConfig, AnomalyHeatmapDecoder
from tvau_ros.core.checkpoint import save_ahd_checkpoint
from tvau_ros.core.prompts import ABNORMAL, load_prompt_set
from tvau_ros.train.config import TrainConfig
from tvau_ros.train.features import FeatureCache


def focal_dice_loss(prob: torch.Tensor, target: torch.Tensor, gamma: float, alpha: float,
                    dice_weight: float, eps: float = 1e-6) -> torch.Tensor:
    """prob, target: ``(N, H', W')`` in [0, 1]. Focal (soft targets) + dice averaged over frames
    that contain a target; frames without one only contribute the focal term.

    >>> p = torch.tensor([[[0.9, 0.1]]]); t = torch.tensor([[[1.0, 0.0]]])
    >>> bool(focal_dice_loss(p, t, 2.0, 0.75, 1.0) < focal_dice_loss(1 - p, t, 2.0, 0.75, 1.0))
    True
    """
    prob = prob.clamp(eps, 1 - eps)
    p_t = prob * target + (1 - prob) * (1 - target)
    a_t = alpha * target + (1 - alpha) * (1 - target)
    bce = -(target * prob.log() + (1 - target) * (1 - prob).log())
    focal = (a_t * (1 - p_t).pow(gamma) * bce).mean()
    flat_p, flat_t = prob.flatten(1), target.flatten(1)
    has_target = flat_t.sum(1) > 0
    if not has_target.any():
        return focal
    inter = (flat_p * flat_t).sum(1)
    dice = 1 - (2 * inter + 1) / (flat_p.sum(1) + flat_t.sum(1) + 1)
    return focal + dice_weight * dice[has_target].mean()


def frame_max_loss(prob: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Binary cross-entropy between each frame's highest cell probability and whether the frame
    has an abnormal cell: the frame score of the evaluation (heatmap maximum), so a normal
    person lit up in a normal frame is penalised as a whole frame, not as one cell among 192.

    >>> t = torch.zeros(1, 2, 2); t[0, 0, 0] = 1
    >>> low, high = torch.full((1, 2, 2), 0.1), torch.full((1, 2, 2), 0.9)
    >>> bool(frame_max_loss(high, t) < frame_max_loss(low, t))
    True
    """
    score = prob.flatten(1).max(1).values.clamp(eps, 1 - eps)
    label = target.flatten(1).amax(1)
    return torch.nn.functional.binary_cross_entropy(score, label)


def select_training_videos(cache: FeatureCache, regime: str) -> list[dict]:
    """``fine_tuned``: every cached train video. ``one_shot``: every normal train video plus
    one abnormal video per training anomaly type (the first by name that shows it)."""
    videos = sorted(cache.videos("train"), key=lambda v: v["name"])
    if regime == "fine_tuned":
        return videos
    chosen, covered = [], set()
    for video in videos:
        if not video["abnormal"]:
            chosen.append(video)
        elif set(video["categories"]) - covered:
            chosen.append(video)
            covered |= set(video["categories"])
    return chosen


def dist_info(device: str = "cpu") -> tuple[int, int]:
    """(rank, world size); under torchrun (WORLD_SIZE > 1) the process group is initialised
    once, with nccl for CUDA devices and gloo for the CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if str(device).startswith("cuda") else "gloo")
    rank = torch.distributed.get_rank() if world > 1 else 0
    return rank, world


def _loss(class_maps: Callable[[torch.Tensor], torch.Tensor], logit_scale: float, tokens: torch.Tensor,
          targets: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    """Loss of one batch: tokens ``(B, L, T', H', W', D)`` of a frame pair (T' = 2 for a
    frame-wise encoder, 1 for one 2-frame temporal patch), cell coverage ``(B, 2, H', W')``.
    A temporal patch's map stands for both of its frames, as ``AnomalyHeatmapDecoder.heatmap``
    repeats it at inference."""
    prob = torch.softmax(logit_scale * class_maps(tokens.float()), dim=-3).select(-3, ABNORMAL)
    if prob.shape[1] != targets.shape[1]:
        prob = prob.repeat_interleave(targets.shape[1] // prob.shape[1], dim=1)
    labels = (targets >= max(cfg.target_min_fraction, 1e-6)).float()
    prob, labels = prob.flatten(0, 1), labels.flatten(0, 1)
    loss = focal_dice_loss(prob, labels, cfg.focal_gamma, cfg.focal_alpha, cfg.dice_weight)
    if cfg.frame_weight:
        loss = loss + cfg.frame_weight * frame_max_loss(prob, labels)
    return loss


class _ClassMaps(torch.nn.Module):
    """DDP needs ``forward``; the head's forward also upsamples, which training skips."""

    def __init__(self, head: AnomalyHeatmapDecoder):
        super().__init__()
        self.head = head

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        # a cached (t - k, t) pair sits side by side: motion stride 1
        return self.head.class_maps(tokens, motion_stride=1)


@torch.no_grad()
def evaluate_loss(head: AnomalyHeatmapDecoder, tokens: torch.Tensor, targets: torch.Tensor, cfg: TrainConfig,
                  device: str = "cpu") -> float:
    head.eval()
    total, count = 0.0, 0
    for start in range(0, tokens.shape[0], cfg.batch_size):
        t = tokens[start:start + cfg.batch_size].to(device, non_blocking=True)
        y = targets[start:start + cfg.batch_size].to(device, non_blocking=True)
        total += float(_loss(_ClassMaps(head), head.logit_scale, t, y, cfg)) * t.shape[0]
        count += t.shape[0]
    return total / max(count, 1)


def train_ahd(cfg: TrainConfig, cache: FeatureCache, resume: bool = True, progress: bool = True,
              device: str = "cpu") -> Path:
    """Train and write ``out_dir/ahd.safetensors`` (the epoch with the lowest validation loss,
    or the last epoch when there is no validation split). Returns its path. The cached tokens
    stay in host memory; each batch moves to ``device``."""
    from tqdm import tqdm

    rank, world = dist_info(device)
    if world > 1 and device == "cuda":  # one GPU per process
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', rank))}"
        torch.cuda.set_device(device)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_cfg = AHDConfig.from_dict(dict(cfg.model), "training config 'model'")
    torch.manual_seed(cfg.seed)
    head = AnomalyHeatmapDecoder.from_config(model_cfg, cache.dims, cache.text_features).to(device)
    train_videos = select_training_videos(cache, cfg.regime)
    if not train_videos:
        raise ValueError(f"no training videos in the feature cache {cache.root}")
    tokens, targets = cache.load(train_videos)
    if model_cfg.motion and tokens.shape[2] < 2:
        raise ValueError(f"model.motion needs both frames of a cached pair as separate steps, "
                         f"but the cache {cache.root} holds one {cache.dims.get('temporal_patch')}-frame "
                         f"temporal patch per pair: set model.motion to false (the temporal patch already sees both "
                         f"frames)")
    val_entries = cache.videos("validation")
    val = cache.load(val_entries) if val_entries else None

    params = [p for p in head.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(tokens.shape[0] / world / cfg.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
    state_path, start_epoch, best = out / "last.pt", 0, {"val_loss": math.inf, "epoch": -1}
    log_path = out / "train_log.jsonl"
    if not (resume and state_path.is_file()) and rank == 0:
        log_path.unlink(missing_ok=True)
    if resume and state_path.is_file():
        state = torch.load(state_path, weights_only=False, map_location=device)
        saved_steps = state["scheduler"].get("total_steps")
        if saved_steps is not None and saved_steps != scheduler.total_steps:
            raise ValueError(
                f"{state_path} is a run of {saved_steps} steps and this config asks for {scheduler.total_steps} "
                f"({cfg.epochs} epochs x {steps_per_epoch} steps): a one-cycle learning-rate schedule cannot be "
                f"extended or shortened; train into another out_dir, or pass --restart")
        head.load_state_dict(state["head"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"].cpu())
        start_epoch, best = state["epoch"] + 1, state["best"]
    model = _ClassMaps(head)
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)

    generator = torch.Generator().manual_seed(cfg.seed)
    for epoch in range(start_epoch, cfg.epochs):
        head.train()
        generator.manual_seed(cfg.seed + epoch)
        order = torch.randperm(tokens.shape[0], generator=generator)
        # every rank must run the same number of steps (each step is a collective): pad the
        # permutation with its own head to a multiple of the world size, as DistributedSampler does
        order = torch.cat([order, order[:(-order.numel()) % world]])[rank::world]
        running, seen, t0 = 0.0, 0, time.perf_counter()
        batches = range(0, order.numel(), cfg.batch_size)
        for start in tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress or rank, leave=False):
            idx = order[start:start + cfg.batch_size]
            batch = tokens[idx].to(device, non_blocking=True), targets[idx].to(device, non_blocking=True)
            loss = _loss(model, head.logit_scale, *batch, cfg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            running += float(loss.detach()) * idx.numel()
            seen += idx.numel()
        if rank:
            continue
        val_loss = evaluate_loss(head, *val, cfg, device) if val else math.nan
        record = {"epoch": epoch + 1, "train_loss": running / max(seen, 1), "val_loss": val_loss,
                  "seconds": round(time.perf_counter() - t0, 2)}
        if progress:
            print(json.dumps(record), flush=True)
        if not val or val_loss < best["val_loss"]:
            best = {"val_loss": val_loss, "epoch": epoch + 1}
            _save(out / "ahd.safetensors", head, model_cfg, cfg, train_videos, best)
        torch.save({"head": head.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(),
                    "epoch": epoch, "best": best}, state_path)
        with log_path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
    if world > 1:
        torch.distributed.barrier()
    return out / "ahd.safetensors"


def _save(path: Path, head: AnomalyHeatmapDecoder, model_cfg: AHDConfig, cfg: TrainConfig, videos: list[dict],
          best: dict) -> None:
    suffix = "" if cfg.encoder_init == "pretrained" else "_random_encoder"
    model_id = f"tvau_ahd_{model_cfg.backbone}_{cfg.regime}{suffix}"
    save_ahd_checkpoint(path, head, model_cfg, model_id=model_id, prompts=load_prompt_set(model_cfg.prompts),
                        extra={"train_config": cfg.to_dict(), "best": best,
                               "train_videos": [v["name"] for v in videos]})
