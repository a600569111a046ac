"""Evaluate AHD checkpoints and baselines on the same frames of a dataset split.

Every method sees every frame of every video. AHD methods that share an encoder (same
backbone, layers, input size and encoder weights) share one encoder pass per clip; each
clip of ``clip_len`` frames is preceded by the previous clip's last frame so every frame
has its motion token. Heatmaps are upsampled to the video's resolution; the frame score
is the heatmap maximum; detections are the heatmap's connected components above
``EvalOptions.base_threshold`` scored by their peak (``tvau_ros.metrics.heatmaps``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from tvau_ros.core.clip import preprocess_clip
from tvau_ros.data.dataset import VideoSample
from tvau_ros.metrics.heatmaps import video_heatmaps_to_detections
from tvau_ros.metrics.predictions import Predictions
from tvau_ros.metrics.report import EvalOptions, Evaluation, evaluate_predictions


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


def sample_frame(video: VideoSample) -> int:
    """The frame shown in the overlay grid: the middle abnormal frame, else the middle frame."""
    abnormal = np.flatnonzero(np.asarray(video.frame_labels))
    return int(abnormal[abnormal.size // 2]) if abnormal.size else video.num_frames // 2


class AHDGroup:
    """AHD heads that share one frozen encoder."""

    def __init__(self, backbone, config, heads: dict[str, torch.nn.Module]):
        self.backbone, self.config, self.heads = backbone, config, heads

    @torch.no_grad()
    def heatmaps(self, frames: np.ndarray, out_size: tuple[int, int]) -> dict[str, np.ndarray]:
        """All frames of a video -> per head ``(T, H, W)`` heatmaps at ``out_size``."""
        clip_len = self.config.clip_len
        clip = preprocess_clip(frames, self.config.input_size, self.backbone.pixel_mean, self.backbone.pixel_std)
        out = {name: [] for name in self.heads}
        for start in range(0, clip.shape[0], clip_len):
            lead = 1 if start else 0  # the previous frame, for the motion token
            tokens = self.backbone.encode(torch.from_numpy(clip[start - lead:start + clip_len]))
            for name, head in self.heads.items():
                maps = head.class_maps(tokens)
                out[name].append(head.heatmap(maps, frames=tokens.shape[1], size=out_size)[lead:].numpy())
        return {name: np.concatenate(parts) for name, parts in out.items()}


def run_methods(
    videos: Sequence[VideoSample],
    groups: Sequence[AHDGroup],
    engines: dict[str, Callable[[np.ndarray], np.ndarray]],
    options: EvalOptions,
    progress: bool = True,
) -> dict[str, MethodResult]:
    """Run every AHD group and every other engine (frames ``(T,H,W,3)`` -> heatmaps
    ``(T,H,W)``) over ``videos``; keep frame scores, detections and one sample heatmap."""
    from tqdm import tqdm

    results: dict[str, MethodResult] = {}
    for group in groups:
        for name in group.heads:
            results[name] = MethodResult(name)
    for name in engines:
        results[name] = MethodResult(name)
    for video in tqdm(videos, desc="evaluating", unit="video", disable=not progress):
        frames = video.read_frames()
        size = (video.height, video.width)
        produced: dict[str, tuple[np.ndarray, float]] = {}
        for group in groups:
            t0 = time.perf_counter()
            maps = group.heatmaps(frames, size)
            share = (time.perf_counter() - t0) / len(maps)
            produced.update({name: (m, share) for name, m in maps.items()})
        for name, engine in engines.items():
            t0 = time.perf_counter()
            produced[name] = (engine(frames), time.perf_counter() - t0)
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
    """The classical baseline over a whole video in consecutive clips of ``clip_length`` frames
    (the last clip is the video's last ``clip_length`` frames)."""
    from tvau_ros.core.motion_baseline import MotionBaselineConfig, MotionBaselineEngine

    engine = MotionBaselineEngine(MotionBaselineConfig(clip_length=clip_length))

    def run(frames: np.ndarray) -> np.ndarray:
        total = frames.shape[0]
        out = np.empty(frames.shape[:3], np.float32)
        for start in range(0, total, clip_length):
            begin = max(0, min(start, total - clip_length))
            out[start:start + clip_length] = engine.infer(frames[begin:begin + clip_length]).heatmap[start - begin:]
        return out

    return run


def load_groups(checkpoints: dict[str, str]) -> list[AHDGroup]:
    """Load checkpoints and group the heads by the encoder they need."""
    from tvau_ros.core.backbones import build_backbone
    from tvau_ros.core.checkpoint import load_ahd_checkpoint
    from tvau_ros.train.features import randomize_encoder

    grouped: dict[tuple, list] = {}
    for name, path in checkpoints.items():
        ckpt = load_ahd_checkpoint(path)
        train = ckpt.extra.get("train_config", {})
        init = (train.get("encoder_init", "pretrained"), train.get("seed", 0) if train.get("encoder_init") == "random" else None)
        cfg = ckpt.config
        key = (cfg.backbone, cfg.layers, cfg.input_size, cfg.model_path, init)
        grouped.setdefault(key, []).append((name, ckpt))
    groups = []
    for (backbone_name, layers, _, model_path, (init, seed)), members in grouped.items():
        cfg = members[0][1].config
        backbone = build_backbone(backbone_name, layers, cfg.cache_dir, model_path)
        if init == "random":
            randomize_encoder(backbone.vision, seed)
        heads = {name: ckpt.build_head().eval() for name, ckpt in members}
        groups.append(AHDGroup(backbone, cfg, heads))
    return groups


def evaluate_methods(videos: Sequence[VideoSample], checkpoints: dict[str, str], motion_baseline: bool,
                     options: EvalOptions, out_dir: Path, progress: bool = True) -> list[dict]:
    """Run, score and write everything for one split; returns one table row per method."""
    from tvau_ros.metrics.report import write_evaluation

    torch.set_grad_enabled(False)
    groups = load_groups(checkpoints)
    engines = {"motion_baseline": motion_baseline_heatmaps()} if motion_baseline else {}
    results = run_methods(videos, groups, engines, options, progress)
    frames = sum(v.num_frames for v in videos)
    rows = []
    for name, result in results.items():
        evaluation = result.evaluate(videos, options)
        write_evaluation(evaluation, Path(out_dir) / name)
        frame, region = evaluation.report["frame"] or {}, evaluation.report["region"] or {}
        rows.append({"method": name, "videos": len(videos), "frames": frames,
                     "micro_auc": frame.get("micro_auc", float("nan")), "macro_auc": frame.get("macro_auc", float("nan")),
                     "rbdc": region.get("rbdc", float("nan")), "tbdc": region.get("tbdc", float("nan")),
                     "fps": frames / max(result.seconds, 1e-9)})
    overlay_grid(videos, results, Path(out_dir) / "overlays.png")
    return rows
