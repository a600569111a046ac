"""Evaluate AHD checkpoints and baselines on the same frames of a dataset split.

Every method sees every frame of every video. AHD methods that share an encoder (same
backbone, layers, input size and encoder weights) share one encoder pass per clip; each
clip of ``clip_len`` frames is preceded by the ``motion_stride`` frames before it, so every
frame has its full motion token. Heatmaps are upsampled to the video's resolution; the frame score
is the heatmap maximum; detections are the heatmap's connected components above
``EvalOptions.base_threshold`` scored by their peak (``tvau_ros.metrics.heatmaps``).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from tvau_ros.core.clip import preprocess_clip
from tvau_ros.data.dataset import VideoSample
from tvau_ros.metrics.heatmaps import video_heatmaps_to_detections
from tvau_ros.metrics.predictions import Predictions
from tvau_ros.metrics.report import EvalOptions, Evaluation, evaluate_predictions

if TYPE_CHECKING:
    from tvau_ros.core.ahd_spec import AHDConfig
    from tvau_ros.core.backbones.base import VisionTextBackbone


@dataclass
class MethodResult:
    name: str
    frame_scores: dict[str, np.ndarray] = field(default_factory=dict)
    detections: dict[str, list] = field(default_factory=dict)
    seconds: float = 0.0
    samples: dict[str, np.ndarray] = field(default_factory=dict)  # video -> heatmap of its sample frame

    def evaluate(self, videos: Sequence[VideoSample], options: EvalOptions) -> Evaluation:
        preds = Predictions(source=self.name, frame_scores=self.frame_scores, detections=self.detections)
        return evaluate_predictions(preds, videos, options)


class ClipSubsample:
    """A view of a video holding every ``stride``-th clip of ``clip_len`` consecutive frames.

    It offers what the metrics read (``num_frames``, ``frame_labels``, ``tracks``,
    ``read_mask``, ``read_frames``) in its own frame numbering, plus ``segments``: the
    ranges of view frames that are consecutive in the source video. ``stride`` 1 is the
    whole video as one segment. ``read_context_frames`` adds up to ``context`` source
    frames before each segment (not scored; they give a segment's first frames their
    motion token).
    """

    def __init__(self, video: VideoSample, clip_len: int, stride: int, context: int = 0):
        self.video = video
        total = video.num_frames
        if stride == 1:
            chosen = [np.arange(total)]
        else:
            chosen = [np.arange(s, min(s + clip_len, total)) for s in range(0, total, clip_len * stride)]
        self.source_frames = np.concatenate(chosen)
        bounds = np.cumsum([0] + [len(c) for c in chosen])
        self.segments = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=False)]
        self.leads = [min(int(context), int(c[0])) for c in chosen]
        self.name, self.height, self.width = video.name, video.height, video.width
        self.meta, self.is_abnormal = video.meta, video.is_abnormal
        self.num_frames = int(self.source_frames.size)
        self.frame_labels = np.asarray(video.frame_labels)[self.source_frames]
        self.tracks = []
        for track in video.tracks:
            inside = np.flatnonzero((self.source_frames >= track.start) & (self.source_frames <= track.end))
            if inside.size:
                self.tracks.append(type(track)(track.object_id, int(inside[0]), int(inside[-1])))

    def read_mask(self, frame: int) -> np.ndarray:
        return self.video.read_mask(int(self.source_frames[frame]))

    def read_frames(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        stop = self.num_frames if stop is None else stop
        return self._read_source(self.source_frames[start:stop])

    def _read_source(self, chosen: np.ndarray) -> np.ndarray:
        """Source frames ``chosen`` (sorted) in one sequential decode."""
        if chosen.size == 0:
            return np.empty((0, self.height, self.width, 3), np.uint8)
        return self.video.read_frames(int(chosen[0]), int(chosen[-1]) + 1)[chosen - chosen[0]]

    def read_context_frames(self) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
        """All view frames with each segment's context frames before it, and per segment
        ``(context_start, start, stop)`` in that array: ``[context_start, start)`` is context,
        ``[start, stop)`` the segment's scored frames."""
        wanted = np.concatenate([np.arange(int(self.source_frames[a]) - lead, int(self.source_frames[a]))
                                 for (a, _), lead in zip(self.segments, self.leads, strict=True)]
                                + [self.source_frames])
        wanted = np.unique(wanted)  # sorted source frames
        frames = self._read_source(wanted)
        spans = []
        for (a, b), lead in zip(self.segments, self.leads, strict=True):
            start = int(np.searchsorted(wanted, self.source_frames[a]))
            spans.append((start - lead, start, start + b - a))
        return frames, spans


def sample_frame(video: VideoSample) -> int:
    """The frame shown in the overlay grid: the middle abnormal frame, else the middle frame."""
    abnormal = np.flatnonzero(np.asarray(video.frame_labels))
    return int(abnormal[abnormal.size // 2]) if abnormal.size else video.num_frames // 2


class AHDGroup:
    """AHD heads that share one frozen encoder."""

    def __init__(self, backbone: VisionTextBackbone, config: AHDConfig, heads: dict[str, torch.nn.Module],
                 device: str = "cpu"):
        self.backbone, self.config, self.heads, self.device = backbone, config, heads, device
        backbone.vision.to(device)
        for head in heads.values():
            head.to(device)

    @property
    def context(self) -> int:
        """Earlier frames each clip needs for its motion tokens."""
        return max([h.motion_stride * h.temporal_patch for h in self.heads.values() if h.motion] or [0])

    @torch.no_grad()
    def heatmaps(self, frames: np.ndarray, spans: Sequence[tuple[int, int, int]],
                 out_size: tuple[int, int]) -> dict[str, np.ndarray]:
        """Frames and spans ``(context_start, start, stop)`` (consecutive frames; see
        ``ClipSubsample.read_context_frames``) -> per head ``(T, H, W)`` heatmaps at
        ``out_size`` of the scored frames, in order."""
        clip_len, context = self.config.clip_len, self.context
        clip = preprocess_clip(frames, self.config.input_size, self.backbone.pixel_mean, self.backbone.pixel_std)
        out = {name: [] for name in self.heads}
        for context_start, seg_start, seg_stop in spans:
            for start in range(seg_start, seg_stop, clip_len):
                lead = min(context, start - context_start)  # earlier frames, for the motion token
                piece = torch.from_numpy(clip[start - lead:min(start + clip_len, seg_stop)]).to(self.device)
                tokens = self.backbone.encode(piece)
                for name, head in self.heads.items():
                    maps = head.class_maps(tokens)
                    out[name].append(head.heatmap(maps, frames=piece.shape[0], size=out_size)[lead:].cpu().numpy())
        return {name: np.concatenate(parts) for name, parts in out.items()}


def run_methods(
    videos: Sequence[VideoSample],
    groups: Sequence[AHDGroup],
    engines: dict[str, Callable[[np.ndarray, Sequence[tuple[int, int]]], np.ndarray]],
    options: EvalOptions,
    progress: bool = True,
) -> dict[str, MethodResult]:
    """Run every AHD group and every other engine (frames ``(T,H,W,3)`` and their consecutive
    segments -> heatmaps ``(T,H,W)``) over ``videos`` (``ClipSubsample`` views); keep frame
    scores, detections and one sample heatmap."""
    from tqdm import tqdm

    results: dict[str, MethodResult] = {}
    for group in groups:
        for name in group.heads:
            results[name] = MethodResult(name)
    for name in engines:
        results[name] = MethodResult(name)
    for video in tqdm(videos, desc="evaluating", unit="video", disable=not progress):
        frames, spans = video.read_context_frames()
        scored = np.concatenate([np.arange(start, stop) for _, start, stop in spans])
        size = (video.height, video.width)
        produced: dict[str, tuple[np.ndarray, float]] = {}
        for group in groups:
            t0 = time.perf_counter()
            maps = group.heatmaps(frames, spans, size)
            share = (time.perf_counter() - t0) / len(maps)
            produced.update({name: (m, share) for name, m in maps.items()})
        for name, engine in engines.items():  # engines see the scored frames only
            t0 = time.perf_counter()
            produced[name] = (engine(frames[scored], video.segments), time.perf_counter() - t0)
        for name, (heatmaps, seconds) in produced.items():
            result = results[name]
            result.seconds += seconds
            result.frame_scores[video.name] = heatmaps.reshape(heatmaps.shape[0], -1).max(1)
            result.detections[video.name] = video_heatmaps_to_detections(
                video.name, heatmaps, options.base_threshold, options.min_area)
            result.samples[video.name] = heatmaps[sample_frame(video)].astype(np.float16)
    return results


def overlay_grid(videos: Sequence[VideoSample], results: dict[str, MethodResult], path: Path, rows: int = 6) -> Path:
    """PNG: per row one abnormal video's sample frame, its GT mask, and each method's heatmap overlay."""
    import cv2

    chosen = [v for v in videos if v.is_abnormal][:rows] or list(videos)[:rows]
    tiles = []
    for video in chosen:
        frame_index = sample_frame(video)
        frame = video.read_frames(frame_index, frame_index + 1)[0]
        mask = (video.read_mask(frame_index) > 0).astype(np.uint8) * 255
        row = [frame, np.repeat(mask[:, :, None], 3, axis=2)]
        for result in results.values():
            heat = np.clip(result.samples[video.name].astype(np.float32), 0, 1)
            colour = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)[:, :, ::-1]
            row.append(cv2.addWeighted(frame, 0.5, colour, 0.5, 0))
        tiles.append(np.concatenate(row, axis=1))
    header = np.full((24, tiles[0].shape[1], 3), 255, np.uint8)
    labels = ["frame", "GT mask", *results]
    width = chosen[0].width
    for i, label in enumerate(labels):
        cv2.putText(header, label[:28], (i * width + 4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    image = np.concatenate([header, *tiles], axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image[:, :, ::-1])
    return path


def motion_baseline_heatmaps(clip_length: int = 8) -> Callable[[np.ndarray], np.ndarray]:
    """The classical baseline in clips of ``clip_length`` consecutive frames per segment (the
    last clip of a segment is its last ``clip_length`` frames)."""
    from tvau_ros.core.motion_baseline import MotionBaselineConfig, MotionBaselineEngine

    engine = MotionBaselineEngine(MotionBaselineConfig(clip_length=clip_length))

    def run(frames: np.ndarray, segments: Sequence[tuple[int, int]]) -> np.ndarray:
        out = np.empty(frames.shape[:3], np.float32)
        for seg_start, seg_stop in segments:
            if seg_stop - seg_start == 1:  # needs two frames: compare the frame with itself
                out[seg_start] = engine.infer(frames[[seg_start, seg_start]]).heatmap[0]
                continue
            for start in range(seg_start, seg_stop, clip_length):
                begin = max(seg_start, min(start, seg_stop - clip_length))
                stop = min(begin + clip_length, seg_stop)
                out[start:stop] = engine.infer(frames[begin:stop]).heatmap[start - begin:]
        return out

    return run


def per_type_micro_auc(result: MethodResult, videos: Sequence[VideoSample]) -> dict[str, float]:
    """Frame micro AUC per anomaly type: that type's abnormal videos plus every normal video."""
    from tvau_ros.metrics.frame_auc import FrameScores, micro_auc
    from tvau_ros.train.features import video_categories

    normal = [v for v in videos if not v.is_abnormal]
    types = sorted({c for v in videos for c in video_categories(v)})
    out = {}
    for kind in types:
        chosen = normal + [v for v in videos if kind in video_categories(v)]
        out[kind] = micro_auc([FrameScores(v.name, np.asarray(v.frame_labels), result.frame_scores[v.name])
                               for v in chosen])
    return out


def load_groups(checkpoints: dict[str, str], device: str = "cpu") -> list[AHDGroup]:
    """Load checkpoints and group the heads by the encoder they need, on ``device``."""
    from tvau_ros.core.ahd import check_input_size
    from tvau_ros.core.backbones import build_backbone
    from tvau_ros.core.checkpoint import load_ahd_checkpoint
    from tvau_ros.train.features import randomize_encoder

    grouped: dict[tuple, list] = {}
    for name, path in checkpoints.items():
        ckpt = load_ahd_checkpoint(path)
        train = ckpt.extra.get("train_config", {})
        init = (train.get("encoder_init", "pretrained"),
                train.get("seed", 0) if train.get("encoder_init") == "random" else None)
        cfg = ckpt.config
        key = (cfg.backbone, cfg.layers, cfg.input_size, cfg.model_path, init)
        grouped.setdefault(key, []).append((name, ckpt))
    groups = []
    for (backbone_name, layers, _, model_path, (init, seed)), members in grouped.items():
        cfg = members[0][1].config
        backbone = build_backbone(backbone_name, layers, cfg.cache_dir, model_path)
        check_input_size(cfg, backbone)
        if init == "random":
            randomize_encoder(backbone.vision, seed)
        heads = {name: ckpt.build_head().eval() for name, ckpt in members}
        groups.append(AHDGroup(backbone, cfg, heads, device))
    return groups


def evaluate_methods(videos: Sequence[VideoSample], checkpoints: dict[str, str], motion_baseline: bool,
                     options: EvalOptions, out_dir: Path, progress: bool = True, clip_stride: int = 1,
                     device: str = "cpu") -> list[dict]:
    """Run, score and write everything for one split; returns one table row per method.

    ``clip_stride`` k > 1 evaluates every k-th clip of ``clip_len`` frames of every video
    (all methods on the same frames), a uniform 1/k subsample of the split."""
    from tvau_ros.metrics.report import write_evaluation

    torch.set_grad_enabled(False)
    groups = load_groups(checkpoints, device)
    clip_len = groups[0].config.clip_len if groups else 8
    context = max([g.context for g in groups] or [0])
    videos = [ClipSubsample(v, clip_len, clip_stride, context) for v in videos]
    engines = {"motion_baseline": motion_baseline_heatmaps()} if motion_baseline else {}
    results = run_methods(videos, groups, engines, options, progress)
    frames = sum(v.num_frames for v in videos)
    rows = []
    for name, result in results.items():
        evaluation = result.evaluate(videos, options)
        write_evaluation(evaluation, Path(out_dir) / name)
        frame, region = evaluation.report["frame"] or {}, evaluation.report["region"] or {}
        rows.append({"method": name, "videos": len(videos), "frames": frames,
                     "micro_auc": frame.get("micro_auc", float("nan")),
                     "macro_auc": frame.get("macro_auc", float("nan")),
                     "rbdc": region.get("rbdc", float("nan")), "tbdc": region.get("tbdc", float("nan")),
                     "fps": frames / max(result.seconds, 1e-9),
                     "micro_auc_by_type": per_type_micro_auc(result, videos)})
    overlay_grid(videos, results, Path(out_dir) / "overlays.png")
    return rows
