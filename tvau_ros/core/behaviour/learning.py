"""Learning a scene's normal from footage, through the pipeline the node runs.

``learn_from_frames`` feeds frames to a behaviour-engine pipeline with learning on and fits a
scene model from the tracks it saw; ``learn_from_videos`` does the same over many videos (a
benchmark split: one scene's videos, or every scene's for the generic model), leaving out the
frames in which an abnormal actor acts. ``check_learning`` says what looks wrong with the
footage a model was learnt from (too short, no motion, objects the generic model finds abnormal).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from tvau_ros.core.behaviour.engine import BehaviourEngine
from tvau_ros.core.behaviour.scene_model import SceneModel, SceneModelError, TrackRecord
from tvau_ros.core.pipeline import AnomalyPipeline
from tvau_ros.core.types import NS_PER_S

if TYPE_CHECKING:
    from tvau_ros.data.dataset import VideoSample

STREAM_START_NS = 1_000 * NS_PER_S


@dataclass
class LearningResult:
    model: SceneModel
    frames: int
    seconds_of_footage: float
    wall_s: float
    warnings: list[str] = field(default_factory=list)


def behaviour_engine(pipeline: AnomalyPipeline) -> BehaviourEngine:
    if not isinstance(pipeline.engine, BehaviourEngine):
        raise SceneModelError(f"learning a scene's normal needs the behaviour engine, this pipeline runs "
                              f"{pipeline.engine.model_id}")
    return pipeline.engine


def _stream(pipeline: AnomalyPipeline, frames: Iterable[tuple[np.ndarray, int]],
            abnormal: Iterator[bool] | None = None) -> int:
    """Push frames through ``pipeline``; learning pauses on frames flagged abnormal. Returns the count."""
    engine, count = behaviour_engine(pipeline), 0
    for image, stamp_ns in frames:
        if abnormal is not None:
            engine.pause_learning(bool(next(abnormal)))
        pipeline.push(image, stamp_ns)
        count += 1
    pipeline.finish()
    engine.pause_learning(False)
    return count


def learn_from_frames(pipeline: AnomalyPipeline, frames: Iterable[tuple[np.ndarray, int]], scene: str,
                      card: dict | None = None) -> LearningResult:
    """Fit ``scene``'s model from ``(image, stamp_ns)`` frames of normal activity."""
    engine = behaviour_engine(pipeline)
    started = time.perf_counter()
    engine.start_learning()
    stamps = []
    count = _stream(pipeline, ((img, stamps.append(t) or t) for img, t in frames))
    if count < 10:
        engine.cancel_learning()
        raise SceneModelError(f"only {count} frames: a scene model needs at least 10 (a minute or two of "
                              "normal activity is best)")
    footage = (stamps[-1] - stamps[0]) / NS_PER_S
    model = engine.finish_learning(scene, card)
    result = LearningResult(model, count, footage, time.perf_counter() - started)
    result.warnings = check_learning(model, footage, engine.generic)
    return result


def learn_from_videos(videos: Iterable[VideoSample], make_pipeline: Callable[[], AnomalyPipeline], scene: str,
                      generic: bool = False) -> LearningResult:
    """Fit one model from several videos (``make_pipeline()``: a fresh behaviour pipeline per
    video); frames labelled abnormal are streamed (for tracking) but not learnt from."""
    started = time.perf_counter()
    records: list[TrackRecord] = []
    frames, footage, background, size, number = 0, 0.0, None, None, -1
    for number, video in enumerate(videos):
        pipeline = make_pipeline()
        engine = behaviour_engine(pipeline)
        engine.start_learning()
        images = video.read_frames()
        period = NS_PER_S / float(video.fps)
        labels = iter(np.asarray(video.frame_labels, bool))
        frames += _stream(pipeline, ((img, STREAM_START_NS + int(round(t * period))) for t, img in enumerate(images)),
                          labels)
        footage += len(images) / float(video.fps)
        for record in engine.learning_records():
            records.append(TrackRecord(f"{number}:{record.key}", record.observations))
        engine.cancel_learning()
        background = engine.background.image() if background is None else background
        size = images.shape[1:3] if size is None else size
    if not records:
        raise SceneModelError(f"scene {scene!r}: no moving object in {frames} frames")
    work = background.shape[:2] if background is not None else size
    card = {"frames": frames, "seconds": round(footage, 1), "videos": number + 1}
    model = SceneModel.fit(records, scene, work, background, generic=generic, card=card)
    return LearningResult(model, frames, footage, time.perf_counter() - started)


def check_learning(model: SceneModel, footage_s: float, generic: SceneModel) -> list[str]:
    """Reasons to distrust a freshly learnt model (each a sentence; empty = none)."""
    warnings = []
    if footage_s < 30:
        warnings.append(f"only {footage_s:.0f} s of footage: one to two minutes of normal activity give "
                        "steadier percentiles")
    tracks = int(model.card.get("tracks", 0))
    if tracks < 5:
        warnings.append(f"only {tracks} moving objects were seen: the scene's normal rests on very few examples")
    odd = []
    for name in ("fast", "lying", "wide", "stationary"):
        learnt, reference = model.quantiles.get(f"{name}/all"), generic.quantiles.get(f"{name}/all")
        if learnt is not None and reference is not None and learnt[3] >= 20 and reference[3] >= 20:
            if generic.excess(name, float(learnt[2]), False) > 1.0:
                odd.append(name)
    if odd:
        warnings.append("the footage may not be normal: its 99th percentile of " + ", ".join(odd) +
                        " is beyond what the generic model has seen in normal scenes")
    return warnings
