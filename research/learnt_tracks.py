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

from tvau_ros.core.behaviour import person_detector as product
from tvau_ros.core.behaviour.person_detector import MOTION_GAP
from tvau_ros.core.behaviour.person_detector import PersonDetectorNet as PersonDetector
from tvau_ros.train.person_detector import (MIN_HEIGHT, DetectorTrainConfig, detector_loss, heatmap_targets,  # noqa: F401
                                            precision_recall, train_network)

# The network, its targets, loss and training are the package's (tvau_ros/core/behaviour/person_detector.py,
# tvau_ros/train/person_detector.py, `tvau train detector`); this probe only labels with the oracle tables
# and writes track tables for track_probe.py.


def network_input(frames: np.ndarray, t: np.ndarray) -> torch.Tensor:
    """``(n, 4, H, W)`` input of frames ``t`` of a video's RGB ``frames`` (the first frames use frame 0)."""
    return product.network_input(frames[t], frames[np.maximum(t - MOTION_GAP, 0)])


def decode(out: torch.Tensor, threshold: float) -> list[np.ndarray]:
    """Per image, the ``(n, 4)`` boxes (x, y, w, h) at the heatmap's peaks above ``threshold``."""
    return [boxes for boxes, _ in product.decode(out, threshold)]


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
    """The package's training loop (Adam, cosine learning rate from 2e-3, horizontal flips)."""
    cfg = DetectorTrainConfig(epochs, batch=batch, width=width, seed=seed)
    return train_network(inputs, boxes, cfg, device).to(device)


def detect_video(net: PersonDetector, threshold: float, frames: np.ndarray, batch: int = 32) -> list[np.ndarray]:
    """Boxes of every frame of a video, for ``track_probe.video_tracks``."""
    result, device = [], next(net.parameters()).device
    for start in range(0, len(frames), batch):
        t = np.arange(start, min(start + batch, len(frames)))
        result += decode(net(network_input(frames, t).to(device)).cpu(), threshold)
    return result


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
