"""Prediction files read by ``tvau eval predictions`` (format: docs/metrics.md).

JSON Lines (``.jsonl``), one object per video::

    {"video": "abnormal_scene_3_scenario_2", "frame_scores": [0.1, 0.7, ...],
     "detections": [[frame, x_min, y_min, x_max, y_max, score], ...]}

NumPy archive (``.npz``), arrays named ``frame_scores/<video>`` (T,), ``detections/<video>``
(N, 6) and ``heatmaps/<video>`` (T, h, w). Every problem raises ``PredictionError`` whose
message starts with the file name.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tvau_ros.metrics.regions import Detection

KINDS = ("frame_scores", "detections", "heatmaps")
ROW_FORMAT = "[frame, x_min, y_min, x_max, y_max, score]"


class PredictionError(ValueError):
    """A prediction file is unreadable or inconsistent; the message names file and problem."""


@dataclass
class Predictions:
    """Per-video predictions; a video listed in ``detections`` with [] has no detections."""

    source: str
    frame_scores: dict[str, np.ndarray] = field(default_factory=dict)
    detections: dict[str, list[Detection]] = field(default_factory=dict)
    heatmaps: Mapping[str, np.ndarray] = field(default_factory=dict)

    def videos(self) -> set[str]:
        return set(self.frame_scores) | set(self.detections) | set(self.heatmaps)

    def fail(self, problem: str) -> PredictionError:
        return PredictionError(f"{self.source}: {problem}")


def _scores_array(values: Any, where: str) -> np.ndarray:
    try:
        scores = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise PredictionError(f"{where}: frame_scores must be a list of numbers") from None
    if scores.ndim != 1 or scores.size == 0:
        raise PredictionError(f"{where}: frame_scores must be a non-empty 1-D list, "
                              f"got shape {scores.shape}")
    bad = np.flatnonzero(~np.isfinite(scores))
    if bad.size:
        raise PredictionError(f"{where}: frame_scores[{bad[0]}] is {scores[bad[0]]} "
                              f"({bad.size} non-finite scores)")
    return scores


def _detections(video: str, rows: Any, where: str) -> list[Detection]:
    try:
        table = np.asarray(rows, dtype=np.float64).reshape(-1, 6) if len(rows) else np.zeros((0, 6))
    except (TypeError, ValueError):
        raise PredictionError(f"{where}: detections must be numeric rows {ROW_FORMAT}") from None
    detections = []
    for i, (frame, x0, y0, x1, y1, score) in enumerate(table):
        if not all(math.isfinite(v) for v in (frame, x0, y0, x1, y1, score)):
            raise PredictionError(f"{where}: detection {i} has a NaN or infinite value")
        if frame != int(frame) or frame < 0:
            raise PredictionError(f"{where}: detection {i} has frame {frame:g}, not a frame index")
        if x1 < x0 or y1 < y0:
            raise PredictionError(f"{where}: detection {i} has x_max < x_min or y_max < y_min")
        detections.append(Detection(video, int(frame), (x0, y0, x1, y1), float(score)))
    return detections


def _check_rows_shape(rows: Any, where: str) -> None:
    if not isinstance(rows, list) or any(not isinstance(r, list) or len(r) != 6 for r in rows):
        raise PredictionError(f"{where}: detections must be a list of 6-number rows {ROW_FORMAT}")


def load_jsonl(path: Path) -> Predictions:
    preds = Predictions(str(path))
    seen_any = False
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            where = f"{path}: line {lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PredictionError(f"{where}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict) or not isinstance(record.get("video"), str):
                raise PredictionError(f'{where}: expected an object with a string "video"')
            video = record["video"]
            unknown = set(record) - {"video", "frame_scores", "detections"}
            if unknown:
                raise PredictionError(f"{where}: unknown keys {sorted(unknown)}")
            if video in preds.videos():
                raise PredictionError(f"{where}: video {video!r} appears twice")
            if "frame_scores" not in record and "detections" not in record:
                raise PredictionError(f'{where}: video {video!r} has neither "frame_scores" nor "detections"')
            if "frame_scores" in record:
                preds.frame_scores[video] = _scores_array(record["frame_scores"], where)
            if "detections" in record:
                _check_rows_shape(record["detections"], where)
                preds.detections[video] = _detections(video, record["detections"], where)
            seen_any = True
    if not seen_any:
        raise PredictionError(f"{path}: empty prediction file (no records)")
    return preds


class _LazyHeatmaps(Mapping):
    """Heatmaps read from the archive one video at a time (they can be large)."""

    def __init__(self, archive: Any, keys: dict[str, str]):
        self._archive, self._keys = archive, keys

    def __getitem__(self, video: str) -> np.ndarray:
        return self._archive[self._keys[video]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def load_npz(path: Path) -> Predictions:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise PredictionError(f"{path}: not a readable .npz archive ({exc})") from None
    if not archive.files:
        raise PredictionError(f"{path}: empty prediction file (no arrays)")
    preds = Predictions(str(path))
    heatmap_keys: dict[str, str] = {}
    for key in archive.files:
        kind, sep, video = key.partition("/")
        where = f"{path}: array {key!r}"
        if not sep or kind not in KINDS or not video:
            raise PredictionError(f"{where}: names must be <kind>/<video> with kind in {KINDS}")
        if kind == "frame_scores":
            preds.frame_scores[video] = _scores_array(archive[key], where)
        elif kind == "detections":
            table = archive[key]
            if table.ndim != 2 or table.shape[1] != 6:
                raise PredictionError(f"{where}: expected shape (N, 6), got {table.shape}")
            preds.detections[video] = _detections(video, table, where)
        else:
            heatmap_keys[video] = key
    preds.heatmaps = _LazyHeatmaps(archive, heatmap_keys)
    if preds.detections and heatmap_keys:
        raise PredictionError(f"{path}: has both detections and heatmaps; give one region source")
    return preds


def load_predictions(path: str | Path) -> Predictions:
    """Read a ``.jsonl`` or ``.npz`` prediction file (see module doc)."""
    path = Path(path)
    if not path.is_file():
        raise PredictionError(f"{path}: prediction file not found")
    if path.stat().st_size == 0:
        raise PredictionError(f"{path}: empty prediction file (0 bytes)")
    if path.suffix == ".jsonl":
        return load_jsonl(path)
    if path.suffix == ".npz":
        return load_npz(path)
    raise PredictionError(f"{path}: unknown prediction file type {path.suffix!r} (use .jsonl or .npz)")
