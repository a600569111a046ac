"""Evaluate predictions against VideoSample-like videos: one JSON-ready report plus curves.

Used by ``tvau eval predictions`` and by any evaluator that produces predictions in memory::

    evaluation = evaluate_predictions(load_predictions("pred.jsonl"), load_dataset(root, "test"))
    write_evaluation(evaluation, "out/")   # report.json, frame_roc.png, rbdr.png, tbdr.png

All metric values are percentages. A video without predictions is an error unless
``allow_missing`` is set; then it is left out of that metric and listed under ``skipped``.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tvau_ros.metrics.frame_auc import FrameScores, micro_auc, per_video_auc
from tvau_ros.metrics.gt_regions import MaskedVideo, gt_regions_from_masks
from tvau_ros.metrics.heatmaps import video_heatmaps_to_detections
from tvau_ros.metrics.predictions import Predictions
from tvau_ros.metrics.regions import Detection, RegionTrackResult, rbdc_tbdc


class EvalVideo(MaskedVideo, Protocol):
    """The part of ``tvau_ros.data.VideoSample`` that evaluation reads."""

    height: int
    width: int
    frame_labels: np.ndarray


@dataclass(frozen=True)
class EvalOptions:
    alpha: float = 0.1            # fraction of a track's regions that must be detected
    beta: float = 0.1             # IoU for a detection to match a GT region
    base_threshold: float = 0.5   # heatmap -> detections: lowest heatmap value kept
    min_area: int = 1             # heatmap -> detections: smallest component, in heatmap cells
    region_mode: str = "largest"  # GT box from masks: "largest" component or "all" pixels
    allow_missing: bool = False   # skip (and count) videos without predictions


@dataclass
class Evaluation:
    report: dict[str, Any]
    frame_roc: tuple[np.ndarray, np.ndarray] | None = None   # (fpr, tpr) of the micro ROC
    region: RegionTrackResult | None = None
    skipped: dict[str, Any] = field(default_factory=dict)


def _covered(preds: Predictions, videos: Sequence[EvalVideo], have: set[str], what: str,
             options: EvalOptions, skipped: dict[str, Any]) -> list[EvalVideo]:
    missing = [v.name for v in videos if v.name not in have]
    if missing and not options.allow_missing:
        raise preds.fail(f"no {what} for {len(missing)} of {len(videos)} videos "
                         f"(first: {missing[0]!r}); pass allow_missing to skip them")
    if missing:
        skipped[f"videos_without_{what.replace(' ', '_')}"] = missing
    return [v for v in videos if v.name in have]


def _frame_scores(preds: Predictions, video: EvalVideo) -> np.ndarray:
    if video.name in preds.frame_scores:
        scores = preds.frame_scores[video.name]
    else:
        scores = _heatmaps(preds, video).reshape(video.num_frames, -1).max(axis=1).astype(np.float64)
    if scores.shape != (video.num_frames,):
        raise preds.fail(f"video {video.name!r}: {scores.size} frame scores for {video.num_frames} frames")
    return scores


def _heatmaps(preds: Predictions, video: EvalVideo) -> np.ndarray:
    maps = np.asarray(preds.heatmaps[video.name])
    if maps.ndim != 3 or maps.shape[0] != video.num_frames or 0 in maps.shape:
        raise preds.fail(f"video {video.name!r}: heatmaps must have shape ({video.num_frames}, h, w), "
                         f"got {maps.shape}")
    if not np.isfinite(maps).all():
        raise preds.fail(f"video {video.name!r}: heatmaps contain NaN or infinite values")
    return maps


def _frame_section(preds: Predictions, videos: Sequence[EvalVideo], options: EvalOptions,
                   skipped: dict[str, Any]) -> tuple[dict | None, Any]:
    have = set(preds.frame_scores) | set(preds.heatmaps)
    if not have:
        return None, None
    covered = _covered(preds, videos, have, "frame scores", options, skipped)
    frames = [FrameScores(v.name, np.asarray(v.frame_labels), _frame_scores(preds, v)) for v in covered]
    if not frames:
        return {"num_videos": 0, "micro_auc": None, "macro_auc": None}, None
    labels = np.concatenate([f.labels for f in frames])
    from_scores = sum(f.video in preds.frame_scores for f in frames)
    section: dict[str, Any] = {
        "scores_from": {"frame_scores": from_scores, "heatmap_max": len(frames) - from_scores},
        "num_videos": len(frames),
        "num_frames": int(labels.size),
        "single_class_videos": sum(int(f.labels.min() == f.labels.max()) for f in frames),
    }
    try:
        section["per_video_auc"] = {f.video: per_video_auc(f) for f in frames}
    except ValueError as exc:  # scores outside [0, 1]: a problem of the prediction file
        raise preds.fail(str(exc)) from None
    section["macro_auc"] = float(np.mean(list(section["per_video_auc"].values())))
    roc = None
    if labels.min() == labels.max():
        section["micro_auc"] = None
        section["micro_auc_undefined"] = f"every frame has label {int(labels[0])}"
    else:
        from sklearn.metrics import roc_curve

        section["micro_auc"] = micro_auc(frames)
        fpr, tpr, _ = roc_curve(labels, np.concatenate([f.scores for f in frames]))
        roc = (fpr, tpr)
    return section, roc


def _region_detections(preds: Predictions, video: EvalVideo, options: EvalOptions) -> list[Detection]:
    if video.name in preds.detections:
        detections = preds.detections[video.name]
        for det in detections:
            if det.frame >= video.num_frames:
                raise preds.fail(f"video {video.name!r}: detection in frame {det.frame}, "
                                 f"video has {video.num_frames} frames")
        return detections
    return video_heatmaps_to_detections(video.name, _heatmaps(preds, video), options.base_threshold,
                                        options.min_area, out_size=(video.height, video.width))


def _region_section(preds: Predictions, videos: Sequence[EvalVideo], options: EvalOptions,
                    skipped: dict[str, Any]) -> tuple[dict | None, RegionTrackResult | None]:
    have = set(preds.detections) | set(preds.heatmaps)
    if not have:
        return None, None
    source = "detections" if preds.detections else "heatmaps"
    covered = _covered(preds, videos, have, source, options, skipped)
    if not covered:
        return {"num_videos": 0, "rbdc": None, "tbdc": None}, None
    gt = gt_regions_from_masks(covered, options.region_mode)
    skipped["gt_frames_without_mask_pixels"] = gt.empty_frames
    skipped["gt_tracks_without_regions"] = gt.empty_tracks
    section: dict[str, Any] = {
        "detections_from": source,
        "alpha": options.alpha, "beta": options.beta, "gt_region_mode": options.region_mode,
    }
    if section["detections_from"] == "heatmaps":
        section.update(base_threshold=options.base_threshold, min_area=options.min_area)
    if not gt.regions:
        section.update(rbdc=None, tbdc=None, undefined="no ground-truth abnormal regions in these videos")
        return section, None
    detections = [d for v in covered for d in _region_detections(preds, v, options)]
    result = rbdc_tbdc(detections, gt.regions, sum(v.num_frames for v in covered),
                       options.alpha, options.beta)
    section.update({k: v for k, v in asdict(result).items() if not isinstance(v, np.ndarray)})
    return section, result


def evaluate_predictions(preds: Predictions, videos: Sequence[EvalVideo],
                         options: EvalOptions = EvalOptions()) -> Evaluation:
    """Frame AUCs and RBDC/TBDC of ``preds`` on ``videos`` (see module doc)."""
    if not videos:
        raise ValueError("no videos to evaluate")
    known = {v.name for v in videos}
    unknown = sorted(preds.videos() - known)
    if unknown:
        raise preds.fail(f"{len(unknown)} predicted videos are not in the evaluated split "
                         f"(first: {unknown[0]!r})")
    skipped: dict[str, Any] = {}
    frame, roc = _frame_section(preds, videos, options, skipped)
    region, result = _region_section(preds, videos, options, skipped)
    report = {
        "units": "percent",
        "predictions": preds.source,
        "num_videos": len(videos),
        "frame": frame,
        "region": region,
        "skipped": skipped,
    }
    return Evaluation(report, roc, result, skipped)


def write_evaluation(evaluation: Evaluation, out_dir: str | Path) -> dict[str, Path]:
    """Write ``report.json`` and the PNG curves into ``out_dir``; return the written paths."""
    from tvau_ros.metrics.plots import plot_frame_roc, plot_region_curves

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if evaluation.frame_roc is not None:
        written["frame_roc"] = plot_frame_roc(*evaluation.frame_roc, out / "frame_roc.png",
                                              evaluation.report["frame"]["micro_auc"])
    if evaluation.region is not None:
        written.update(plot_region_curves(evaluation.region, out))
    evaluation.report["plots"] = {k: p.name for k, p in written.items()}
    report_path = out / "report.json"
    report_path.write_text(json.dumps(evaluation.report, indent=2) + "\n", encoding="utf-8")
    written["report"] = report_path
    return written
