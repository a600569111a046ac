"""Qwen2.5-VL backbone (the paper's): vision blocks {1, 8, 16, 32} + the LLM's token embeddings.

Loads a local checkpoint folder through transformers; nothing is downloaded.

Token order. The image processor flattens a video into patches ordered
``(t, h/m, w/m, m, m)`` (m = spatial_merge_size = 2; one row per 2-frame x 14 x 14 patch).
The vision tower then permutes groups of m*m patches into *window order* before the first
block, and every block emits tokens in that order. ``window_order_to_grid`` undoes it with
the argsort of the window index the model computes and returns a ``(t, h, w, D)`` grid.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from tvau_ros.core.backbones.base import check_layers

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def clip_to_patches(clip: torch.Tensor, patch: int = 14, temporal: int = 2,
                    merge: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalized clip ``(T, 3, H, W)`` -> Qwen2.5-VL ``pixel_values`` and ``grid_thw``.

    Same layout as the Qwen2-VL image processor for videos: an odd T repeats its last frame;
    H and W must be multiples of ``patch * merge`` (28).

    >>> pv, thw = clip_to_patches(torch.zeros(4, 3, 56, 84))
    >>> tuple(pv.shape), thw.tolist()
    ((48, 1176), [[2, 4, 6]])
    """
    if clip.ndim != 4 or clip.shape[1] != 3:
        raise ValueError(f"clip must be (T, 3, H, W), got shape {tuple(clip.shape)}")
    frames, channels, height, width = clip.shape
    side = patch * merge
    if height % side or width % side:
        raise ValueError(f"Qwen2.5-VL needs H and W that are multiples of {side}, got {height}x{width}")
    if frames % temporal:
        clip = torch.cat([clip, clip[-1:].expand(temporal - frames % temporal, -1, -1, -1)])
    gt, gh, gw = clip.shape[0] // temporal, height // patch, width // patch
    x = clip.reshape(gt, temporal, channels, gh // merge, merge, patch, gw // merge, merge, patch)
    x = x.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
    pixel_values = x.reshape(gt * gh * gw, channels * temporal * patch * patch)
    return pixel_values, torch.tensor([[gt, gh, gw]], dtype=torch.long)


def window_order_to_grid(tokens: torch.Tensor, window_index: torch.Tensor, grid_thw: Sequence[int],
                         merge: int = 2) -> torch.Tensor:
    """Block output in window order ``(N, D)`` -> spatial grid ``(t, h, w, D)``.

    ``window_index[k]`` is the processor-order index of the k-th merge group in window order,
    so ``argsort(window_index)`` restores processor order; the ``(m, m)`` patches inside each
    group are then put back into the rows and columns they came from.
    """
    t, h, w = (int(v) for v in grid_thw)
    unit = merge * merge
    groups = tokens.reshape(-1, unit, tokens.shape[-1])[torch.argsort(window_index)]
    grid = groups.reshape(t, h // merge, w // merge, merge, merge, -1).permute(0, 1, 3, 2, 4, 5)
    return grid.reshape(t, h, w, -1)


def vision_window_index(visual: nn.Module, grid_thw: torch.Tensor) -> torch.Tensor:
    """The window index the vision tower itself uses (method in transformers 4.x, helper in 5.x)."""
    if hasattr(visual, "get_window_index"):
        return visual.get_window_index(grid_thw)[0]
    from transformers.vision_utils import get_vision_window_index

    cfg = visual.config
    return get_vision_window_index(grid_thw, spatial_merge_size=cfg.spatial_merge_size, window_size=cfg.window_size,
                                   patch_size=cfg.patch_size)[0]


class QwenVisionLayers(nn.Module):
    """``forward(clip (T, 3, H, W)) -> (L, ceil(T/2), H/14, W/14, D_v)`` from forward hooks on the
    selected vision blocks, un-permuted into the grid and normalized with the merger's RMSNorm
    (the norm Qwen applies to the last block before the LLM), in float32."""

    def __init__(self, visual: nn.Module, layers: Sequence[int]):
        super().__init__()
        self.visual = visual
        self.layers = tuple(layers)
        cfg = visual.config
        self.patch, self.temporal, self.merge = cfg.patch_size, cfg.temporal_patch_size, cfg.spatial_merge_size

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        param = next(self.visual.parameters())
        pixel_values, grid_thw = clip_to_patches(clip, self.patch, self.temporal, self.merge)
        grid_thw = grid_thw.to(param.device)
        captured: dict[int, torch.Tensor] = {}
        handles = [
            self.visual.blocks[layer - 1].register_forward_hook(
                lambda _m, _i, out, layer=layer: captured.__setitem__(layer, out[0] if isinstance(out, tuple) else out)
            )
            for layer in self.layers
        ]
        try:
            self.visual(pixel_values.to(param.device, param.dtype), grid_thw=grid_thw)
        finally:
            for handle in handles:
                handle.remove()
        window_index = vision_window_index(self.visual, grid_thw)
        norm = self.visual.merger.ln_q
        grids = [window_order_to_grid(norm(captured[layer]), window_index, grid_thw[0].tolist(), self.merge)
                 for layer in self.layers]
        return torch.stack(grids).float()


class Qwen25VLBackbone:
    """``VisionTextBackbone`` over a ``Qwen2_5_VLForConditionalGeneration``.

    Text features (eq. 2) are the LLM's input token embeddings of each prompt token.

    >>> bb = Qwen25VLBackbone.from_pretrained("/models/Qwen2.5-VL-7B-Instruct")   # doctest: +SKIP
    """

    name = "qwen2_5_vl"
    size_multiple = 28
    pixel_mean = CLIP_MEAN
    pixel_std = CLIP_STD

    def __init__(self, model: nn.Module, tokenizer: PreTrainedTokenizerBase, layers: Sequence[int] = (1, 8, 16, 32)):
        visual = model.model.visual if hasattr(model, "model") and hasattr(model.model, "visual") else model.visual
        vcfg = visual.config
        self.depth = int(vcfg.depth)
        self.layers = check_layers(list(layers), self.depth, "the Qwen2.5-VL vision tower")
        self.visual_dim = int(vcfg.hidden_size)
        self.patch_size = int(vcfg.patch_size)
        self.temporal_patch = int(vcfg.temporal_patch_size)
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.embed_tokens = model.get_input_embeddings()
        self.text_dim = int(self.embed_tokens.weight.shape[1])
        self._vision = QwenVisionLayers(visual, self.layers)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, layers: Sequence[int] = (1, 8, 16, 32), dtype: str = "auto",
                        device: str | None = None) -> Qwen25VLBackbone:
        """Load weights (and the tokenizer, if the folder has one) from a local folder, without
        transformers' progress bar (it would land in node logs and in quiet CLI runs)."""
        from pathlib import Path

        from transformers import AutoTokenizer, Qwen2_5_VLForConditionalGeneration
        from transformers.utils import logging as hf_logging

        folder = Path(path)
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"no Qwen2.5-VL checkpoint at {folder} (config.json missing)")
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            model = Qwen2_5_VLForConditionalGeneration.from_pretrained(str(folder), local_files_only=True, dtype=dtype)
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        if device:
            model = model.to(device)
        if (folder / "tokenizer.json").is_file() or (folder / "vocab.json").is_file():
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        else:
            from tvau_ros.core.backbones.qwen_tokenizer import build_qwen_tokenizer

            tokenizer = build_qwen_tokenizer()
        return cls(model, tokenizer, layers)

    @property
    def vision(self) -> nn.Module:
        return self._vision

    @torch.no_grad()
    def encode(self, clip: torch.Tensor) -> torch.Tensor:
        return self._vision(clip)

    @torch.no_grad()
    def embed_text(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """LLM token embeddings ``(N, L, D)`` and mask ``(N, L)``; no special tokens are added."""
        if isinstance(prompts, str) or not prompts:
            raise ValueError("embed_text needs a non-empty list of prompt strings")
        batch = self.tokenizer(list(prompts), padding=True, return_tensors="pt", add_special_tokens=False)
        ids = batch["input_ids"].to(self.embed_tokens.weight.device)
        return self.embed_tokens(ids).float().cpu(), batch["attention_mask"]
