"""Quick validation probe of an AHD checkpoint on a training feature cache (seconds, no encoder).

Scores the second frame t of every cached (t-k, t) validation pair: frame AUC of the heatmap
maximum on the patch grid against the frame labels, and cell AUC of every patch cell against
the cell targets (a cell is abnormal when >= 5 % of it is). On abnormal frames it also compares
the highest probability on the target's cells with the highest one elsewhere in the frame
(``target_above_other``: how often the target wins). Far fewer frames than
``tvau eval ahd`` (12 per video) and no upsampling, so use it to compare heads trained on the
same cache, not as the reported metric.

    python -m research.cached_pairs_auc outputs/ahd_168x224/fine_tuned/ahd.safetensors \\
        cache/features/dinov2_pretrained_168x224_p12
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from tvau_ros.core.checkpoint import load_ahd_checkpoint
from tvau_ros.core.prompts import ABNORMAL
from tvau_ros.train.features import FeatureCache


@torch.no_grad()
def cell_probs(head, tokens: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """Abnormal probability (eq. 7-8, no upsampling) of cached pairs ``(N, L, 2, H', W', D)`` ->
    ``(N, 2, H', W')``, in batches."""
    return torch.cat([torch.softmax(head.logit_scale * head.class_maps(tokens[i:i + batch].float(), motion_stride=1),
                                    -3).select(-3, ABNORMAL) for i in range(0, tokens.shape[0], batch)])


@torch.no_grad()
def cached_pairs_auc(checkpoint: str, cache_dir: str, split: str = "validation", cell_fraction: float = 0.05) -> dict:
    head = load_ahd_checkpoint(checkpoint).build_head()
    cache = FeatureCache(cache_dir)
    entries = cache.videos(split)
    if not entries:
        raise ValueError(f"{cache_dir}: no {split} videos in the cache")
    tokens, targets = cache.load(entries)
    labels = np.concatenate([np.load(cache.root / e["file"])["labels"] for e in entries])[:, 1]
    return score_summary(cell_probs(head, tokens)[:, 1], targets, labels, cell_fraction)


def score_summary(probs: torch.Tensor, targets: torch.Tensor, labels: np.ndarray, cell_fraction: float = 0.05) -> dict:
    """Frame AUC of the highest cell, cell AUC and how often the target's highest cell beats the
    rest of its frame, from cell scores ``(N, H', W')`` of the pairs' second frames, their cell
    coverage ``(N, 2, H', W')`` and frame labels ``(N,)``."""
    frame_scores = probs.flatten(1).max(1).values.numpy()
    on_target = targets[:, 1] >= cell_fraction
    cells = on_target.flatten().numpy()
    with_target = torch.from_numpy(labels == 1) & on_target.flatten(1).any(1)
    target_max = probs.masked_fill(~on_target, -1).flatten(1).max(1).values[with_target].numpy()
    other_max = probs.masked_fill(on_target, -1).flatten(1).max(1).values[with_target].numpy()
    return {"frames": int(labels.size), "frame_auc": 100 * roc_auc_score(labels, frame_scores),
            "cell_auc": 100 * roc_auc_score(cells, probs.flatten().numpy()),
            "normal_frame_max_median": float(np.median(frame_scores[labels == 0])),
            "abnormal_frame_max_median": float(np.median(frame_scores[labels == 1])),
            "target_max_median": float(np.median(target_max)), "other_max_median": float(np.median(other_max)),
            "target_above_other": float(np.mean(target_max > other_max))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("cache", help="feature cache folder (tvau train ahd --cache-only builds one)")
    parser.add_argument("--split", default="validation")
    args = parser.parse_args()
    result = cached_pairs_auc(args.checkpoint, args.cache, args.split)
    print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
