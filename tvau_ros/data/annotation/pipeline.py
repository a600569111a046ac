"""The annotation pipeline for one video: extraction -> association -> refinement ->
trajectory -> consistency verification -> dialogue sample.

Works on anything shaped like ``tvau_ros.data.dataset.VideoSample`` (name, scene, split,
num_frames, height, width, fps, frame_labels, tracks, read_frames, read_mask).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from tvau_ros.data.annotation.consistency import ConsistencyResult, describe, verify
from tvau_ros.data.annotation.dialogue import DialogueSample, TargetAnnotation, build_dialogue
from tvau_ros.data.annotation.extraction import (FrameObservation, extract_observations,
                                                 illumination_gain, mask_values)
from tvau_ros.data.annotation.ground import GroundCamera, estimate_camera
from tvau_ros.data.annotation.stitching import StitchConfig, stitch_timelines
from tvau_ros.data.annotation.timeline import (TargetTimeline, TimelineAttributes, associate,
                                               refine_timeline, suppress_background)
from tvau_ros.data.annotation.trajectory import Trajectory, derive_trajectory
from tvau_ros.data.dataset import TrackSpan, VideoSample


class AnnotationInputError(ValueError):
    """A video's masks cannot be used (missing file, wrong size); the message names it."""


@dataclass(frozen=True)
class AnnotateConfig:
    min_area: int = 2             # pixels of a target in a frame to count as seen
    max_gap: int = 10             # frames a binary-mask track may be unseen
    min_conf: float = 0.5         # colour vote share of a confident observation
    min_color_conf: float = 0.65  # timeline vote share for a colour to be stated
    min_height: int = 15          # median target height (px) below which it is not described
    blur_sigma: float | None = None  # background blur; None: 2% of the larger image side
    min_observations: int = 3     # shorter timelines are ignored (counted)
    anchor_stride: int = 8        # boxes are written every this many frames plus at events
    chunk: int = 64               # frames decoded at once
    background_samples: int = 25  # frames in the median background (0: no background weighting)
    stitch: StitchConfig = field(default_factory=StitchConfig)  # binary masks: fragments of one target rejoined


@dataclass
class TargetResult:
    timeline: TargetTimeline
    trajectory: Trajectory
    consistency: ConsistencyResult
    coarse_attributes: TimelineAttributes  # without refinement, for the report
    stated: tuple[str | None, str | None] = (None, None)  # (top, bottom) colours clear enough to state
    appearance_note: str = ""  # why no colour is stated ("" when one is)


@dataclass
class VideoAnnotation:
    """Outcome for one video. status: "abnormal", "normal", "dropped" or "skipped"."""
    video: str
    status: str
    sample: DialogueSample | None = None
    targets: list[TargetResult] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    mask_mode: str = ""           # "ids" | "binary" (see mask_mode)
    camera: GroundCamera | None = None
    ignored_timelines: int = 0


def frames_to_annotate(sample: VideoSample) -> list[int]:
    """Frames inside any track span or labelled abnormal."""
    frames = set(np.flatnonzero(np.asarray(sample.frame_labels) > 0).tolist())
    for span in sample.tracks:
        frames.update(range(max(0, span.start), min(sample.num_frames - 1, span.end) + 1))
    return sorted(f for f in frames if 0 <= f < sample.num_frames)


def _runs(frames: list[int], chunk: int) -> Iterator[tuple[int, int]]:
    """Contiguous [start, stop) runs of sorted frame indices, at most ``chunk`` long."""
    start = prev = None
    for f in frames:
        if start is None:
            start = prev = f
        elif f != prev + 1 or f - start >= chunk:
            yield start, prev + 1
            start = prev = f
        else:
            prev = f
    if start is not None:
        yield start, prev + 1


def read_masks(sample: VideoSample, frames: list[int]) -> dict[int, np.ndarray]:
    """Non-empty masks of ``frames``; AnnotationInputError naming the file/frame on bad ones."""
    masks = {}
    for frame in frames:
        try:
            mask = np.asarray(sample.read_mask(frame))
        except (OSError, ValueError) as exc:  # missing/corrupt file (DatasetError is a ValueError)
            raise AnnotationInputError(f"{sample.name}: mask of frame {frame} unreadable: {exc}") from exc
        if mask.shape != (sample.height, sample.width):
            size = f"({mask.shape[1]}, {mask.shape[0]})" if mask.ndim == 2 else str(mask.shape)
            raise AnnotationInputError(f"{sample.name}: mask of frame {frame} is {size} (w, h), "
                                       f"video is ({sample.width}, {sample.height})")
        if mask.any():
            masks[frame] = mask.astype(np.int32, copy=False)
    return masks


def mask_mode(masks: dict[int, np.ndarray], tracks: list[TrackSpan]) -> str:
    """"ids" when mask values are the tracks' object ids, else "binary".

    Binary masks (ShanghaiTech: every abnormal pixel is 1) with several tracks cannot tell
    targets apart by value, so their connected components are linked instead.
    """
    values = set()
    for mask in masks.values():
        values.update(mask_values(mask))
    track_ids = {t.object_id for t in tracks}
    if values and values <= track_ids and (len(values) > 1 or len(track_ids) == 1):
        return "ids"
    return "binary"


class FrameReader(Protocol):
    """What ``background_image`` reads: a ``VideoSample``, or the dialogue's working frames."""

    num_frames: int

    def read_frames(self, start: int, stop: int, step: int = 1) -> np.ndarray: ...


def background_image(sample: FrameReader, samples: int = 25) -> np.ndarray:
    """The scene without moving targets: per-pixel median of frames spread over the video."""
    step = max(1, sample.num_frames // samples)
    return np.median(sample.read_frames(0, sample.num_frames, step), axis=0).astype(np.uint8)


def collect_observations(sample: VideoSample, masks: dict[int, np.ndarray], config: AnnotateConfig,
                         use_ids: bool) -> list[FrameObservation]:
    """Coarse and refined frame-level extraction over every frame with a non-empty mask."""
    background = background_image(sample, config.background_samples) if config.background_samples else None
    bg_gain = illumination_gain(background) if background is not None else 1.0
    observations = []
    for start, stop in _runs(sorted(masks), config.chunk):
        frames = sample.read_frames(start, stop)
        for offset, frame in enumerate(frames):
            index = start + offset
            observations += observe_frame(frame, masks[index], index, config, use_ids, background, bg_gain)
    return observations


def observe_frame(frame: np.ndarray, mask: np.ndarray, index: int, config: AnnotateConfig, use_ids: bool,
                  background: np.ndarray | None, bg_gain: float) -> list[FrameObservation]:
    """Frame-level extraction of one frame: coarse on the frame, refined on its background-
    suppressed copy (what ``collect_observations`` does per frame; the answerer calls it too)."""
    refined = suppress_background(frame, mask, config.blur_sigma)
    return extract_observations(frame, mask, index, use_ids, refined, config.min_area, background, bg_gain)


def camera_from_timelines(timelines: list[TargetTimeline], width: int, height: int,
                          min_height: int = 10) -> GroundCamera:
    """Ground camera fitted to the upright, uncut, large-enough observations of all timelines."""
    foot, top = [], []
    for tl in timelines:
        for o in tl.observations:
            if not o.touches and o.height >= min_height and o.height >= 1.2 * o.width:
                foot.append(o.foot[1])
                top.append(o.extent[1])
    return estimate_camera(foot, top, width, height)


def measure_timelines(timelines: list[TargetTimeline], width: int, height: int, fps: float,
                      config: AnnotateConfig) -> tuple[GroundCamera, list[TargetResult]]:
    """Refinement, trajectory, consistency check and stated colours of associated timelines,
    with the ground camera fitted to them (shared by ``annotate_video`` and the answerer)."""
    camera = camera_from_timelines(timelines, width, height)
    shape = (height, width)
    results = []
    for tl in timelines:
        coarse = refine_timeline(tl, shape, config.min_conf, use_refined=False).attributes
        refine_timeline(tl, shape, config.min_conf)
        trajectory = derive_trajectory(tl, fps, camera)
        check = verify(tl, trajectory, config.min_height)
        stated, note = describe(tl, config.min_color_conf, config.min_height)
        results.append(TargetResult(tl, trajectory, check, coarse, stated, note))
    return camera, results


def _anchor_frames(timeline: TargetTimeline, trajectory: Trajectory, stride: int) -> list[int]:
    events = {trajectory.entry_frame, trajectory.exit_frame}
    events |= {t.frame for t in trajectory.turns} | {s.start for s in trajectory.speed_states}
    seen = [o.frame for o in timeline.observations]
    events |= set(seen[::max(1, stride)])
    # an event frame without an observation is anchored at the nearest observed frame
    return sorted({min(seen, key=lambda f: abs(f - e)) for e in events})


def target_annotation(result: TargetResult, stride: int) -> TargetAnnotation:
    tl, tr, attrs = result.timeline, result.trajectory, result.timeline.attributes
    return TargetAnnotation(
        track_id=tl.track_id, object_id=tl.object_id, start=tl.start, end=tl.end,
        noun="person" if attrs.upright else "target",
        attributes={"top_color": result.stated[0], "bottom_color": result.stated[1],
                    "size_class": attrs.size_class, "accessories": list(attrs.accessories),
                    "top_conf": round(attrs.top_conf, 3), "bottom_conf": round(attrs.bottom_conf, 3),
                    "note": result.appearance_note},
        trajectory=tr.to_dict(),
        boxes=[{"frame": f, "box": list(tl.at(f).box)} for f in _anchor_frames(tl, tr, stride)])


def annotate_video(sample: VideoSample, config: AnnotateConfig = AnnotateConfig()) -> VideoAnnotation:
    """Annotate one video; raises AnnotationInputError on unusable masks."""
    meta = dict(video=sample.name, split=sample.split, scene=sample.scene, fps=sample.fps,
                num_frames=sample.num_frames, width=sample.width, height=sample.height)
    if not sample.is_abnormal:
        return VideoAnnotation(sample.name, "normal", build_dialogue(targets=[], abnormal=False, **meta))
    masks = read_masks(sample, frames_to_annotate(sample))
    mode = mask_mode(masks, sample.tracks)
    use_ids = mode == "ids"
    timelines = associate(collect_observations(sample, masks, config, use_ids), use_ids, config.max_gap)
    if not use_ids:
        timelines = [t for t, _ in stitch_timelines(timelines, sample.fps, 0, sample.num_frames - 1, config.stitch)]
    del masks
    kept = [t for t in timelines if len(t.observations) >= config.min_observations]
    result = VideoAnnotation(sample.name, "abnormal", mask_mode=mode,
                             ignored_timelines=len(timelines) - len(kept))
    if not kept:
        result.status = "skipped"
        result.reasons.append("no target found in the masks")
        return result
    result.camera, result.targets = measure_timelines(kept, sample.width, sample.height, sample.fps, config)
    for target in result.targets:
        result.reasons += [f"track {target.timeline.track_id}: {r}" for r in target.consistency.reasons]
    if result.reasons:
        result.status = "dropped"
        return result
    targets = [target_annotation(t, config.anchor_stride) for t in result.targets]
    window = (int(min(np.flatnonzero(sample.frame_labels).tolist() + [t.start for t in targets])),
              int(max(np.flatnonzero(sample.frame_labels).tolist() + [t.end for t in targets])))
    result.sample = build_dialogue(targets=targets, window=window, abnormal=True, **meta)
    return result
