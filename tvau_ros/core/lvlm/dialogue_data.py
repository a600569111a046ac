"""Dialogue samples (``tvau data annotate`` JSONL) joined with their videos: the clips the LVLM
is trained and evaluated on.

Each sample's video is sampled at ``num_frames`` evenly spaced frames over its whole length
(the dialogue's answers speak about the whole video); the heatmap of each sampled frame comes
from a heatmap source:

* ``ground_truth``: the pixel-level anomaly masks (1 inside any abnormal target), the upper
  bound of what an AHD could give;
* ``none``: no heatmap (the w/o AHD variant needs none);
* any callable ``(VideoSample, frame_indices) -> (T, h, w) float32 in [0, 1]``, e.g.
  ``engine_heatmaps(engine)`` for the AHD engine's output.

The first question of every dialogue is prefixed with ``frame_note`` ("Frames 0 to 132 of the
video."), so that a model can state frame numbers as the references do.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tvau_ros.core.dialogue.answerers import sampled_fps
from tvau_ros.data.annotation.dialogue import DialogueSample, read_jsonl
from tvau_ros.data.dataset import VideoSample, load_dataset

if TYPE_CHECKING:
    from tvau_ros.core.engine import HeatmapEngine

HeatmapSource = Callable[[VideoSample, np.ndarray], np.ndarray]


def frame_note(first: int, last: int) -> str:
    """The note that tells the model which frame numbers the clip spans.

    >>> frame_note(0, 132)
    'Frames 0 to 132 of the video.'
    """
    return f"Frames {int(first)} to {int(last)} of the video."


def sample_indices(num_frames: int, count: int) -> np.ndarray:
    """``count`` evenly spaced frame indices over ``[0, num_frames - 1]`` (first and last included).

    >>> sample_indices(10, 4).tolist()
    [0, 3, 6, 9]
    """
    if num_frames < 1 or count < 1:
        raise ValueError(f"cannot sample {count} of {num_frames} frames")
    return np.unique(np.rint(np.linspace(0, num_frames - 1, count)).astype(int))


def ground_truth_heatmaps(video: VideoSample, indices: np.ndarray) -> np.ndarray:
    return np.stack([(video.read_mask(int(i)) > 0).astype(np.float32) for i in indices])


def engine_heatmaps(engine: HeatmapEngine) -> HeatmapSource:
    """A heatmap source running an engine (``infer(frames, stamps_ns) -> HeatmapResult``) over the
    sampled frames with their video times, resized to the frames' size; an engine with state
    (``reset()``: the behaviour engine's tracks) starts afresh for each video. Note that an engine
    with motion tokens or tracks sees the sampled frames as consecutive."""
    from tvau_ros.core.clip import resize_heatmap

    def source(video: VideoSample, indices: np.ndarray) -> np.ndarray:
        frames = np.stack([video.read_frames(int(i), int(i) + 1)[0] for i in indices])
        stamps = [round(int(i) * 1e9 / float(video.fps)) for i in indices]
        if hasattr(engine, "reset"):
            engine.reset()
        heatmap = np.asarray(engine.infer(frames, stamps).heatmap, np.float32)
        if heatmap.shape[1:] != frames.shape[1:3]:
            heatmap = resize_heatmap(heatmap, frames.shape[1:3])
        return np.clip(heatmap, 0.0, 1.0)

    return source


def resolve_source(source: str | HeatmapSource) -> HeatmapSource | None:
    if callable(source):
        return source
    if source == "ground_truth":
        return ground_truth_heatmaps
    if source == "none":
        return None
    raise ValueError(f"unknown heatmap source {source!r}: use ground_truth, none or a callable")


@dataclass
class DialogueClip:
    """One dialogue with its sampled frames and heatmaps."""

    sample: DialogueSample
    frames: np.ndarray              # (T, H, W, 3) uint8 RGB
    heatmaps: np.ndarray | None     # (T, h, w) float32 in [0, 1]
    indices: np.ndarray             # the sampled frame numbers
    fps: float                      # sampled frames per second of video

    @property
    def note(self) -> str:
        return frame_note(0, self.sample.num_frames - 1)

    def turns(self, choice: str = "first", rng: random.Random | None = None) -> list[tuple[str, str]]:
        """(question, reference answer) pairs; the first question carries the frame note.
        ``choice``: ``first`` reference, or a ``random`` one (needs ``rng``)."""
        out = []
        for i, turn in enumerate(self.sample.turns):
            answer = turn.answers[0] if choice == "first" else rng.choice(turn.answers)
            out.append((f"{self.note} {turn.question}" if i == 0 else turn.question, answer))
        return out


def _shrink(frames: np.ndarray, max_side: int | None) -> np.ndarray:
    if not max_side or max(frames.shape[1:3]) <= max_side:
        return frames
    import cv2

    scale = max_side / max(frames.shape[1:3])
    size = (max(1, round(frames.shape[2] * scale)), max(1, round(frames.shape[1] * scale)))
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])


def _shrink_maps(maps: np.ndarray, max_side: int | None) -> np.ndarray:
    if not max_side or max(maps.shape[1:3]) <= max_side:
        return maps
    import torch
    import torch.nn.functional as F

    scale = max_side / max(maps.shape[1:3])
    size = (max(1, round(maps.shape[1] * scale)), max(1, round(maps.shape[2] * scale)))
    return F.adaptive_avg_pool2d(torch.from_numpy(maps)[:, None], size)[:, 0].numpy()


def load_dialogue_clips(dialogues: str | Path | Sequence[DialogueSample], dataset_root: str | Path,
                        heatmap_source: str | HeatmapSource = "ground_truth", num_frames: int = 16,
                        max_side: int | None = None, layout: str | None = None,
                        limit: int | None = None) -> list[DialogueClip]:
    """Join dialogue samples (a JSONL path or a list) with their videos in ``dataset_root``.
    ``max_side`` shrinks frames and heatmaps (area average) to save memory. A sample whose
    video is not in the dataset raises ``ValueError`` naming it."""
    samples = read_jsonl(dialogues) if isinstance(dialogues, (str, Path)) else list(dialogues)
    samples = samples[:limit] if limit else samples
    source = resolve_source(heatmap_source)
    videos: dict[str, dict[str, VideoSample]] = {}
    clips = []
    for sample in samples:
        if sample.split not in videos:
            videos[sample.split] = {v.name: v for v in load_dataset(dataset_root, sample.split, layout)}
        video = videos[sample.split].get(sample.video)
        if video is None:
            raise ValueError(f"dialogue video {sample.video!r} ({sample.split}) is not in the dataset {dataset_root}")
        indices = sample_indices(video.num_frames, num_frames)
        all_frames = video.read_frames(0, video.num_frames)
        frames = _shrink(all_frames[indices], max_side)
        heat = _shrink_maps(source(video, indices), max_side) if source is not None else None
        fps = sampled_fps(len(indices), video.num_frames, float(video.fps))
        clips.append(DialogueClip(sample, frames, heat, indices, fps))
    return clips
