"""Video input of Qwen2.5-VL without torchvision: the video processor's resize, rescale,
normalisation and patch layout, written against its documented behaviour.

* ``smart_resize``: both sides rounded to multiples of ``factor`` (patch 14 x merge 2 = 28),
  the area kept within ``[min_pixels, max_pixels]`` at the frame's aspect ratio (video defaults
  128 x 28 x 28 and 768 x 28 x 28, or the model folder's ``video_preprocessor_config.json`` /
  ``preprocessor_config.json``).
* bicubic resize with antialiasing (the processor's resample), ``/ 255``, CLIP mean / std;
* patches in the processor's ``(t, h/m, w/m, m, m)`` order (``backbones.qwen2_5_vl.clip_to_patches``;
  an odd frame count repeats the last frame).

The LLM then sees ``grid_t * grid_h * grid_w / merge**2`` ``<|video_pad|>`` tokens.

>>> smart_resize(480, 640)                                  # a 640 x 480 patrol camera
(476, 644)
>>> settings = VideoSettings()
>>> clip = prepare_video(np.zeros((16, 480, 640, 3), np.uint8), settings)
>>> clip.grid_thw, clip.num_tokens
((8, 34, 46), 3128)
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tvau_ros.core.backbones.qwen2_5_vl import CLIP_MEAN, CLIP_STD, clip_to_patches

VIDEO_MIN_PIXELS = 128 * 28 * 28
VIDEO_MAX_PIXELS = 768 * 28 * 28


def smart_resize(height: int, width: int, factor: int = 28, min_pixels: int = VIDEO_MIN_PIXELS,
                 max_pixels: int = VIDEO_MAX_PIXELS) -> tuple[int, int]:
    """Target (height, width): multiples of ``factor`` near the input, area within the bounds."""
    if min(height, width) < 1:
        raise ValueError(f"frame size must be positive, got {height}x{width}")
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"frame aspect ratio must be below 200, got {height}x{width}")
    h, w = round(height / factor) * factor, round(width / factor) * factor
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h, w = math.ceil(height * beta / factor) * factor, math.ceil(width * beta / factor) * factor
    return h, w


@dataclass(frozen=True)
class VideoSettings:
    """The video processor's settings (defaults: Qwen2.5-VL's)."""

    min_pixels: int = VIDEO_MIN_PIXELS
    max_pixels: int = VIDEO_MAX_PIXELS
    patch_size: int = 14
    merge_size: int = 2
    temporal_patch_size: int = 2

    @property
    def factor(self) -> int:
        return self.patch_size * self.merge_size

    @classmethod
    def from_folder(cls, folder: str | Path) -> VideoSettings:
        """Read ``video_preprocessor_config.json`` (else ``preprocessor_config.json``) when present."""
        for name in ("video_preprocessor_config.json", "preprocessor_config.json"):
            path = Path(folder) / name
            if not path.is_file():
                continue
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ValueError(f"{path}: not readable JSON ({exc})") from None
            size = data.get("size") or {}
            values = {
                "min_pixels": data.get("min_pixels", size.get("shortest_edge")),
                "max_pixels": data.get("max_pixels", size.get("longest_edge")),
                "patch_size": data.get("patch_size"), "merge_size": data.get("merge_size"),
                "temporal_patch_size": data.get("temporal_patch_size"),
            }
            if name == "preprocessor_config.json":  # the image settings: keep the video pixel bounds
                values["min_pixels"] = values["max_pixels"] = None
            return cls(**{k: int(v) for k, v in values.items() if v is not None})
        return cls()


@dataclass
class VideoInput:
    """One clip ready for the vision tower."""

    pixel_values: torch.Tensor        # (grid_t * grid_h * grid_w, 3 * temporal * patch * patch)
    grid_thw: tuple[int, int, int]    # temporal patches, patch rows, patch columns
    size: tuple[int, int]             # resized (height, width)
    merge_size: int = 2

    @property
    def num_tokens(self) -> int:
        t, h, w = self.grid_thw
        return t * h * w // (self.merge_size ** 2)


def check_frames(frames: np.ndarray) -> None:
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        shape = getattr(frames, "shape", None)
        dtype = getattr(frames, "dtype", type(frames).__name__)
        raise ValueError(f"frames must be a (T, H, W, 3) uint8 RGB array, got shape {shape} dtype {dtype}")
    if frames.shape[0] < 1:
        raise ValueError("frames: the clip has no frames")


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (T, 3, h, w) float in [0, 255], bicubic with antialiasing."""
    clip = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    if tuple(clip.shape[-2:]) != tuple(size):
        clip = F.interpolate(clip, size=tuple(size), mode="bicubic", antialias=True, align_corners=False)
    return clip.clamp(0.0, 255.0)


def prepare_video(frames: np.ndarray, settings: VideoSettings = VideoSettings()) -> VideoInput:
    """(T, H, W, 3) uint8 RGB frames -> pixel values and grid, as the Qwen2.5-VL processor does."""
    check_frames(frames)
    size = smart_resize(frames.shape[1], frames.shape[2], settings.factor, settings.min_pixels, settings.max_pixels)
    clip = resize_frames(frames, size) / 255.0
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    pixel_values, grid = clip_to_patches((clip - mean) / std, settings.patch_size, settings.temporal_patch_size,
                                         settings.merge_size)
    return VideoInput(pixel_values, tuple(int(v) for v in grid[0].tolist()), size, settings.merge_size)
