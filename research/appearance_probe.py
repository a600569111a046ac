"""Appearance probe: does a one-class model of what normal boxes look like catch what kinematics miss?

The track probe's kinematics separate fast, large or erratic movers but not the unseen types
that are mostly a *shape*: a bicycle, a car on the walkway, a crawler, a carried object. This
probe crops every scored box of a track table (``track_probe.py``'s cache layout: learnt,
foreground or perfect tracks), encodes the crop with the frozen DINOv2-S (square crop around
the box, ``--crop`` pixels; per layer the mean token, L2-normalised, concatenated) and scores
it by its mean distance to the ``--neighbours`` nearest crops of a bank of boxes from
**normal** training frames (PatchCore-style, no abnormal example). The track probe's
kinematic kNN is scored on the same rows, and the two are fused after standardising each
with its scores on held-out normal training boxes (sum and maximum of the two z-scores).
Evaluation is ``track_probe.evaluate_split``: the frames and metrics code of ``tvau eval ahd``;
only boxes in the evaluated frames are encoded, so the box AUC counts those.

    python -m research.appearance_probe --tracks outputs/track_probe_learnt [--crop 56] [--bank 6000]

Embeddings are cached per split in ``TRACKS/appearance_CROP_layersL/SPLIT.npz``; the summary goes to
``TRACKS/appearance_summary.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

from research.track_probe import (FEATURES, STRIDES, distance_scorer, evaluate_split, knn_scorer, person_gate,
                                  split_tables, track_features)

CONTEXT = 1.25  # crop side / the box's longer side: a little of the surroundings


def box_crops(frame: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Square crops ``(N, size, size, 3)`` centred on ``boxes`` (x, y, w, h) of one RGB frame,
    ``CONTEXT`` times the longer side (at least 8 px); the frame is edge-padded, so a box at the
    border gets a full crop.

    >>> frame = np.zeros((40, 60, 3), np.uint8); frame[10:20, 30:34] = 255
    >>> crop = box_crops(frame, np.array([[30, 10, 4, 10]]), 25)[0]
    >>> crop.shape, int(crop[12, 12, 0]), int(crop[0, 0, 0])
    ((25, 25, 3), 255, 0)
    """
    pad = int(max(8, CONTEXT * boxes[:, 2:].max())) if len(boxes) else 0
    padded = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    out = np.zeros((len(boxes), size, size, 3), np.uint8)
    for i, (x, y, w, h) in enumerate(boxes):
        side = max(8, int(round(CONTEXT * max(w, h))))
        x0 = int(round(x + w / 2 - side / 2)) + pad
        y0 = int(round(y + h / 2 - side / 2)) + pad
        out[i] = cv2.resize(padded[y0:y0 + side, x0:x0 + side], (size, size), interpolation=cv2.INTER_LINEAR)
    return out


@torch.no_grad()
def embed_crops(backbone, crops: np.ndarray, batch: int = 256) -> np.ndarray:
    """Crops -> ``(N, L * D)`` float32: per layer the mean token over the crop, L2-normalised."""
    from tvau_ros.core.clip import preprocess_clip

    out = []
    for s in range(0, len(crops), batch):
        clip = preprocess_clip(crops[s:s + batch], crops.shape[1:3], backbone.pixel_mean, backbone.pixel_std)
        tokens = backbone.encode(torch.from_numpy(clip)).mean((2, 3))  # (L, n, D)
        tokens = torch.nn.functional.normalize(tokens, dim=-1)
        out.append(tokens.permute(1, 0, 2).reshape(tokens.shape[1], -1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def split_embeddings(backbone, videos, tables: dict, rows: dict[str, np.ndarray], crop: int,
                     cache: Path) -> dict[str, np.ndarray]:
    """Per video, the embeddings of its table rows ``rows[name]`` (indices), cached in ``cache``."""
    if cache.is_file():
        with np.load(cache) as data:
            if all(name in data and len(data[name]) == len(rows[name]) for name in rows):
                return {name: data[name] for name in rows}
    out, dim = {}, embed_crops(backbone, np.zeros((1, crop, crop, 3), np.uint8)).shape[1]
    for k, video in enumerate(videos):
        picked = rows[video.name]
        table = tables[video.name][picked]
        frames = video.read_frames() if len(picked) else None
        crops = [box_crops(frames[int(f)], table[table[:, 0] == f][:, 2:6], crop) for f in np.unique(table[:, 0])]
        order = (np.concatenate([np.flatnonzero(table[:, 0] == f) for f in np.unique(table[:, 0])])
                 if len(picked) else [])
        result = np.zeros((len(picked), dim), np.float32)
        if crops:
            result[order] = embed_crops(backbone, np.concatenate(crops))
        out[video.name] = result
        if (k + 1) % 10 == 0:
            print(f"  {cache.stem}: {k + 1}/{len(videos)} videos encoded", flush=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **out)
    return out


def main() -> None:
    from tvau_ros.core.backbones import build_backbone
    from tvau_ros.evaluation.ahd_benchmark import ClipSubsample

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="data/default/ubnormal", help="UBnormal-layout dataset root")
    parser.add_argument("--tracks", type=Path, default=Path("outputs/track_probe_learnt"),
                        help="a track_probe.py / learnt_tracks.py / oracle_tracks.py output with tracks/SPLIT/*.npz")
    parser.add_argument("--splits", default="validation,test", help="comma-separated evaluated splits")
    parser.add_argument("--crop", type=int, default=56, help="crop side in pixels (a multiple of 14)")
    parser.add_argument("--layers", default="8,12", help="DINOv2-S layers whose mean token describes a crop")
    parser.add_argument("--bank", type=int, default=6000, help="normal training boxes in the appearance bank")
    parser.add_argument("--neighbours", type=int, default=10, help="k of both kNN distances")
    parser.add_argument("--min-age", type=float, default=0.5, help="track_probe's person gate: track age (s)")
    parser.add_argument("--min-size-ratio", type=float, default=0.6, help="track_probe's person gate: height ratio")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    if args.crop < 14 or args.crop % 14:
        sys.exit(f"appearance_probe: --crop must be a positive multiple of 14, got {args.crop}")
    for name in ("bank", "neighbours", "threads"):
        if getattr(args, name) < 1:
            sys.exit(f"appearance_probe: --{name} must be >= 1, got {getattr(args, name)}")
    try:
        layers = [int(x) for x in args.layers.split(",")]
    except ValueError:
        sys.exit(f"appearance_probe: --layers must be comma-separated integers, got {args.layers!r}")
    splits = args.splits.split(",")
    unknown = [s for s in splits if s not in STRIDES or s == "train"]
    if unknown:
        sys.exit(f"appearance_probe: unknown split {unknown[0]!r} in --splits (validation, test)")
    if not (args.tracks / "tracks" / "train").is_dir():
        sys.exit(f"appearance_probe: --tracks {args.tracks} has no tracks/train "
                 "(run learnt_tracks.py or track_probe.py first)")
    torch.set_num_threads(args.threads)
    try:
        backbone = build_backbone("dinov2_minilm", layers)
    except ValueError as exc:
        sys.exit(f"appearance_probe: --layers {args.layers}: {exc}")
    gate = lambda f: person_gate(f, args.min_age, args.min_size_ratio)  # noqa: E731
    cache = args.tracks / f"appearance_{args.crop}_layers{'_'.join(map(str, layers))}"

    # the normal training boxes: a bank for the appearance kNN, a held-out part to standardise scores
    videos, tables = split_tables(args.dataset, "train", args.tracks, 1)
    features = {v.name: track_features(tables[v.name], v.fps) for v in videos}
    normal = {v.name: np.flatnonzero((np.asarray(v.frame_labels)[tables[v.name][:, 0].astype(int)] == 0)
                                     & gate(features[v.name])) for v in videos}
    rng = np.random.default_rng(0)
    pool = [(name, i) for name, idx in normal.items() for i in idx]
    chosen = rng.permutation(len(pool))[:args.bank + args.bank // 3]
    picked = {v.name: np.sort(np.asarray([pool[c][1] for c in chosen if pool[c][0] == v.name], int)) for v in videos}
    print(f"train: encoding {sum(map(len, picked.values()))} of {len(pool)} normal training boxes")
    embedded = split_embeddings(backbone, videos, tables, picked, args.crop,
                                cache / "train.npz")
    all_normal = np.concatenate([features[v.name][normal[v.name]] for v in videos])
    kinematic = knn_scorer(all_normal, args.neighbours)
    rows = np.concatenate([embedded[v.name] for v in videos])
    kin_rows = np.concatenate([features[v.name][picked[v.name]] for v in videos])
    order = rng.permutation(len(rows))
    bank, held = order[:args.bank], order[args.bank:]
    appearance = distance_scorer(rows[bank], args.neighbours)
    calibration = {"appearance": appearance(rows[held]), "kinematic": kinematic(kin_rows[held])}
    stats = {k: (float(v.mean()), float(v.std()) + 1e-6) for k, v in calibration.items()}
    print("held-out normal boxes: " + ", ".join(f"{k} score mean {m:.3f} std {s:.3f}" for k, (m, s) in stats.items()))

    def z(kind: str, x: np.ndarray) -> np.ndarray:
        return (x - stats[kind][0]) / stats[kind][1]

    summary = {"crop": args.crop, "layers": layers, "bank": int(len(bank)), "held_out": int(len(held)),
               "calibration": stats}
    width = len(FEATURES)

    def sigmoid(x):
        return np.where(np.isneginf(x), 0.0, 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50))))

    for split in splits:
        videos, tables = split_tables(args.dataset, split, args.tracks, 1)
        features = {v.name: track_features(tables[v.name], v.fps) for v in videos}
        in_frames = {v.name: np.isin(tables[v.name][:, 0].astype(int),
                                     ClipSubsample(v, 8, STRIDES[split]).source_frames)
                     for v in videos}
        evaluated = {v.name: np.flatnonzero(in_frames[v.name] & gate(features[v.name])) for v in videos}
        print(f"{split}: encoding {sum(map(len, evaluated.values()))} boxes of the evaluated frames")
        embedded = split_embeddings(backbone, videos, tables, evaluated, args.crop,
                                    cache / f"{split}.npz")
        extended = {}
        for v in videos:
            # columns: the kinematic features, then the appearance and kinematic z-scores of the
            # encoded rows; NaN outside the evaluated frames, and a gated-out row scores 0
            f = features[v.name]
            extra = np.where(in_frames[v.name][:, None], -np.inf, np.nan) * np.ones((1, 2))
            idx = evaluated[v.name]
            if len(idx):
                extra[idx, 0] = z("appearance", appearance(embedded[v.name]))
                extra[idx, 1] = z("kinematic", kinematic(f[idx]))
            extended[v.name] = np.concatenate([f, extra], 1)
        scorers = {"kinematic_knn": lambda f: sigmoid(f[:, width + 1]),
                   "appearance_knn": lambda f: sigmoid(f[:, width]),
                   "sum_of_z": lambda f: sigmoid(f[:, width] + f[:, width + 1]),
                   "max_of_z": lambda f: sigmoid(np.maximum(f[:, width], f[:, width + 1]))}
        result = evaluate_split(videos, tables, scorers, STRIDES[split], extended)
        summary[split] = result
        for name in scorers:
            print(f"  {name:15s} " + "  ".join(f"{k} {v:.1f}" for k, v in result[name].items()))
            print(f"  {'':15s} box AUC by type: " + ", ".join(
                f"{k} {v:.1f}" for k, v in result[name + "_box_auc_by_type"].items()))
    (args.tracks / "appearance_summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
