"""``tvau train detector``: the behaviour engine's person detector, on the training split only.

Labels are every actor's box (targets and normal people alike, occluded or not), from
re-rendering the generated videos (the generator is deterministic; each video's first frame
is compared with the stored one, so another config or seed is an error, not wrong labels).
The network sees the stored, compressed frames, as the engine does. CenterNet's losses:
penalty-reduced focal loss on the centre heatmap, L1 on log size and offset at the centres.
"""
from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from tvau_ros.core.behaviour.person_detector import (MOTION_GAP, STRIDE, PersonDetector, PersonDetectorNet,
                                                     network_input)

if TYPE_CHECKING:
    from tvau_ros.data.dataset import VideoSample
    from tvau_ros.data.synthetic.video import VideoJob

MIN_HEIGHT = 8         # smaller actors are not labelled (and not expected to be found)
MAX_DIFFERENCE = 8.0   # mean grey levels between a re-rendered first frame and the stored one


class DetectorTrainingError(RuntimeError):
    """The dataset does not match the generator config, or nothing to train on."""


@dataclass(frozen=True)
class DetectorTrainConfig:
    epochs: int = 6
    every: int = 4          # train on every N-th frame of each training video
    batch: int = 16
    lr: float = 2e-3
    width: int = 32
    threshold: float = 0.3  # heatmap peak that counts as a person (stored in the card)
    seed: int = 0


def _actor_boxes(job: VideoJob) -> tuple[str, np.ndarray, np.ndarray]:
    """Render ``job``: (name, its first frame RGB, table (N, 5) of frame, x, y, w, h)."""
    import cv2

    from tvau_ros.data.synthetic.video import render_job

    result = render_job(job, actor_boxes=True)
    h, w = result.frames[0].shape[:2]
    first = cv2.cvtColor(result.frames[0], cv2.COLOR_BGR2RGB)
    return job.name, first, actor_box_table(result.actor_boxes, w, h)


def actor_box_table(actor_boxes: list, width: int, height: int) -> np.ndarray:
    """The renderer's actor boxes (frame, actor, (x0, y0, x1, y1), object) cut to the image ->
    table ``(N, 5)`` of frame, x, y, w, h; actors under ``MIN_HEIGHT`` pixels are left out."""
    rows = []
    for frame, _actor, (x0, y0, x1, y1), _obj in actor_boxes:
        x0, y0 = max(0.0, float(x0)), max(0.0, float(y0))
        x1, y1 = min(width - 1.0, float(x1)), min(height - 1.0, float(y1))
        if y1 - y0 + 1 >= MIN_HEIGHT and x1 > x0:
            rows.append((frame, x0, y0, x1 - x0 + 1, y1 - y0 + 1))
    return np.asarray(rows, np.float32).reshape(-1, 5)


def actor_labels(dataset: str | Path, split: str, config: str, seed: int | None, workers: int,
                 every_video: int = 1) -> tuple[list, list[np.ndarray]]:
    """Videos of ``split`` (every ``every_video``-th) and their actor-box tables."""
    from tvau_ros.data import load_dataset
    from tvau_ros.data.synthetic.config import load_generator_config
    from tvau_ros.data.synthetic.generate import plan_jobs

    videos = {v.name: v for v in load_dataset(dataset, split)}
    jobs = sorted((j for j in plan_jobs(load_generator_config(config), seed=seed) if j.split == split),
                  key=lambda j: j.name)[::every_video]
    missing = [j.name for j in jobs if j.name not in videos]
    if missing or not jobs:
        raise DetectorTrainingError(f"{dataset} has no {split} video {missing[0] if missing else ''} of generator "
                                    f"config {config!r}: pass the --config and --generator-seed it was generated with")
    with ProcessPoolExecutor(workers) as pool:
        rendered = list(pool.map(_actor_boxes, jobs, chunksize=2))
    kept, tables = [], []
    for name, first, table in rendered:
        stored = videos[name].read_frames(0, 1)[0]
        difference = float(np.abs(stored.astype(np.int16) - first.astype(np.int16)).mean())
        if difference > MAX_DIFFERENCE:
            raise DetectorTrainingError(f"video {name} renders differently from {dataset} (mean difference "
                                        f"{difference:.1f} grey levels): pass the --config and --generator-seed it "
                                        "was generated with")
        kept.append(videos[name])
        tables.append(table)
    return kept, tables


def frame_boxes(table: np.ndarray, frame: int) -> np.ndarray:
    return table[table[:, 0] == frame, 1:5]


def training_samples(videos: list[VideoSample], tables: list[np.ndarray],
                     every: int) -> tuple[torch.Tensor, list[np.ndarray]]:
    """Inputs ``(n, 4, H, W)`` float16 (half the memory) and boxes of every ``every``-th frame."""
    inputs, boxes = [], []
    for video, table in zip(videos, tables, strict=True):
        frames = video.read_frames()
        t = np.arange(0, len(frames), every)
        inputs.append(network_input(frames[t], frames[np.maximum(t - MOTION_GAP, 0)]).half())
        boxes += [frame_boxes(table, int(k)) for k in t]
    return torch.cat(inputs), boxes


def heatmap_targets(boxes: list[np.ndarray], grid: tuple[int, int]) -> tuple[torch.Tensor, ...]:
    """Gaussian centre heatmaps ``(n, 1, h, w)`` (sigma a sixth of the box's smaller side in
    cells, at least 0.7); at each centre cell the log size and offset ``(n, 4, h, w)`` and a mask.

    >>> heat, regress, mask = heatmap_targets([np.array([[8, 8, 8, 16]], np.float32)], (8, 8))
    >>> float(heat[0, 0, 4, 3]), int(mask.sum())
    (1.0, 1)
    """
    h, w = grid
    heat, regress = torch.zeros(len(boxes), 1, h, w), torch.zeros(len(boxes), 4, h, w)
    mask = torch.zeros(len(boxes), 1, h, w)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    for i, frame in enumerate(boxes):
        for x, y, bw, bh in frame:
            cx, cy = (x + bw / 2) / STRIDE, (y + bh / 2) / STRIDE
            ix, iy = min(int(cx), w - 1), min(int(cy), h - 1)
            sigma = max(0.7, min(bw, bh) / STRIDE / 6)
            heat[i, 0] = torch.maximum(heat[i, 0], torch.exp(-((xs - ix) ** 2 + (ys - iy) ** 2) / (2 * sigma ** 2)))
            regress[i, :, iy, ix] = torch.tensor([np.log(bw), np.log(bh), cx - ix, cy - iy])
            mask[i, 0, iy, ix] = 1.0
    return heat, regress, mask


def detector_loss(out: torch.Tensor, heat: torch.Tensor, regress: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Focal loss (alpha 2, beta 4) on the heatmap plus L1 at the centre cells, per person."""
    p = torch.sigmoid(out[:, :1]).clamp(1e-4, 1 - 1e-4)
    centre = heat.eq(1.0).float()
    focal = -(centre * (1 - p) ** 2 * torch.log(p) + (1 - centre) * (1 - heat) ** 4 * p ** 2 * torch.log(1 - p)).sum()
    l1 = (F.l1_loss(out[:, 1:], regress, reduction="none") * mask).sum()
    return (focal + l1) / max(float(centre.sum()), 1.0)


def train_network(inputs: torch.Tensor, boxes: list[np.ndarray], cfg: DetectorTrainConfig,
                  device: str = "cpu", progress: bool = True) -> PersonDetectorNet:
    """Adam, cosine learning rate, random horizontal flips."""
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    net = PersonDetectorNet(cfg.width).to(device)
    optimiser = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    steps = cfg.epochs * (len(inputs) // cfg.batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, max(steps, 1))
    grid = (inputs.shape[2] // STRIDE, inputs.shape[3] // STRIDE)
    rng = np.random.default_rng(cfg.seed)
    image_width = inputs.shape[3]
    net.train()
    with tqdm(total=steps, desc="person detector", mininterval=30, disable=not progress) as bar:
        for _ in range(cfg.epochs):
            order = rng.permutation(len(inputs))
            for start in range(0, len(order) - cfg.batch + 1, cfg.batch):
                idx = order[start:start + cfg.batch]
                x = inputs[idx].to(device).float()
                flip = rng.random(len(idx)) < 0.5
                x[flip] = x[flip].flip(-1)
                batch_boxes = [boxes[i].copy() for i in idx]
                for b, f in zip(batch_boxes, flip, strict=True):
                    if f and len(b):
                        b[:, 0] = image_width - b[:, 0] - b[:, 2]
                loss = detector_loss(net(x), *(t.to(device) for t in heatmap_targets(batch_boxes, grid)))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    return net.cpu().eval()


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of (x, y, w, h) boxes ``a`` (n, 4) and ``b`` (m, 4)."""
    x0, y0 = np.maximum(a[:, None, 0], b[None, :, 0]), np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    y1 = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    return inter / (a[:, None, 2] * a[:, None, 3] + b[None, :, 2] * b[None, :, 3] - inter)


def precision_recall(detected: list[np.ndarray], truth: list[np.ndarray], min_iou: float = 0.5) -> tuple[float, float]:
    """Greedy one-to-one matching per frame, highest IoU first.

    >>> box = np.array([[0, 0, 10, 20]], np.float32)
    >>> precision_recall([box, np.zeros((0, 4))], [box, box])
    (1.0, 0.5)
    """
    matched = found = total = 0
    for d, g in zip(detected, truth, strict=True):
        found, total = found + len(d), total + len(g)
        if len(d) and len(g):
            iou = box_iou(np.asarray(d, np.float32), np.asarray(g, np.float32))
            while iou.size and iou.max() >= min_iou:
                i, j = np.unravel_index(iou.argmax(), iou.shape)
                matched += 1
                iou[i, :], iou[:, j] = 0, 0
    return matched / max(found, 1), matched / max(total, 1)


def evaluate(detector: PersonDetector, videos: list[VideoSample], tables: list[np.ndarray]) -> tuple[float, float]:
    """Precision and recall (IoU 0.5) on every frame of ``videos``."""
    detected, truth = [], []
    for video, table in zip(videos, tables, strict=True):
        frames = video.read_frames()
        for t in range(len(frames)):
            detected.append(detector.detect(frames[t], frames[max(t - MOTION_GAP, 0)])[0])
            truth.append(frame_boxes(table, t))
    return precision_recall(detected, truth)


def train_person_detector(dataset: str, out: str | Path, cfg: DetectorTrainConfig, generator_config: str = "default",
                          generator_seed: int | None = None, workers: int = 2, device: str = "cpu",
                          progress: bool = True) -> dict:
    """Train on the training split, measure on every 4th validation video, save weights + card."""
    started = time.monotonic()
    videos, tables = actor_labels(dataset, "train", generator_config, generator_seed, workers)
    inputs, boxes = training_samples(videos, tables, cfg.every)
    if len(inputs) < cfg.batch:
        raise DetectorTrainingError(f"only {len(inputs)} training frames in {dataset}; "
                                    f"need at least --batch {cfg.batch}")
    print(f"detector: {len(inputs)} frames of {len(videos)} training videos, "
          f"{sum(len(b) for b in boxes)} actor boxes >= {MIN_HEIGHT} px")
    net = train_network(inputs, boxes, cfg, device, progress)
    del inputs
    detector = PersonDetector(net, cfg.threshold)
    val_videos, val_tables = actor_labels(dataset, "validation", generator_config, generator_seed, workers, 4)
    precision, recall = evaluate(detector, val_videos, val_tables)
    card = {"model": "tvau person detector (CenterNet-style, stride 4, RGB + grey change over "
                     f"{MOTION_GAP} frames)",
            "trained_on": f"{dataset} train split, every {cfg.every}th frame of {len(videos)} videos "
                          f"(generator config {generator_config!r}, "
                          f"{'its own seed' if generator_seed is None else f'seed {generator_seed}'})",
            "command": f"tvau train detector --dataset {dataset} --config {generator_config}"
                       f"{'' if generator_seed is None else f' --generator-seed {generator_seed}'}"
                       f" --epochs {cfg.epochs} --every {cfg.every} --batch {cfg.batch} --width {cfg.width}"
                       f" --threshold {cfg.threshold} --seed {cfg.seed} --out {out}",
            "parameters": sum(p.numel() for p in net.parameters()),
            "epochs": cfg.epochs, "batch": cfg.batch, "lr": cfg.lr, "seed": cfg.seed,
            "validation": {"videos": len(val_videos), "precision": round(100 * precision, 1),
                           "recall": round(100 * recall, 1), "iou": 0.5, "min_height_px": MIN_HEIGHT},
            "train_minutes": round((time.monotonic() - started) / 60, 1)}
    detector.save(out, card)
    return card
