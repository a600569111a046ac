"""Token kNN probe: does a one-class model on the frozen tokens (PatchCore-style, as anomalib's
PatchCore) find what the trained AHD head misses?

No head and no abnormal example: every patch cell of a cached (t - k, t) pair is described by
the DINOv2-S tokens of the chosen layers at t (L2-normalised: appearance) and their change from
t - k (scaled by the token's norm: motion), optionally plus its grid position. A cell's score is
its mean distance to the ``--neighbours`` nearest cells of a random ``--bank`` of cells of
**normal** training frames (with ``--per-scene``, of the same scene's normal frames where it has
at least ``--min-scene-frames``). The frame score is its highest cell. It reports the same
numbers as ``cached_pairs_auc.py`` on the same validation pairs (frame AUC, cell AUC, how often
the target's highest cell beats the rest of its frame), so the rows compare with the shipped
head's (frame AUC 55.1 there).

    python -m research.token_knn_probe cache/features/dinov2_pretrained_168x224_p12 \\
        [--layers 8,12] [--parts appearance,motion] [--position 0] [--per-scene] [--bank 60000] [--neighbours 3]

About 2 to 9 minutes on 2 cores per setting, depending on the layers and parts.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch
from research.cached_pairs_auc import score_summary
from research.track_probe import distance_scorer

from tvau_ros.data.ubnormal import scene_of
from tvau_ros.train.features import FeatureCache

PARTS = ("appearance", "motion")


def cell_features(tokens: torch.Tensor, layers: list[int], parts: list[str], position: float = 0.0) -> torch.Tensor:
    """Cached pairs ``(N, L, 2, H', W', D)`` -> cell descriptors ``(N, H', W', F)``: per chosen
    layer index, the L2-normalised token at t and/or its change since t - k over the token's norm;
    each part weighs the same, and ``position`` > 0 appends the cell's (row, column) in [0, 1]
    times that weight.

    >>> tokens = torch.zeros(1, 2, 2, 2, 3, 4); tokens[..., 0] = 1.0
    >>> tuple(cell_features(tokens, [0, 1], ["appearance", "motion"], position=1.0).shape)
    (1, 2, 3, 18)
    """
    out = []
    for layer in layers:
        now, before = tokens[:, layer, 1].float(), tokens[:, layer, 0].float()
        if "appearance" in parts:
            out.append(torch.nn.functional.normalize(now, dim=-1))
        if "motion" in parts:
            out.append((now - before) / (now.norm(dim=-1, keepdim=True) + 1e-6))
    features = torch.cat(out, -1) / np.sqrt(len(out))
    if position > 0:
        rows, cols = features.shape[1:3]
        grid = torch.stack(torch.meshgrid(torch.linspace(0, 1, rows), torch.linspace(0, 1, cols), indexing="ij"), -1)
        features = torch.cat([features, position * grid.expand(features.shape[0], rows, cols, 2)], -1)
    return features


def _pairs(cache: FeatureCache, split: str) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    """Tokens, cell coverage, second-frame labels and scene name of every cached pair of a split."""
    entries = cache.videos(split)
    if not entries:
        raise ValueError(f"{cache.root}: no {split} videos in the cache")
    tokens, targets = cache.load(entries)
    per_video = [np.load(cache.root / e["file"])["labels"][:, 1] for e in entries]
    labels = np.concatenate(per_video)
    scenes = np.concatenate([[scene_of(e["name"])] * len(v) for e, v in zip(entries, per_video, strict=True)])
    return tokens, targets, labels, scenes


def token_knn_probe(cache: FeatureCache, layers: list[int], parts: list[str], position: float = 0.0,
                    per_scene: bool = False, bank: int = 60000, neighbours: int = 3,
                    min_scene_frames: int = 5, seed: int = 0) -> dict:
    """``score_summary`` of the one-class cell scores on the cache's validation pairs."""
    rng = np.random.default_rng(seed)
    train_tokens, _, train_labels, train_scenes = _pairs(cache, "train")
    tokens, targets, labels, scenes = _pairs(cache, "validation")
    train = cell_features(train_tokens, layers, parts, position)
    queries = cell_features(tokens, layers, parts, position)
    width = train.shape[-1]

    def scorer(rows: np.ndarray):
        cells = train[torch.from_numpy(rows)].reshape(-1, width)
        return distance_scorer(cells[torch.from_numpy(rng.permutation(len(cells))[:bank])].numpy(), neighbours)

    normal = train_labels == 0
    global_score = scorer(normal)
    scores = torch.zeros(queries.shape[:3])
    for scene in np.unique(scenes) if per_scene else [None]:
        own = normal & (train_scenes == scene)
        score = scorer(own) if scene is not None and own.sum() >= min_scene_frames else global_score
        chosen = np.ones(len(scenes), bool) if scene is None else scenes == scene
        scores[torch.from_numpy(chosen)] = torch.from_numpy(
            score(queries[torch.from_numpy(chosen)].reshape(-1, width).numpy())).float().reshape(
                -1, *queries.shape[1:3])
    return score_summary(scores, targets, labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cache", help="feature cache folder built by `tvau train ahd` (train and validation pairs)")
    parser.add_argument("--layers", default="8,12", help="encoder blocks (1-based, among the cached ones)")
    parser.add_argument("--parts", default="appearance,motion", help=f"comma-separated, among {', '.join(PARTS)}")
    parser.add_argument("--position", type=float, default=0.0, help="weight of the cell's grid position (0: none)")
    parser.add_argument("--per-scene", action="store_true",
                        help="a bank per scene (the global one where a scene has too few normal pairs)")
    parser.add_argument("--min-scene-frames", type=int, default=5, help="normal pairs a scene needs for its own bank")
    parser.add_argument("--bank", type=int, default=60000, help="normal cells kept in a bank (random subset)")
    parser.add_argument("--neighbours", type=int, default=3, help="k of the kNN distance")
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()
    try:
        cache = FeatureCache(args.cache)
    except FileNotFoundError as exc:
        sys.exit(f"token_knn_probe: {exc}")
    if cache.index.get("dims", {}).get("temporal_patch", 1) > 1:
        sys.exit(f"token_knn_probe: {args.cache} holds one temporal patch per pair (Qwen2.5-VL); "
                 "it needs a frame-wise cache")
    cached = list(cache.index.get("settings", {}).get("encoder", {}).get("layers") or [])
    try:
        blocks = [int(x) for x in args.layers.split(",")]
    except ValueError:
        sys.exit(f"token_knn_probe: --layers must be comma-separated block numbers, got {args.layers!r}")
    missing = [b for b in blocks if b not in cached]
    if missing:
        sys.exit(f"token_knn_probe: --layers {missing[0]} is not in the cache (cached blocks: {cached})")
    parts = args.parts.split(",")
    if not parts or any(p not in PARTS for p in parts):
        sys.exit(f"token_knn_probe: --parts {args.parts!r}: choose among {', '.join(PARTS)}")
    if args.bank < 1 or args.neighbours < 1 or args.min_scene_frames < 1 or args.position < 0:
        sys.exit(f"token_knn_probe: --bank, --neighbours and --min-scene-frames must be >= 1 and --position >= 0, "
                 f"got {args.bank}, {args.neighbours}, {args.min_scene_frames} and {args.position}")
    try:
        result = token_knn_probe(cache, [cached.index(b) for b in blocks], parts, args.position, args.per_scene,
                                 args.bank, args.neighbours, args.min_scene_frames)
    except ValueError as exc:
        sys.exit(f"token_knn_probe: {exc}")
    print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"layers": blocks, "parts": parts, "position": args.position, "per_scene": args.per_scene,
                       "bank": args.bank, "neighbours": args.neighbours, **result}, fh, indent=1)


if __name__ == "__main__":
    main()
