"""Clip preprocessing: uint8 RGB frames -> normalized model input, and heatmaps back to frame size.

Resize policy: every frame is resized to the configured ``input_size`` (H, W) as is
(aspect ratio not kept), because the encoders need sides that are multiples of their patch
size (14 for DINOv2, 28 for Qwen2.5-VL) and a fixed token grid keeps the ONNX graph static.
To keep the camera's aspect ratio, configure an ``input_size`` with that ratio;
``aspect_input_size`` suggests one. Downscaling uses area interpolation, upscaling bilinear.

>>> frames = np.zeros((2, 480, 640, 3), np.uint8)
>>> preprocess_clip(frames, (168, 224), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)).shape
(2, 3, 168, 224)
>>> aspect_input_size((480, 640), short_side=168, multiple=14)
(168, 224)
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def validate_frames(frames: object) -> np.ndarray:
    """Check a clip of RGB frames: numpy uint8 array of shape (T, H, W, 3) with T, H, W >= 1."""
    if not isinstance(frames, np.ndarray):
        raise ValueError(f"frames must be a numpy array (T, H, W, 3) uint8, got {type(frames).__name__}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must have dtype uint8 (RGB 0-255), got dtype {frames.dtype}")
    if frames.ndim != 4:
        raise ValueError(f"frames must have shape (T, H, W, 3), got shape {frames.shape} ({frames.ndim} dims)")
    if frames.shape[-1] != 3:
        raise ValueError(f"frames must have 3 channels (RGB), got {frames.shape[-1]} channels in shape {frames.shape}")
    if min(frames.shape[:3]) < 1:
        raise ValueError(f"frames must have T, H, W >= 1, got shape {frames.shape}")
    return frames


def validate_model_input(clip: object, size: Sequence[int]) -> np.ndarray:
    """Check a preprocessed clip: float32 (T, 3, H, W) at ``size`` with finite values."""
    if not isinstance(clip, np.ndarray) or clip.dtype != np.float32:
        kind = clip.dtype if isinstance(clip, np.ndarray) else type(clip).__name__
        raise ValueError(f"preprocessed clip must be a float32 numpy array, got {kind}")
    expected = (3, int(size[0]), int(size[1]))
    if clip.ndim != 4 or clip.shape[1:] != expected or clip.shape[0] < 1:
        raise ValueError(f"preprocessed clip must have shape (T, {expected[0]}, {expected[1]}, {expected[2]}), "
                         f"got {clip.shape}")
    if not np.isfinite(clip).all():
        raise ValueError("preprocessed clip contains NaN or infinite values")
    return clip


def preprocess_clip(frames: np.ndarray, size: Sequence[int], mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """uint8 RGB ``(T, H, W, 3)`` -> float32 ``(T, 3, size[0], size[1])`` normalized with mean/std."""
    frames = validate_frames(frames)
    out_h, out_w = int(size[0]), int(size[1])
    if out_h < 1 or out_w < 1:
        raise ValueError(f"input size must be positive, got {tuple(size)}")
    _, in_h, in_w, _ = frames.shape
    interpolation = cv2.INTER_AREA if out_h * out_w < in_h * in_w else cv2.INTER_LINEAR
    resized = np.stack([cv2.resize(f, (out_w, out_h), interpolation=interpolation) for f in frames])
    scale = np.float32(1.0 / 255.0)
    mean_arr = np.asarray(mean, np.float32).reshape(1, 3, 1, 1)
    std_arr = np.asarray(std, np.float32).reshape(1, 3, 1, 1)
    clip = resized.transpose(0, 3, 1, 2).astype(np.float32) * scale
    return np.ascontiguousarray((clip - mean_arr) / std_arr)


def resize_heatmap(heatmap: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Bilinear resize of ``(T, h, w)`` heatmaps to ``(T, size[0], size[1])`` (e.g. camera frames)."""
    if heatmap.ndim != 3:
        raise ValueError(f"heatmap must have shape (T, H, W), got {heatmap.shape}")
    out = [cv2.resize(np.asarray(m, np.float32), (int(size[1]), int(size[0])), interpolation=cv2.INTER_LINEAR)
           for m in heatmap]
    return np.stack(out)


def aspect_input_size(frame_hw: Sequence[int], short_side: int, multiple: int) -> tuple[int, int]:
    """An input size near ``frame_hw``'s aspect ratio with the short side ``short_side`` and both
    sides multiples of ``multiple``."""
    h, w = int(frame_hw[0]), int(frame_hw[1])
    if short_side % multiple:
        raise ValueError(f"short_side {short_side} is not a multiple of {multiple}")
    long_side = max(multiple, round(short_side * max(h, w) / min(h, w) / multiple) * multiple)
    return (short_side, long_side) if h <= w else (long_side, short_side)
