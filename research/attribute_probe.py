"""Attribute probe: does any behaviour attribute of the shipped engine tell the targets from the other objects?

The behaviour engine scores each tracked object by its strongest attribute's excess over the
scene's normal (``docs/behaviour.md``). Frame AUC mixes the object stage (is the target an
object at all?) with the attributes (is its value unusual?). This probe separates them: it runs
the shipped pipeline (each scene's model, every frame) on the validation and test splits, keeps
every scored object's per-attribute excess, and reports

* per attribute, the **box AUC**: target objects (IoU >= 0.3 with an abnormal target's box)
  against all other objects, over the objects where the attribute is measured (its coverage);
* the frame micro AUC with the engine's own scoring re-computed from those excesses (median over
  ``persist_s``, strongest attribute, the logistic), with each attribute left out in turn, with
  longer persistence windows, and with the positive excesses summed instead of the maximum;
* a supervised combination as a bound on what weighing them could give: gradient-boosted trees
  on every attribute's 0.5 s median and 3 s mean excess, trained on the *training* split's
  objects (its abnormal targets against the rest; other anomaly types than validation / test),
  scored like the engine (frame score = its strongest object).

    python -m research.attribute_probe --dataset data/default/ubnormal --scene-models outputs/behaviour/scenes \
        --out outputs/attribute_probe        # about 8 min on 2 cores

Scene models: ``tvau learn-normal --dataset data/default/ubnormal --split train --per-scene --out DIR``.
"""
from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

from tvau_ros.core.pipeline_config import load_pipeline_config
from tvau_ros.core.types import NS_PER_S
from tvau_ros.data.dataset import VideoSample, load_dataset
from tvau_ros.evaluation.pipeline_eval import STREAM_START_NS, make_pipeline, run_video, target_boxes
from tvau_ros.metrics.boxes import box_iou
from tvau_ros.metrics.frame_auc import FrameScores, micro_auc

TARGET_IOU = 0.3


def object_rows(scene_dir: str, video: VideoSample) -> tuple[str, dict]:
    """Every scored object of ``video``: (frame, track id, IoU with a target, excesses, age in s)."""
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    pipeline = make_pipeline(load_pipeline_config(None), scene_dir, video)
    engine = pipeline.engine
    period_s = 1.0 / float(video.fps)
    seen = []
    score = engine._score

    def recording(track, values, stamp_s):
        result = score(track, values, stamp_s)
        recent = track.state.get("excesses")
        frame = round((stamp_s - STREAM_START_NS / NS_PER_S) / period_s)
        seen.append((frame, track.track_id, tuple(track.last.box), dict(recent[-1][1]) if recent else {},
                     track.age_s))
        return result

    engine._score = recording
    run_video(video, pipeline)
    first = video.read_frames(0, 1)[0]
    scale = first.shape[1] / engine._work_frame(first).shape[1]
    truth = target_boxes(video)
    rows = []
    for t, track_id, (x, y, w, h), excesses, age in seen:
        box = (x * scale, y * scale, (x + w) * scale - 1, (y + h) * scale - 1)
        iou = max([box_iou(box, frames_boxes[t]) for frames_boxes in truth.values() if t in frames_boxes] or [0.0])
        rows.append((t, track_id, iou, excesses, age))
    return video.name, {"rows": rows, "labels": np.asarray(video.frame_labels), "fps": float(video.fps)}


def _track_windows(run: dict, frames: int):
    """Each recorded object as (frame, IoU, age, its track's (frame, excesses) of the last ``frames`` frames)."""
    history: dict[int, list] = defaultdict(list)
    for t, track_id, iou, excesses, age in run["rows"]:
        recent = history[track_id]
        recent.append((t, excesses))
        while recent and recent[0][0] <= t - frames:
            recent.pop(0)
        yield t, iou, age, recent


def rescored_frames(runs: dict, persist_s: float = 0.5, drop: tuple = (), combine: str = "max",
                    min_age_s: float = 0.5, at_half: float = 1.0, width: float = 0.2) -> dict[str, np.ndarray]:
    """Frame scores from the recorded excesses with the engine's scoring (no hold), variants by argument."""
    out = {}
    for name, run in runs.items():
        scores = np.zeros(len(run["labels"]))
        for t, _, age, recent in _track_windows(run, max(1, round(persist_s * run["fps"]))):
            if age < min_age_s or len(recent) < 2:
                continue
            medians = []
            for attribute in recent[-1][1]:   # those measured now
                series = [e[attribute] for _, e in recent if attribute in e]
                if attribute not in drop and len(series) >= max(2, len(recent) // 2):
                    medians.append(float(np.median(series)))
            if medians:
                best = max(medians) if combine == "max" else sum(max(0.0, m + 1.0) for m in medians) - 1.0
                z = max(-700.0, min(700.0, (best - at_half) / width))
                scores[t] = max(scores[t], 1.0 / (1.0 + math.exp(-z)))
        out[name] = scores
    return out


def frame_micro_auc(runs: dict, scores: dict[str, np.ndarray]) -> float:
    return micro_auc([FrameScores(name, run["labels"], scores[name]) for name, run in runs.items()])


def box_aucs(runs: dict) -> dict[str, dict]:
    from sklearn.metrics import roc_auc_score

    rows = [row for run in runs.values() for row in run["rows"]]
    target = np.array([row[2] >= TARGET_IOU for row in rows])
    out = {"objects": len(rows), "target_objects": int(target.sum())}
    for attribute in sorted({a for row in rows for a in row[3]}):
        values = np.array([row[3].get(attribute, np.nan) for row in rows])
        measured = ~np.isnan(values)
        if target[measured].any() and (~target[measured]).any():
            out[attribute] = {"coverage": round(100 * float(measured.mean()), 1),
                              "box_auc": round(100 * float(roc_auc_score(target[measured], values[measured])), 1)}
    return out


def object_features(runs: dict, attributes: list[str], persist_s: float = 0.5,
                    long_s: float = 3.0) -> tuple[np.ndarray, np.ndarray, list[tuple[str, int]]]:
    """Per scored object older than 0.5 s: each attribute's median excess over ``persist_s`` and
    mean over ``long_s`` (NaN where unmeasured), whether it is a target, and (video, frame)."""
    features, targets, where = [], [], []
    for name, run in runs.items():
        short_n, long_n = max(1, round(persist_s * run["fps"])), max(1, round(long_s * run["fps"]))
        for t, iou, age, recent in _track_windows(run, long_n):
            if age < 0.5:
                continue
            row = []
            for attribute in attributes:
                short = [e[attribute] for s, e in recent if s > t - short_n and attribute in e]
                whole = [e[attribute] for _, e in recent if attribute in e]
                row += [float(np.median(short)) if short else np.nan, float(np.mean(whole)) if whole else np.nan]
            features.append(row)
            targets.append(iou >= TARGET_IOU)
            where.append((name, t))
    return np.asarray(features, np.float64), np.asarray(targets), where


def supervised_bound(train: dict, runs: dict, attributes: list[str]) -> dict[str, float]:
    """Box and frame micro AUC on ``runs`` of trees fitted on ``train``'s objects."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    x_train, y_train, _ = object_features(train, attributes)
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                                           l2_regularization=1.0, class_weight="balanced", random_state=0)
    model.fit(x_train, y_train)
    x, y, where = object_features(runs, attributes)
    p = model.predict_proba(x)[:, 1]
    scores = {name: np.zeros(len(run["labels"])) for name, run in runs.items()}
    for (name, t), value in zip(where, p, strict=True):
        scores[name][t] = max(scores[name][t], value)
    return {"box_auc": round(100 * float(roc_auc_score(y, p)), 1),
            "frame_micro_auc": round(frame_micro_auc(runs, scores), 1)}


def split_runs(videos: list[VideoSample], scene_dir: str, workers: int) -> dict:
    with ProcessPoolExecutor(workers) as pool:
        return dict(pool.map(partial(object_rows, scene_dir), videos))


def probe_split(runs: dict, train: dict | None) -> dict:
    attributes = sorted({a for run in runs.values() for row in run["rows"] for a in row[3]})
    frame = {"engine scoring": frame_micro_auc(runs, rescored_frames(runs)),
             "sum of positive excesses": frame_micro_auc(runs, rescored_frames(runs, combine="sum"))}
    for persist in (1.0, 2.0, 3.0):
        frame[f"persist {persist:g} s"] = frame_micro_auc(runs, rescored_frames(runs, persist_s=persist))
    for attribute in attributes:
        frame[f"without {attribute}"] = frame_micro_auc(runs, rescored_frames(runs, drop=(attribute,)))
    out = {"box_auc": box_aucs(runs), "frame_micro_auc": {k: round(v, 1) for k, v in frame.items()}}
    if train is not None:
        out["supervised_on_train"] = supervised_bound(train, runs, attributes)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="benchmark root (data/default/ubnormal)")
    parser.add_argument("--scene-models", required=True, help="per-scene models (tvau learn-normal --per-scene)")
    parser.add_argument("--splits", nargs="+", default=["validation", "test"])
    parser.add_argument("--train-split", default="train", help="split for the supervised bound ('' = none)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    runs = {split: split_runs(load_dataset(args.dataset, split), args.scene_models, args.workers)
            for split in [*args.splits, *([args.train_split] if args.train_split else [])]}
    train = runs.get(args.train_split) if args.train_split else None
    summary = {split: probe_split(runs[split], train) for split in args.splits}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
