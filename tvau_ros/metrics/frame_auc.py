"""Frame-level ROC AUC, micro (all frames pooled) and macro (mean of per-video AUCs).

Macro AUC follows the UBnormal convention: each video's labels and scores are padded with
one frame (label 0, score 0) and one frame (label 1, score 1) before its AUC is computed,
so videos with a single class (all normal or all abnormal) still have a defined AUC.
That padding assumes scores in [0, 1]; ``macro_auc`` refuses scores outside it.

>>> v1 = FrameScores("v1", np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]))
>>> v2 = FrameScores("v2", np.array([0, 0]), np.array([0.2, 0.4]))   # single class
>>> micro_auc([v1, v2]), macro_auc([v1, v2])
(100.0, 100.0)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FrameScores:
    """Ground-truth frame labels (1 = abnormal) and predicted anomaly scores of one video."""

    video: str
    labels: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels)
        scores = np.asarray(self.scores, dtype=np.float64)
        if labels.ndim != 1 or scores.ndim != 1:
            raise ValueError(f"video {self.video!r}: labels and scores must be 1-D")
        if labels.shape != scores.shape:
            raise ValueError(f"video {self.video!r}: {labels.size} labels but {scores.size} scores")
        if labels.size == 0:
            raise ValueError(f"video {self.video!r}: no frames")
        if not np.isin(labels, (0, 1)).all():
            raise ValueError(f"video {self.video!r}: labels must be 0 or 1")
        bad = np.flatnonzero(~np.isfinite(scores))
        if bad.size:
            raise ValueError(f"video {self.video!r}: score of frame {bad[0]} is {scores[bad[0]]}")
        object.__setattr__(self, "labels", labels.astype(np.uint8))
        object.__setattr__(self, "scores", scores)


def _roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def micro_auc(videos: Sequence[FrameScores]) -> float:
    """ROC AUC (percent) over all frames of all videos concatenated."""
    if not videos:
        raise ValueError("micro AUC: no videos")
    labels = np.concatenate([v.labels for v in videos])
    if labels.min() == labels.max():
        raise ValueError(f"micro AUC is undefined: every frame has label {int(labels[0])}")
    return 100.0 * _roc_auc(labels, np.concatenate([v.scores for v in videos]))


def per_video_auc(video: FrameScores) -> float:
    """ROC AUC (percent) of one video after the UBnormal (0, 0) / (1, 1) padding."""
    scores = video.scores
    if scores.min() < 0.0 or scores.max() > 1.0:
        raise ValueError(
            f"video {video.video!r}: macro AUC pads with scores 0 and 1, so scores must lie in "
            f"[0, 1]; got [{scores.min():g}, {scores.max():g}]"
        )
    labels = np.concatenate(([0], video.labels, [1]))
    return 100.0 * _roc_auc(labels, np.concatenate(([0.0], scores, [1.0])))


def macro_auc(videos: Sequence[FrameScores]) -> float:
    """Mean over videos of the padded per-video ROC AUC (percent)."""
    if not videos:
        raise ValueError("macro AUC: no videos")
    return float(np.mean([per_video_auc(v) for v in videos]))
