"""Learnt-detector tracks for ``track_probe.py``: a small person detector in place of moving foreground.

The track probe loses about 12 points of micro AUC and two thirds of its RBDC between perfect
tracks and the moving-foreground detector, which misses people who stand still, merges groups
and splits runners. This script trains a small CenterNet-style detector (a centre heatmap,
box size and sub-cell offset at stride 4, from the RGB frame and its grey change over
``MOTION_GAP`` frames) on the **training split only**, labelled with every actor's box from
``oracle_tracks.py``; it then detects people in every video of every split, follows them with
the package's ``Tracker`` (``track_probe.video_tracks``) and writes the track tables in the
track probe's cache layout, so the same probe scores them:

    python -m research.oracle_tracks --out outputs/track_probe_oracle        # the training labels
    python -m research.learnt_tracks --labels outputs/track_probe_oracle --out outputs/track_probe_learnt
    python -m research.track_probe --out outputs/track_probe_learnt

It prints the precision and recall of the detector and of the moving foreground against the
actor boxes of a quarter of the validation videos (IoU >= 0.5). The detector's weights are kept
in ``OUT/person_detector.pt``; a rerun reuses them and the cached tables. About 45 min on 2
cores (31 of them training); with ``--device cuda`` on an H200, 3.5 min of training for
``--width 64 --epochs 8 --every 2 --batch 32``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

STRIDE, MOTION_GAP, MIN_HEIGHT = 4, 2, 8  # output cell (px), frames behind the motion channel, smallest labelled box


def network_input(frames: np.ndarray, t: np.ndarray) -> torch.Tensor:
    """``(n, 4, H, W)`` float input of frames ``t`` of a video's RGB ``frames`` ``(T, H, W, 3)``:
    RGB in [0, 1] and the grey change since ``MOTION_GAP`` frames earlier (the first frames use
    frame 0)."""
    rgb = torch.from_numpy(frames[t]).permute(0, 3, 1, 2).float() / 255.0
    earlier = torch.from_numpy(frames[np.maximum(t - MOTION_GAP, 0)]).permute(0, 3, 1, 2).float() / 255.0
    change = (rgb - earlier).mean(1, keepdim=True)
    return torch.cat([rgb, change], 1)


def _block(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, dilation, dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class PersonDetector(nn.Module):
    """Centre heatmap (1), log box width and height in pixels (2) and centre offset within the
    cell (2), at stride 4; a receptive field of about 100 px (the tallest person is ~70 px).

    >>> out = PersonDetector()(torch.zeros(1, 4, 240, 320))
    >>> tuple(out.shape)
    (1, 5, 60, 80)
    """

    def __init__(self, width: int = 32):
        super().__init__()
        self.down4 = nn.Sequential(_block(4, width // 2, 2), _block(width // 2, width, 2), _block(width, width))
        self.down8 = nn.Sequential(_block(width, 2 * width, 2), _block(2 * width, 2 * width, dilation=2),
                                   _block(2 * width, 2 * width, dilation=4))
        self.fuse = _block(3 * width, 2 * width)
        self.head = nn.Conv2d(2 * width, 5, 1)
        with torch.no_grad():
            self.head.bias.zero_()
            self.head.bias[0] = -4.0  # a centre is rare: start the heatmap near 0.02

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fine = self.down4(x)
        coarse = F.interpolate(self.down8(fine), size=fine.shape[-2:], mode="nearest")
        return self.head(self.fuse(torch.cat([fine, coarse], 1)))


def heatmap_targets(boxes: list[np.ndarray], grid: tuple[int, int]) -> tuple[torch.Tensor, ...]:
    """Training targets of a batch: Gaussian centre heatmaps ``(n, 1, h, w)`` (sigma a sixth of
    the box's smaller side in cells, at least 0.7), and at each centre cell the log size and
    offset ``(n, 4, h, w)`` with its mask ``(n, 1, h, w)``."""
    h, w = grid
    heat, regress = torch.zeros(len(boxes), 1, h, w), torch.zeros(len(boxes), 4, h, w)
    mask = torch.zeros(len(boxes), 1, h, w)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    for i, frame_boxes in enumerate(boxes):
        for x, y, bw, bh in frame_boxes:
            cx, cy = (x + bw / 2) / STRIDE, (y + bh / 2) / STRIDE
            ix, iy = min(int(cx), w - 1), min(int(cy), h - 1)
            sigma = max(0.7, min(bw, bh) / STRIDE / 6)
            heat[i, 0] = torch.maximum(heat[i, 0], torch.exp(-((xs - ix) ** 2 + (ys - iy) ** 2) / (2 * sigma ** 2)))
            regress[i, :, iy, ix] = torch.tensor([np.log(bw), np.log(bh), cx - ix, cy - iy])
            mask[i, 0, iy, ix] = 1.0
    return heat, regress, mask


def detector_loss(out: torch.Tensor, heat: torch.Tensor, regress: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss on the heatmap (alpha 2, beta 4) plus L1 on size
    and offset at the centre cells, each normalised by the number of people."""
    p = torch.sigmoid(out[:, :1]).clamp(1e-4, 1 - 1e-4)
    centre = heat.eq(1.0).float()
    focal = -(centre * (1 - p) ** 2 * torch.log(p) + (1 - centre) * (1 - heat) ** 4 * p ** 2 * torch.log(1 - p)).sum()
    people = max(float(centre.sum()), 1.0)
    l1 = (F.l1_loss(out[:, 1:], regress, reduction="none") * mask).sum()
    return (focal + l1) / people


@torch.no_grad()
def decode(out: torch.Tensor, threshold: float) -> list[np.ndarray]:
    """Per image, the ``(n, 4)`` boxes (x, y, w, h) at local maxima (3x3) of the heatmap above
    ``threshold``."""
    heat = torch.sigmoid(out[:, 0:1])
    peaks = (heat == F.max_pool2d(heat, 3, 1, 1)) & (heat > threshold)
    result = []
    for i in range(len(out)):
        iy, ix = torch.nonzero(peaks[i, 0], as_tuple=True)
        bw, bh = out[i, 1, iy, ix].exp(), out[i, 2, iy, ix].exp()
        cx, cy = (ix + out[i, 3, iy, ix]) * STRIDE, (iy + out[i, 4, iy, ix]) * STRIDE
        result.append(torch.stack([cx - bw / 2, cy - bh / 2, bw, bh], 1).numpy().astype(np.float32))
    return result


def load_labels(path: Path) -> dict[int, np.ndarray]:
    """Frame -> ``(n, 4)`` actor boxes of an ``oracle_tracks.py`` table at least ``MIN_HEIGHT`` tall."""
    with np.load(path) as data:
        table = data["table"]
    table = table[table[:, 5] >= MIN_HEIGHT]
    return {int(f): table[table[:, 0] == f, 2:6] for f in np.unique(table[:, 0])}


def training_samples(videos, labels_dir: Path, every: int) -> tuple[torch.Tensor, list[np.ndarray]]:
    """Inputs ``(n, 4, H, W)`` (float16, to halve the memory) and boxes of every ``every``-th
    frame of the videos that have a label table."""
    inputs, boxes = [], []
    for video in videos:
        path = labels_dir / f"{video.name}.npz"
        if not path.is_file():
            sys.exit(f"learnt_tracks: no label table {path}; "
                     f"run python -m research.oracle_tracks --out {labels_dir.parent.parent}")
        labels = load_labels(path)
        frames = video.read_frames()
        t = np.arange(0, len(frames), every)
        inputs.append(network_input(frames, t).half())
        boxes += [labels.get(int(k), np.zeros((0, 4), np.float32)) for k in t]
    return torch.cat(inputs), boxes


def train_detector(inputs: torch.Tensor, boxes: list[np.ndarray], epochs: int, batch: int, seed: int,
                   width: int = 32, device: str = "cpu") -> PersonDetector:
    """Adam with a cosine learning rate from 2e-3, random horizontal flips, ``epochs`` passes."""
    from tqdm import tqdm

    torch.manual_seed(seed)
    net = PersonDetector(width).to(device)
    optimiser = torch.optim.Adam(net.parameters(), lr=2e-3)
    steps = epochs * (len(inputs) // batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    grid = (inputs.shape[2] // STRIDE, inputs.shape[3] // STRIDE)
    generator = np.random.default_rng(seed)
    image_width = inputs.shape[3]
    net.train()
    with tqdm(total=steps, desc="person detector", mininterval=30) as bar:
        for _ in range(epochs):
            order = generator.permutation(len(inputs))
            for start in range(0, len(order) - batch + 1, batch):
                idx = order[start:start + batch]
                x = inputs[idx].to(device).float()
                flip = generator.random(len(idx)) < 0.5
                x[flip] = x[flip].flip(-1)
                batch_boxes = [b.copy() for b in (boxes[i] for i in idx)]
                for b, f in zip(batch_boxes, flip, strict=True):
                    if f and len(b):
                        b[:, 0] = image_width - b[:, 0] - b[:, 2]
                targets = [t.to(device) for t in heatmap_targets(batch_boxes, grid)]
                loss = detector_loss(net(x), *targets)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                bar.update()
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    return net.eval()


def detect_video(net: PersonDetector, threshold: float, frames: np.ndarray, batch: int = 32) -> list[np.ndarray]:
    """Boxes of every frame of a video, for ``track_probe.video_tracks``."""
    result, device = [], next(net.parameters()).device
    for start in range(0, len(frames), batch):
        t = np.arange(start, min(start + batch, len(frames)))
        result += decode(net(network_input(frames, t).to(device)).cpu(), threshold)
    return result


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of (x, y, w, h) boxes ``a`` (n, 4) and ``b`` (m, 4)."""
    x0, y0 = np.maximum(a[:, None, 0], b[None, :, 0]), np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    y1 = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    return inter / (a[:, None, 2] * a[:, None, 3] + b[None, :, 2] * b[None, :, 3] - inter)


def precision_recall(detected: list[np.ndarray], truth: list[np.ndarray], min_iou: float = 0.5) -> tuple[float, float]:
    """Greedy one-to-one matching per frame (highest IoU first) at ``min_iou``.

    >>> box = np.array([[0, 0, 10, 20]], np.float32)
    >>> precision_recall([box, np.zeros((0, 4))], [box, box])
    (1.0, 0.5)
    """
    matched = found = total = 0
    for d, g in zip(detected, truth, strict=True):
        found, total = found + len(d), total + len(g)
        if len(d) and len(g):
            iou = _iou(np.asarray(d), np.asarray(g))
            while iou.size and iou.max() >= min_iou:
                i, j = np.unravel_index(iou.argmax(), iou.shape)
                matched += 1
                iou[i, :], iou[:, j] = 0, 0
    return matched / max(found, 1), matched / max(total, 1)


def main() -> None:
    from functools import partial

    from research.track_probe import foreground_boxes, split_tables

    from tvau_ros.cli import CliError, add_device_option, check_device
    from tvau_ros.data import load_dataset

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="data/default/ubnormal", help="UBnormal-layout dataset root")
    parser.add_argument("--labels", type=Path, default=Path("outputs/track_probe_oracle"),
                        help="oracle_tracks.py output: actor boxes of the training split are the labels")
    parser.add_argument("--out", type=Path, default=Path("outputs/track_probe_learnt"),
                        help="person_detector.pt and the track tables (tracks/SPLIT/VIDEO.npz)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--every", type=int, default=4, help="train on every N-th frame of each training video")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threshold", type=float, default=0.3, help="heatmap peak that counts as a person")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=32, help="channels of the detector's first full-resolution stage")
    add_device_option(parser, "the detector")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    for name in ("epochs", "every", "batch", "threads", "width"):
        if getattr(args, name) < 1:
            sys.exit(f"learnt_tracks: --{name} must be >= 1, got {getattr(args, name)}")
    if not 0.0 < args.threshold < 1.0:
        sys.exit(f"learnt_tracks: --threshold must be in (0, 1), got {args.threshold}")
    if not Path(args.dataset).is_dir():
        sys.exit(f"learnt_tracks: --dataset {args.dataset} is not a directory")
    try:
        device = check_device(args.device)
    except CliError as exc:
        sys.exit(f"learnt_tracks: {exc}")
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)

    weights = args.out / "person_detector.pt"
    if weights.is_file():
        state = torch.load(weights, map_location=device)
        net = PersonDetector(state["down4.1.0.weight"].shape[0]).to(device)
        net.load_state_dict(state)
        net.eval()
        print(f"person detector: {weights} (delete it to retrain)")
    else:
        videos = sorted(load_dataset(args.dataset, "train"), key=lambda v: v.name)
        inputs, boxes = training_samples(videos, args.labels / "tracks" / "train", args.every)
        print(f"training the person detector on {len(inputs)} frames of {len(videos)} training videos")
        net = train_detector(inputs, boxes, args.epochs, args.batch, args.seed, args.width, device)
        del inputs
        args.out.mkdir(parents=True, exist_ok=True)
        torch.save(net.state_dict(), weights)

    videos = sorted(load_dataset(args.dataset, "validation"), key=lambda v: v.name)
    detected, foreground, truth = [], [], []
    with torch.no_grad():
        for video in videos[::4]:
            labels = load_labels(args.labels / "tracks" / "validation" / f"{video.name}.npz")
            frames = video.read_frames()
            detected += detect_video(net, args.threshold, frames)
            foreground += foreground_boxes(frames)
            truth += [labels.get(t, np.zeros((0, 4))) for t in range(len(frames))]
    for name, boxes in (("person detector", detected), ("moving foreground", foreground)):
        precision, recall = precision_recall(boxes, truth)
        print(f"{name}, validation (every 4th video): precision {100 * precision:.1f} %, "
              f"recall {100 * recall:.1f} % of actor boxes >= {MIN_HEIGHT} px at IoU 0.5")
    with torch.no_grad():
        for split in ("train", "validation", "test"):
            split_tables(args.dataset, split, args.out, 1, partial(detect_video, net, args.threshold))
            print(f"{split}: track tables in {args.out / 'tracks' / split}")


if __name__ == "__main__":
    main()
