"""Evaluate anomaly pipelines as the node runs them, on every frame of a dataset split.

A *method* is a pipeline config (engine, smoothing, regions, tracker: what the node loads).
For each method and video a fresh ``AnomalyPipeline`` receives the video's frames stamped at
the video's frame rate, as a camera would send them, then ``finish()``. Every frame gets the
score and regions the node would publish for it; the evaluation keeps

* the frame scores (frame micro / macro AUC),
* the *candidates*: the same regions down to ``EvalOptions.base_threshold`` (RBDC/TBDC sweep
  their score threshold from high to low; the pipeline's own threshold, which decides what
  the node publishes and what counts as an episode, is unchanged),
* the anomaly episodes at the shipped threshold: false episodes per minute of normal video,
  and how many abnormal targets get an episode that lies on them,
* for object-level engines, every object's box whatever its score: how many of the abnormal
  targets' ground-truth boxes the engine sees as an object at all (detection recall), which
  bounds what its scoring can find.

>>> sorted(size_class(h) for h in (8, 25, 60))
['large', 'medium', 'small']
"""
from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tvau_ros.core.pipeline import AnomalyPipeline
from tvau_ros.core.types import NS_PER_S, Box, Evidence
from tvau_ros.data.dataset import VideoSample
from tvau_ros.metrics.boxes import box_iou
from tvau_ros.metrics.gt_regions import mask_region_box
from tvau_ros.metrics.predictions import Predictions
from tvau_ros.metrics.regions import Detection
from tvau_ros.metrics.report import EvalOptions, Evaluation, evaluate_predictions

STREAM_START_NS = 1_000 * NS_PER_S  # first stamp of every replayed video (a camera clock, not 1970)
SIZE_CLASSES = ((0, 20, "small"), (20, 40, "medium"), (40, 1 << 30, "large"))  # target height in pixels


def size_class(height_px: float) -> str:
    """Size class of a target by its median height in pixels: small < 20 <= medium < 40 <= large."""
    return next(name for lo, hi, name in SIZE_CLASSES if lo <= height_px < hi)


PipelineFactory = Callable[[VideoSample], AnomalyPipeline]


@dataclass
class VideoRun:
    """What one pipeline produced on one video."""

    scores: np.ndarray                                     # (T,) frame scores, NaN = no heatmap
    detections: list[Detection] = field(default_factory=list)   # candidates, for RBDC/TBDC
    episodes: list[dict] = field(default_factory=list)          # EpisodeLog.records at the end
    episode_boxes: dict[int, list[tuple[int, tuple]]] = field(default_factory=dict)  # track -> (frame, box)
    objects: dict[int, list[tuple]] = field(default_factory=dict)  # frame -> every engine object's box
    seconds: float = 0.0


def _corners(box: Box) -> tuple[float, float, float, float]:
    """(x1, y1, x2, y2) inclusive corners, as the metrics take boxes."""
    return float(box.x), float(box.y), float(box.x_max), float(box.y_max)


def run_video(video: VideoSample, pipeline: AnomalyPipeline) -> VideoRun:
    """Stream ``video`` through ``pipeline`` (frames stamped at the video's fps) and collect its outputs."""
    frames = video.read_frames()
    run = VideoRun(np.full(len(frames), np.nan, np.float32))
    period = NS_PER_S / float(video.fps)

    def collect(evidence: Evidence | None) -> None:
        if evidence is None:
            return
        for index, analysed in zip(evidence.new_frame_indices, evidence.frame_results, strict=True):
            run.scores[index] = analysed.score
            if analysed.objects:
                run.objects[index] = [_corners(b) for b in analysed.objects]
            for region in analysed.candidates or analysed.regions:
                run.detections.append(Detection(video.name, index, _corners(region.box), float(region.peak_score)))
            for region in analysed.regions:
                if region.track_id:
                    run.episode_boxes.setdefault(region.track_id, []).append((index, _corners(region.box)))

    started = time.perf_counter()
    for t, frame in enumerate(frames):
        collect(pipeline.push(frame, STREAM_START_NS + int(round(t * period))))
    collect(pipeline.finish())
    run.seconds = time.perf_counter() - started
    run.episodes = pipeline.episodes.records(STREAM_START_NS)
    return run


def target_boxes(video: VideoSample) -> dict[int, dict[int, tuple]]:
    """Abnormal target -> frame -> its ground-truth box (largest mask component)."""
    out: dict[int, dict[int, tuple]] = {}
    for span in video.tracks:
        for frame in range(span.start, span.end + 1):
            box = mask_region_box(video.read_mask(frame), span.object_id)
            if box is not None:
                out.setdefault(int(span.object_id), {})[frame] = box
    return out


def episode_summary(videos: Sequence[VideoSample], runs: dict[str, VideoRun], truth: dict[str, dict],
                    beta: float = 0.1) -> dict:
    """Episode-level behaviour at the shipped threshold: false episodes per minute of normal
    video and how many of them carry each label, episodes on abnormal videos that never touch
    a target, and the share of abnormal targets with an episode on them (a region of the
    episode overlapping the target's box with IoU >= ``beta`` in an abnormal frame);
    ``truth``: video -> ``target_boxes(video)``."""
    normal_minutes, normal_episodes, stray, targets, found = 0.0, 0, 0, 0, 0
    false_labels: Counter[str] = Counter()
    for video in videos:
        run = runs[video.name]
        if not video.is_abnormal:
            normal_minutes += video.num_frames / float(video.fps) / 60.0
            normal_episodes += len(run.episodes)
            false_labels.update(re.sub(r"_\d+s$", "", e["label"]) for e in run.episodes)  # stationary_45s -> stationary
            continue
        on_target: set[int] = set()
        for boxes in run.episode_boxes.values():
            for target, frames in truth[video.name].items():
                if any(f in frames and box_iou(box, frames[f]) >= beta for f, box in boxes):
                    on_target.add(target)
                    break
            else:
                stray += 1
        targets += len(truth[video.name])
        found += len(on_target)
    return {"false_episodes_per_min_normal": normal_episodes / normal_minutes if normal_minutes else None,
            "normal_minutes": round(normal_minutes, 2), "false_episode_labels": dict(false_labels.most_common()),
            "episodes_off_target_abnormal": stray,
            "targets": targets, "targets_with_episode": found,
            "target_episode_recall": 100.0 * found / targets if targets else None}


RECALL_IOU = (0.5, 0.1)   # a target box counts as seen by an object box at IoU >= 0.5 (and, looser, 0.1)


def object_recall(videos: Sequence[VideoSample], runs: dict[str, VideoRun], truth: dict[str, dict]) -> dict | None:
    """Detection recall of the abnormal targets: the share of their ground-truth boxes (one per
    target and frame) that some engine object overlaps with IoU >= each of ``RECALL_IOU``,
    overall and per size class (``size_class`` of the box's height), plus the targets seen in at
    least half of their frames; None for an engine that reports no objects (a heatmap engine).

    >>> from types import SimpleNamespace as NS
    >>> run = VideoRun(np.zeros(2), objects={0: [(0.0, 0.0, 9.0, 19.0)]})
    >>> truth = {"v": {1: {0: (0, 0, 9, 19), 1: (0, 0, 9, 19)}}}
    >>> out = object_recall([NS(name="v", is_abnormal=True)], {"v": run}, truth)
    >>> out["recall_iou_0.5"], out["targets_seen_half"], out["by_size"]["medium"]["recall_iou_0.5"]
    (50.0, 1, 50.0)
    """
    if not any(run.objects for run in runs.values()):
        return None
    counts: dict[str, list[int]] = {}   # size class or "all" -> [boxes, seen at each IoU]
    seen_half, targets = 0, 0
    for video in videos:
        if not video.is_abnormal:
            continue
        objects = runs[video.name].objects
        for frames in truth[video.name].values():
            targets += 1
            seen_frames = 0
            for frame, box in frames.items():
                best = max((box_iou(box, o) for o in objects.get(frame, ())), default=0.0)
                for key in ("all", size_class(box[3] - box[1] + 1)):
                    row = counts.setdefault(key, [0] * (1 + len(RECALL_IOU)))
                    row[0] += 1
                    for i, iou in enumerate(RECALL_IOU):
                        row[1 + i] += best >= iou
                seen_frames += best >= RECALL_IOU[0]
            seen_half += bool(frames) and seen_frames >= 0.5 * len(frames)

    def rates(row: list[int]) -> dict:
        return {"boxes": row[0], **{f"recall_iou_{iou}": round(100.0 * n / max(row[0], 1), 1)
                                    for iou, n in zip(RECALL_IOU, row[1:], strict=True)}}

    total = rates(counts.get("all", [0] * (1 + len(RECALL_IOU))))
    return {**total, "targets": targets, "targets_seen_half": seen_half,
            "by_size": {name: rates(counts[name]) for _, _, name in SIZE_CLASSES if name in counts}}


def median_target_height(boxes: dict[int, dict[int, tuple]]) -> float:
    """Median height in pixels of a video's target boxes (``target_boxes``), 0 without any."""
    heights = [b[3] - b[1] + 1 for frames in boxes.values() for b in frames.values()]
    return float(np.median(heights)) if heights else 0.0


def breakdown_micro_auc(videos: Sequence[VideoSample], runs: dict[str, VideoRun], key: Callable) -> dict[str, float]:
    """Frame micro AUC per group of abnormal videos (``key(video)`` -> group names), each group
    with every normal video."""
    from tvau_ros.metrics.frame_auc import FrameScores, micro_auc

    normal = [v for v in videos if not v.is_abnormal]
    groups: dict[str, list[VideoSample]] = {}
    for video in videos:
        if video.is_abnormal:
            for name in key(video):
                groups.setdefault(name, []).append(video)
    return {name: micro_auc([FrameScores(v.name, np.asarray(v.frame_labels), runs[v.name].scores)
                             for v in normal + members]) for name, members in sorted(groups.items())}


def anomaly_types(video: VideoSample) -> list[str]:
    meta = video.meta or {}
    return sorted(set(meta.get("anomaly_types") or [t.get("category", "abnormal") for t in meta.get("targets", [])]
                      or ["abnormal"]))


_WORKER: dict = {}


def _init_worker(factory: PipelineFactory) -> None:
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)  # one process per core: a torch model (the person detector) must not oversubscribe
    _WORKER["factory"] = factory


def _run_one(video: VideoSample) -> tuple[str, VideoRun]:
    return video.name, run_video(video, _WORKER["factory"](video))


def run_method(videos: Sequence[VideoSample], factory: PipelineFactory, workers: int = 1,
               progress: bool = True) -> dict[str, VideoRun]:
    """``factory(video)`` -> a fresh pipeline for that video; runs every video (in ``workers``
    processes when > 1; the factory must then be picklable, e.g. a ``functools.partial``)."""
    from tqdm import tqdm

    if workers <= 1:
        _init_worker(factory)
        return dict(_run_one(v) for v in tqdm(videos, desc="videos", disable=not progress))
    import multiprocessing

    # spawn, not fork: forking a process whose OpenCV / BLAS threads hold locks can hang the workers
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(factory,)) as pool:
        return dict(tqdm(pool.map(_run_one, videos), total=len(videos), desc="videos", disable=not progress))


def evaluate_runs(name: str, videos: Sequence[VideoSample], runs: dict[str, VideoRun],
                  options: EvalOptions) -> tuple[Evaluation, dict]:
    """Metrics of one method's runs: the Evaluation (frame AUCs, RBDC/TBDC) and a table row."""
    preds = Predictions(source=name, frame_scores={v: r.scores for v, r in runs.items()},
                        detections={v: r.detections for v, r in runs.items()})
    evaluation = evaluate_predictions(preds, videos, options)
    frame, region = evaluation.report["frame"] or {}, evaluation.report["region"] or {}
    frames = sum(v.num_frames for v in videos)
    seconds = sum(r.seconds for r in runs.values())
    truth = {v.name: target_boxes(v) for v in videos if v.is_abnormal}
    row = {"method": name, "videos": len(videos), "frames": frames,
           "micro_auc": frame.get("micro_auc", float("nan")), "macro_auc": frame.get("macro_auc", float("nan")),
           "rbdc": region.get("rbdc", float("nan")), "tbdc": region.get("tbdc", float("nan")),
           "fps": frames / max(seconds, 1e-9),
           "micro_auc_by_type": breakdown_micro_auc(videos, runs, anomaly_types),
           "micro_auc_by_size": breakdown_micro_auc(
               videos, runs, lambda v: [size_class(median_target_height(truth[v.name]))]),
           "episodes": episode_summary(videos, runs, truth, options.beta),
           "object_recall": object_recall(videos, runs, truth)}
    evaluation.report["episodes"] = row["episodes"]
    evaluation.report["object_recall"] = row["object_recall"]
    evaluation.report["micro_auc_by_type"] = row["micro_auc_by_type"]
    evaluation.report["micro_auc_by_size"] = row["micro_auc_by_size"]
    return evaluation, row


def make_pipeline(cfg: dict, scene_dir: str | None, video: VideoSample) -> AnomalyPipeline:
    """The pipeline of ``cfg`` for ``video``: with ``scene_dir``, the video's scene model from there,
    or from the method's own ``behaviour.scene_dir`` when it sets one (scene models learnt with
    its own objects); a method that sets ``scene`` itself keeps it."""
    if scene_dir:
        behaviour = cfg.get("behaviour", {})
        cfg = {**cfg, "scene": str(video.scene),
               "behaviour": {**behaviour, "scene_dir": behaviour.get("scene_dir") or scene_dir}}
    return AnomalyPipeline.from_config(cfg=cfg)


def evaluate_methods(videos: Sequence[VideoSample], methods: dict[str, str], overrides: dict[str, dict],
                     options: EvalOptions, out_dir: str | Path, scene_dir: str | None = None, workers: int = 1,
                     progress: bool = True) -> list[dict]:
    """Run and score every method (``name -> pipeline YAML`` or ``default``) on ``videos``;
    writes each method's report and plots to ``out_dir/name``; returns the table rows."""
    from functools import partial

    from tvau_ros.core.pipeline_config import load_pipeline_config
    from tvau_ros.metrics.report import write_evaluation

    rows = []
    for name, config in methods.items():
        cfg = load_pipeline_config(None if config == "default" else config,
                                   {**overrides.get(name, {}),
                                    "regions": {**overrides.get(name, {}).get("regions", {}),
                                                "candidate_threshold": options.base_threshold}})
        AnomalyPipeline.from_config(cfg=cfg)  # a bad config fails here, once, with its reason
        own_scene = "scene" in overrides.get(name, {})  # e.g. scene: '' = the generic model (an ablation)
        runs = run_method(videos, partial(make_pipeline, cfg, None if own_scene else scene_dir), workers, progress)
        evaluation, row = evaluate_runs(name, videos, runs, options)
        write_evaluation(evaluation, Path(out_dir) / name)
        save_frame_scores(runs, Path(out_dir) / name / "frame_scores.npz")
        rows.append(row)
    return rows


def save_frame_scores(runs: dict[str, VideoRun], path: str | Path) -> None:
    """Every frame's score per video (``tvau eval predictions`` reads this npz layout too)."""
    np.savez_compressed(path, **{f"frame_scores/{video}": run.scores for video, run in runs.items()})
