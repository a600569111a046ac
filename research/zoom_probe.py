"""Zoom probe: do the frozen tokens carry the behaviour when the people are enlarged?

At 168x224 a person of the default benchmark is narrower than one 14-pixel patch. This probe
crops square boxes around moving-foreground candidates (background = median of the previous
30 frames; the same box in t-1 and t) and encodes each crop at ``--crop`` pixels (112: 8x8
tokens of about 6 source pixels, against about 20 at 168x224), for the frames of an existing
feature cache. Then, as ``in_type_probe.py`` does, it halves the split's videos by name, trains
the AHD head on the crops of one half (same config, same trainer: the crop cache has the
feature-cache layout) and scores frames of both halves: frame score = highest abnormal
probability over the frame's crops, 0 for a frame without candidates. A logistic regression on
pooled crop tokens (layer-wise mean, max, and mean absolute t-1 -> t change) is scored the same
way: a check of what the crop tokens carry, not a model. ``--history 4,8`` adds the same boxes
4 and 8 frames earlier to the linear probe (their change to frame t): does a longer view help?
``--follow`` moves those earlier boxes with the person (nearest foreground component, frame by
frame) instead of keeping them in place.

    python -m research.zoom_probe cache/features/dinov2_pretrained_168x224_p12 \\
        --dataset data/default --split train --out outputs/zoom_probe [--crop 112] [--history 4,8 [--follow]] \\
        [--set KEY=VALUE]

The crop cache is resumable (``OUT/crops``, one file per video).
"""
from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path

import cv2
import numpy as np
import torch
from research.cached_pairs_auc import cell_probs
from research.in_type_probe import split_in_halves, train_probe_head
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from tvau_ros.cli.train_cmd import parse_setting
from tvau_ros.core.checkpoint import load_ahd_checkpoint
from tvau_ros.core.clip import preprocess_clip
from tvau_ros.train.features import FeatureCache

MAX_CROPS, MIN_SIDE, TILE, HISTORY = 16, 40, 64, 30


def grey_frames(frames: np.ndarray) -> np.ndarray:
    """Blurred grey levels ``(T, H, W)`` int16 of RGB frames ``(T, H, W, 3)``."""
    return np.stack([cv2.GaussianBlur(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (5, 5), 0) for f in frames]).astype(np.int16)


def foreground_components(frames: np.ndarray, t: int, threshold: int = 18) -> list[list[int]]:
    """``[x, y, w, h, area]`` of the foreground components of frame ``t`` (at least 15 px),
    largest first; the background is the median of every third of the previous 30 frames.
    ``frames``: RGB ``(T, H, W, 3)``, or their ``grey_frames`` (faster over many frames)."""
    grey = (lambda f: f) if frames.ndim == 3 else grey_frames
    background = np.median(grey(frames[max(0, t - HISTORY):t + 1:3]), 0)
    fg = (np.abs(grey(frames[t:t + 1])[0] - background) > threshold).astype(np.uint8)
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    _, _, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    return [s for s in sorted(stats[1:].tolist(), key=lambda s: -s[4]) if s[4] >= 15]


def _square(cx: float, cy: float, side: int, h: int, w: int) -> tuple[int, int, int]:
    return int(np.clip(round(cx - side / 2), 0, w - side)), int(np.clip(round(cy - side / 2), 0, h - side)), side


def candidate_boxes(frames: np.ndarray, t: int) -> list[tuple[int, int, int]]:
    """Square boxes ``(x0, y0, side)`` around the foreground components of frame ``t`` (largest
    first, at most 16): side 1.4x the component, at least 40 px; components longer than 64 px
    (crowds, lighting changes) are tiled with 64 px squares.

    >>> clip = np.full((12, 120, 160, 3), 90, np.uint8)
    >>> for k in range(12): clip[k, 50:70, 10 + 8 * k:18 + 8 * k] = 230
    >>> [(x0 <= 98 and x0 + s >= 106 and y0 <= 50 and y0 + s >= 70) for x0, y0, s in candidate_boxes(clip, 11)]
    [True]
    """
    h, w = frames.shape[1:3]
    centres = []
    for x, y, bw, bh, _ in foreground_components(frames, t):
        if max(bw, bh) <= TILE:
            centres.append((x + bw / 2, y + bh / 2, int(min(max(MIN_SIDE, 1.4 * max(bw, bh)), h, w))))
            continue
        step = TILE * 3 // 4
        centres += [(tx + TILE / 2, ty + TILE / 2, TILE) for ty in range(y, max(y + bh - TILE, y) + 1, step)
                    for tx in range(x, max(x + bw - TILE, x) + 1, step)]
    return [_square(cx, cy, s, h, w) for cx, cy, s in centres[:MAX_CROPS]]


def follow_box(components, box: tuple[int, int, int], t: int, k: int, h: int, w: int) -> tuple[int, int, int]:
    """The box moved back frame by frame from ``t`` to ``t - k``: each step it re-centres on the
    nearest person-sized foreground component (``components(f)``) within half its side, and stays
    put when there is none.

    >>> comps = {9: [[52, 20, 8, 20, 160]], 8: [[44, 20, 8, 20, 160]]}
    >>> follow_box(lambda f: comps.get(f, []), (40, 10, 40), 10, 2, 120, 160)
    (28, 10, 40)
    """
    x0, y0, side = box
    cx, cy = x0 + side / 2, y0 + side / 2
    for f in range(t - 1, max(t - k, 0) - 1, -1):
        near = [(x + bw / 2, y + bh / 2) for x, y, bw, bh, _ in components(f) if max(bw, bh) <= TILE]
        near = [(px, py) for px, py in near if max(abs(px - cx), abs(py - cy)) <= side / 2]
        if near:
            cx, cy = min(near, key=lambda p: (p[0] - cx) ** 2 + (p[1] - cy) ** 2)
    return _square(cx, cy, side, h, w)


def frame_max(crop_scores: np.ndarray, owner: np.ndarray, num_frames: int) -> np.ndarray:
    """Per-frame maximum of its crops' scores; 0 for a frame without crops.

    >>> frame_max(np.array([0.2, 0.9, 0.4]), np.array([0, 0, 2]), 3).tolist()
    [0.9, 0.0, 0.4]
    """
    out = np.zeros(num_frames, np.float64)
    np.maximum.at(out, owner, crop_scores)
    return out


def build_crop_cache(source: Path, dataset: str, split: str, out: Path, crop: int,
                     history: tuple[int, ...] = (), follow: bool = False) -> FeatureCache:
    """Encode the crops of every cached frame pair of ``split`` into a feature-cache layout; each
    video file also keeps ``owner`` (the crop's frame), the frame labels and, per frame, whether
    its crops hold at least half of the target's pixels (``covered``; proposal recall). With
    ``history`` (frame offsets k), the same boxes in frames t-k are encoded too and kept pooled
    (``history``: per offset and layer, the mean token and the mean absolute change to frame t);
    a cache built without them gets them added. With ``follow`` the earlier boxes follow the
    person (``follow_box``) and are kept as ``history_follow``."""
    from tvau_ros.core.backbones import build_backbone
    from tvau_ros.data import load_dataset

    index = json.loads((source / "index.json").read_text())
    settings = index["settings"]["encoder"]
    backbone = build_backbone(settings["backbone"], settings["layers"])
    videos = {v.name: v for v in load_dataset(dataset, split)}
    grid = crop // index["dims"]["patch_size"]
    entries = []
    for entry in sorted((v for v in index["videos"] if v["split"] == split), key=lambda v: v["name"]):
        video, file = videos[entry["name"]], out / split / f"{entry['name']}.npz"
        with np.load(source / entry["file"]) as data:
            ends, labels = data["frames"], data["labels"]
        if not file.is_file():
            pixels = video.read_frames(0, int(ends.max()) + 1)
            pairs, targets, owner, boxes = [], [], [], []
            covered = np.zeros((len(ends), 2), bool)  # (has a target, crops hold >= half of it)
            for i, t in enumerate(int(t) for t in ends):
                masks = [(video.read_mask(f) > 0).astype(np.float32) if labels[i, k] else None
                         for k, f in enumerate((t - 1, t))]
                inside = 0.0
                for x0, y0, s in candidate_boxes(pixels, t):
                    window = (slice(y0, y0 + s), slice(x0, x0 + s))
                    pairs.append(np.stack([cv2.resize(pixels[f][window], (crop, crop)) for f in (t - 1, t)]))
                    targets.append([np.zeros((grid, grid), np.float32) if m is None else
                                    cv2.resize(m[window], (grid, grid), interpolation=cv2.INTER_AREA) for m in masks])
                    owner.append(i)
                    boxes.append((x0, y0, s))
                    if masks[1] is not None:
                        inside = max(inside, float(masks[1][window].sum()))
                if masks[1] is not None and masks[1].sum() > 0:
                    covered[i] = True, inside >= 0.5 * masks[1].sum()
            tokens = np.zeros((0, len(settings["layers"]), 2, grid, grid, index["dims"]["visual_dim"]), np.float16)
            if pairs:
                encoded = encode_crops(backbone, np.concatenate(pairs))
                tokens = encoded.reshape(encoded.shape[0], len(pairs), 2, grid, grid, -1).movedim(1, 0)
                tokens = tokens.numpy().astype(np.float16)
            owner = np.asarray(owner, np.int64)
            file.parent.mkdir(parents=True, exist_ok=True)
            np.savez(file, tokens=tokens, targets=np.asarray(targets, np.float16).reshape(-1, 2, grid, grid),
                     owner=owner, boxes=np.asarray(boxes, np.int64).reshape(-1, 3), frame_labels=labels,
                     labels=labels[owner], covered=covered)
        with np.load(file) as data:
            crops = len(data["owner"])
            key = history_key(follow)
            missing = history and (key not in data.files or data[key].shape[1] != len(history))
            stored = {k: data[k] for k in data.files} if missing else None
        if missing:
            stored[key] = _encode_history(backbone, video, ends, stored, history, crop, follow)
            np.savez(file, **stored)
        entries.append(dict(entry, file=f"{split}/{file.name}", pairs=crops))
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.json").write_text(json.dumps(dict(index, grid=[grid, grid], videos=entries)))
    return FeatureCache(out)


@torch.no_grad()
def encode_crops(backbone, crops: np.ndarray, batch: int = 128) -> torch.Tensor:
    """uint8 RGB crops ``(N, c, c, 3)`` -> the backbone's layer tokens ``(L, N, g, g, D)``."""
    clip = preprocess_clip(crops, crops.shape[1:3], backbone.pixel_mean, backbone.pixel_std)
    return torch.cat([backbone.encode(torch.from_numpy(clip[s:s + batch])) for s in range(0, len(clip), batch)], 1)


def history_key(follow: bool) -> str:
    return "history_follow" if follow else "history"


def _encode_history(backbone, video, ends: np.ndarray, stored: dict, history: tuple[int, ...], crop: int,
                    follow: bool) -> np.ndarray:
    """``(N, len(history), 2, L, D)`` float16: for each crop and offset k, the cell-mean token of
    frame t-k (clamped at frame 0) and its cell-mean absolute change to frame t; the box at t-k is
    the crop's own box, or with ``follow`` the box that followed the person back to t-k."""
    pixels = video.read_frames(0, int(ends.max()) + 1)
    h, w = pixels.shape[1:3]
    components = functools.lru_cache(maxsize=None)(lambda f: foreground_components(pixels, f))
    current = torch.from_numpy(stored["tokens"][:, :, 1].astype(np.float32))  # (N, L, g, g, D)
    out = np.zeros((len(stored["boxes"]), len(history), 2, *current.shape[1:2], current.shape[-1]), np.float16)
    for j, k in enumerate(history):
        images = []
        for box, i in zip(stored["boxes"].tolist(), stored["owner"], strict=True):
            t = int(ends[i])
            x0, y0, s = follow_box(components, tuple(box), t, k, h, w) if follow else box
            images.append(cv2.resize(pixels[max(t - k, 0), y0:y0 + s, x0:x0 + s], (crop, crop)))
        if not images:
            continue
        past = encode_crops(backbone, np.stack(images)).movedim(1, 0).float()  # (N, L, g, g, D)
        out[:, j, 0] = past.mean((2, 3)).numpy()
        out[:, j, 1] = (current - past).abs().mean((2, 3)).numpy()
    return out


def _load(cache: FeatureCache, entry: dict, keys: tuple[str, ...] = ()) -> dict:
    with np.load(cache.root / entry["file"]) as data:
        return {k: data[k] for k in keys or data.files}


@torch.no_grad()
def head_frame_scores(checkpoint: Path, cache: FeatureCache, half: str) -> tuple[np.ndarray, np.ndarray]:
    head = load_ahd_checkpoint(checkpoint).build_head()
    scores, labels = [], []
    for entry in cache.videos(half):
        data = _load(cache, entry)
        crop_scores = np.zeros(0)
        if len(data["tokens"]):
            crop_scores = cell_probs(head, torch.from_numpy(data["tokens"]))[:, 1].flatten(1).max(1).values.numpy()
        scores.append(frame_max(crop_scores, data["owner"], len(data["frame_labels"])))
        labels.append(data["frame_labels"][:, 1])
    return np.concatenate(scores), np.concatenate(labels)


def pooled_features(tokens: np.ndarray, history: np.ndarray | None = None) -> np.ndarray:
    """``(N, L, 2, g, g, D)`` -> ``(N, 3 L D)``: per layer the mean and max of frame t's tokens and
    the mean absolute change from t-1; with ``history`` ``(N, K, 2, L, D)`` its change part is
    appended (``(N, (3 + K) L D)``)."""
    tokens = tokens.astype(np.float32)
    cur, prev = tokens[:, :, 1], tokens[:, :, 0]
    parts = [cur.mean((2, 3)), cur.max((2, 3)), np.abs(cur - prev).mean((2, 3))]
    if history is not None:
        parts.append(history[:, :, 1].astype(np.float32))
    return np.concatenate([p.reshape(len(tokens), int(np.prod(p.shape[1:]))) for p in parts], 1)


def linear_probe(cache: FeatureCache, c: float = 1e-3, history: str | None = None) -> dict:
    """Logistic regression on pooled crops of the training half (a crop is positive when some
    cell is at least 30 % target); crop and frame AUC on both halves."""
    videos = {}
    for half in ("train", "validation"):
        videos[half] = []
        for entry in cache.videos(half):
            d = _load(cache, entry)
            x = pooled_features(d["tokens"], d[history] if history else None)
            y = d["targets"][:, 1].max((1, 2), initial=0) >= 0.3
            videos[half].append((x, y.astype(int), d["owner"], d["frame_labels"][:, 1]))
    x = np.concatenate([v[0] for v in videos["train"]])
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(x),
                                                       np.concatenate([v[1] for v in videos["train"]]))
    result = {}
    for half in ("validation", "train"):
        crop_scores = [model.predict_proba(scaler.transform(x))[:, 1] if len(x) else np.zeros(0)
                       for x, _, _, _ in videos[half]]
        frame_scores = [frame_max(s, owner, len(labels))
                        for s, (_, _, owner, labels) in zip(crop_scores, videos[half], strict=True)]
        result[half] = {
            "crop_auc": 100 * roc_auc_score(np.concatenate([v[1] for v in videos[half]]), np.concatenate(crop_scores)),
            "frame_auc": 100 * roc_auc_score(np.concatenate([v[3] for v in videos[half]]),
                                             np.concatenate(frame_scores))}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cache", help="feature cache whose frames are probed (built by `tvau train ahd`)")
    parser.add_argument("--dataset", default="data/default", help="the dataset the cache was built from")
    parser.add_argument("--split", default="train", help="the split whose videos are halved (default: train)")
    parser.add_argument("--crop", type=int, default=112,
                        help="crop side in model pixels, a multiple of 14 (default: 112)")
    parser.add_argument("--history", default="", metavar="K,K,...",
                        help="also encode the same boxes k frames earlier and add their change to frame t to the "
                             "linear probe, e.g. 4,8 (default: none)")
    parser.add_argument("--follow", action="store_true",
                        help="with --history: the earlier boxes follow the person instead of staying put")
    parser.add_argument("--config", default="training/configs/ahd_fine_tuned.yaml", help="training config")
    parser.add_argument("--out", default="outputs/zoom_probe", help="output folder (crop cache, halves, head)")
    parser.add_argument("--set", type=parse_setting, action="append", default=[], metavar="KEY=VALUE",
                        help="override a training setting, e.g. frame_weight=1 (repeatable)")
    args = parser.parse_args()
    if args.crop < 14 or args.crop % 14:
        raise SystemExit(f"--crop must be a positive multiple of 14, got {args.crop}")
    try:
        history = tuple(int(k) for k in args.history.split(",") if k.strip())
    except ValueError:
        raise SystemExit(f"--history must be comma-separated frame offsets, got {args.history!r}") from None
    if any(k < 1 for k in history):
        raise SystemExit(f"--history offsets must be >= 1, got {args.history!r}")
    if not (Path(args.cache) / "index.json").is_file():
        raise SystemExit(f"{args.cache}: not a feature cache (no index.json); "
                         "build one with `tvau train ahd --cache-only`")
    out = Path(args.out)
    crops = build_crop_cache(Path(args.cache), args.dataset, args.split, out / "crops", args.crop, history, args.follow)
    covered = np.concatenate([_load(crops, e, ("covered",))["covered"] for e in crops.videos(args.split)])
    halves = split_in_halves(crops.root, args.split, out / "halves")
    checkpoint = train_probe_head(args.config, args.set, halves, out / "head")
    print(f"zoom probe on {args.split} videos, {args.crop}x{args.crop} crops: "
          f"{sum(e['pairs'] for e in crops.videos(args.split))} crops, proposal recall "
          f"{100 * covered[:, 1].sum() / max(covered[:, 0].sum(), 1):.1f} % "
          f"of {int(covered[:, 0].sum())} abnormal frames")
    for half, name in (("validation", "held-out half"), ("train", "training half")):
        scores, labels = head_frame_scores(checkpoint, halves, half)
        print(f"  AHD head, {name}: frame_auc={100 * roc_auc_score(labels, scores):.1f}")
    for key in (None, history_key(args.follow)) if history else (None,):
        label = "linear probe"
        if key:
            label += f" with t-{', t-'.join(map(str, history))}{' (boxes follow the person)' if args.follow else ''}"
        for half, result in linear_probe(halves, history=key).items():
            name = "held-out half" if half == "validation" else "training half"
            print(f"  {label}, {name}: crop_auc={result['crop_auc']:.1f} frame_auc={result['frame_auc']:.1f}")


if __name__ == "__main__":
    main()
