"""Anomaly Heatmap Decoder (AHD), paper §3.2.1, eq. 2-8, and its torch inference engine.

Eq. 2-3  T_c = mean of E_t's token features over all tokens of all prompts of category c
         (padding masked out; [CLS]/[SEP] or other special tokens count as tokens).
Eq. 4    V_i = block i output of E_v for i in ``layers`` (from the backbone).
Eq. 5    h_c^i[t,h,w] = cos(MLP_i(V_i[t,:,h,w]), T_c)       (one MLP per layer).
Eq. 6    H_c = sum_i w_i h_c^i                              (w_i learnable, init 1/L).
Eq. 7-8  H = softmax(s * H_c over {normal, abnormal})[abnormal], with a FIXED logit scale s
         (config ``logit_scale``): the w_i are unconstrained, so they already learn the scale;
         a learned s would be a redundant degree of freedom. s only sets the starting
         sharpness. ``class_maps`` is H_c itself (before scaling), which RAE consumes.
Motion   with ``motion: true`` each token becomes [V_i[t], V_i[t] - V_i[t-k]] before the MLP,
         k = ``motion_stride`` (t < k compares with the clip's first step, so t=0 gets a zero
         difference), standing in for Qwen2.5-VL's 2-frame temporal patches on frame-wise
         encoders; switch it off to ablate.

Training runs on cached encoder outputs: ``AnomalyHeatmapDecoder.forward(tokens)`` takes the
``(L, T', H', W', D_v)`` tensor of ``backbone.encode`` (or a batch of them), so the encoder
never reruns.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# the torch-free half (config, output, engine loader) lives in ahd_spec; these names are used here
from tvau_ros.core.ahd_spec import AHDConfig, AHDOutput, heatmap_result, motion_context
from tvau_ros.core.engine import HeatmapResult
from tvau_ros.core.prompts import ABNORMAL, PromptSet, load_prompt_set

if TYPE_CHECKING:
    from tvau_ros.core.backbones.base import VisionTextBackbone


def pool_text_features(token_features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 3: mean over all prompts and all non-padding tokens, ``(N, L, D), (N, L) -> (D,)``.

    >>> feats = torch.tensor([[[1.0], [3.0]], [[5.0], [100.0]]])
    >>> pool_text_features(feats, torch.tensor([[1, 1], [1, 0]]))   # (1 + 3 + 5) / 3
    tensor([3.])
    """
    if token_features.ndim != 3 or mask.shape != token_features.shape[:2]:
        raise ValueError(f"expected token features (N, L, D) and mask (N, L), "
                         f"got {tuple(token_features.shape)} and {tuple(mask.shape)}")
    weights = mask.to(token_features.dtype).unsqueeze(-1)
    count = weights.sum()
    if count == 0:
        raise ValueError("all tokens are padding: cannot pool text features")
    return (token_features * weights).sum(dim=(0, 1)) / count


def compute_text_features(backbone: VisionTextBackbone, prompt_set: PromptSet) -> torch.Tensor:
    """``(2, D)`` category features [T_normal, T_abnormal] from the backbone's text encoder."""
    return torch.stack([pool_text_features(*backbone.embed_text(list(p))) for p in prompt_set.by_category()])


def cached_text_features(backbone: VisionTextBackbone, prompt_set: PromptSet,
                         cache: str | os.PathLike | None = None) -> torch.Tensor:
    """``compute_text_features``, kept in ``<cache>/text_features_<backbone>_<prompt digest>.safetensors``
    (cache: ``backbones.base.cache_dir``) so later runs, and machines without the text encoder
    installed, read the file instead of running the encoder."""
    from safetensors.torch import load_file

    from tvau_ros.core.backbones.base import cache_dir, save_tensors_atomic

    path = cache_dir(cache) / f"text_features_{backbone.name}_{prompt_set.digest()}.safetensors"
    if path.is_file():
        return load_file(str(path))["text_features"]
    features = compute_text_features(backbone, prompt_set)
    save_tensors_atomic({"text_features": features}, path, {"prompts": prompt_set.source})
    return features


class AnomalyHeatmapDecoder(nn.Module):
    """The trainable part of AHD: per-layer MLPs (eq. 5), layer weights w_i (eq. 6), the softmax
    (eq. 7) and the abnormal channel (eq. 8). ``text_features`` (2, D) is a buffer, so it lives in
    the checkpoint and is a constant of an exported ONNX graph.

    >>> head = AnomalyHeatmapDecoder(num_layers=2, visual_dim=8, text_dim=4, text_features=torch.randn(2, 4))
    >>> out = head(torch.randn(2, 3, 5, 6, 8))          # (L, T', H', W', D_v)
    >>> tuple(out.class_maps.shape), tuple(out.heatmap.shape)
    ((3, 2, 5, 6), (3, 70, 84))
    """

    def __init__(
        self,
        num_layers: int,
        visual_dim: int,
        text_dim: int,
        text_features: torch.Tensor | None = None,
        motion: bool = True,
        mlp_hidden: int = 384,
        logit_scale: float = 10.0,
        patch_size: int = 14,
        temporal_patch: int = 1,
        motion_stride: int = 1,
    ):
        super().__init__()
        self.num_layers, self.visual_dim, self.text_dim = num_layers, visual_dim, text_dim
        self.motion, self.logit_scale = bool(motion), float(logit_scale)
        self.motion_stride = int(motion_stride)
        self.patch_size, self.temporal_patch = int(patch_size), int(temporal_patch)
        in_dim = visual_dim * (2 if self.motion else 1)
        self.projections = nn.ModuleList(
            nn.Sequential(nn.Linear(in_dim, mlp_hidden), nn.GELU(), nn.Linear(mlp_hidden, text_dim))
            for _ in range(num_layers)
        )
        self.layer_weights = nn.Parameter(torch.full((num_layers,), 1.0 / num_layers))
        if text_features is None:
            text_features = torch.zeros(2, text_dim)
        self.register_buffer("text_features", self._check_text(text_features))

    def _check_text(self, text_features: torch.Tensor) -> torch.Tensor:
        if tuple(text_features.shape) != (2, self.text_dim):
            raise ValueError(f"text features must have shape (2, {self.text_dim}) [normal, abnormal], "
                             f"got {tuple(text_features.shape)}")
        return text_features.detach().float().clone()

    def set_text_features(self, text_features: torch.Tensor) -> None:
        self.text_features.copy_(self._check_text(text_features))

    def motion_tokens(self, tokens: torch.Tensor, stride: int | None = None) -> torch.Tensor:
        """``[V[t], V[t] - V[max(t - k, 0)]]`` along the time axis (-4), k = ``stride`` (default
        ``motion_stride``); the first step differs from itself."""
        stride = self.motion_stride if stride is None else int(stride)
        steps = torch.arange(tokens.shape[-4], device=tokens.device)
        previous = tokens.index_select(-4, (steps - stride).clamp(min=0))
        return torch.cat([tokens, tokens - previous], dim=-1)

    def class_maps(self, tokens: torch.Tensor, text_features: torch.Tensor | None = None,
                   motion_stride: int | None = None) -> torch.Tensor:
        """Eq. 5-6: ``(…, L, T', H', W', D_v) -> H_c (…, T', 2, H', W')``. ``motion_stride``
        overrides the head's k, e.g. 1 for cached (t - k, t) pairs that sit side by side."""
        if tokens.ndim not in (5, 6) or tokens.shape[-5] != self.num_layers or tokens.shape[-1] != self.visual_dim:
            raise ValueError(
                f"tokens must have shape ([B,] {self.num_layers}, T', H', W', {self.visual_dim}), "
                f"got {tuple(tokens.shape)}"
            )
        text = F.normalize(self.text_features if text_features is None else text_features, dim=-1)
        tokens = tokens.to(self.layer_weights.dtype)  # cached tokens may be stored as float16
        if self.motion:
            tokens = self.motion_tokens(tokens, motion_stride)
        fused = None
        for i, mlp in enumerate(self.projections):
            visual = F.normalize(mlp(tokens.select(-5, i)), dim=-1)  # (…, T', H', W', D)
            grid = visual.shape[-3:-1]
            # cosine similarity, eq. 5: (2, D) @ (…, T', D, H'W') -> (…, T', 2, H', W')
            similarity = torch.matmul(text, visual.flatten(-3, -2).transpose(-1, -2)).unflatten(-1, grid)
            term = self.layer_weights[i] * similarity
            fused = term if fused is None else fused + term
        return fused

    def heatmap(self, class_maps: torch.Tensor, frames: int | None = None,
                size: Sequence[int] | None = None) -> torch.Tensor:
        """Eq. 7-8 plus upsampling: ``H_c (…, T', 2, H', W') -> H (…, T, H, W)`` in [0, 1].

        Each temporal patch covers ``temporal_patch`` frames (nearest in time, trimmed to
        ``frames``); space is upsampled bilinearly to ``size`` (default: H' x W' patches).
        """
        abnormal = torch.softmax(self.logit_scale * class_maps, dim=-3).select(-3, ABNORMAL)
        if self.temporal_patch > 1:
            abnormal = abnormal.repeat_interleave(self.temporal_patch, dim=-3)
        if frames is not None:
            abnormal = abnormal[..., :frames, :, :]
        grid_h, grid_w = abnormal.shape[-2:]
        size = tuple(size) if size is not None else (grid_h * self.patch_size, grid_w * self.patch_size)
        lead = abnormal.shape[:-2]
        up = F.interpolate(abnormal.reshape(-1, 1, grid_h, grid_w), size=size, mode="bilinear", align_corners=False)
        return up.reshape(*lead, *size)

    def forward(self, tokens: torch.Tensor, frames: int | None = None, size: Sequence[int] | None = None,
                text_features: torch.Tensor | None = None) -> AHDOutput:
        maps = self.class_maps(tokens, text_features)
        return AHDOutput(class_maps=maps, heatmap=self.heatmap(maps, frames, size))

    def dims(self) -> dict[str, int]:
        """The shape facts a checkpoint needs to rebuild this head without its backbone."""
        return {"num_layers": self.num_layers, "visual_dim": self.visual_dim, "text_dim": self.text_dim,
                "patch_size": self.patch_size, "temporal_patch": self.temporal_patch}

    @classmethod
    def from_config(cls, config: AHDConfig, dims: dict[str, int],
                    text_features: torch.Tensor | None = None) -> AnomalyHeatmapDecoder:
        return cls(text_features=text_features, motion=config.motion, mlp_hidden=config.mlp_hidden,
                   logit_scale=config.logit_scale, motion_stride=config.motion_stride, **dims)


class AHDModel(nn.Module):
    """Encoder + AHD as one module: normalized clip ``(T, 3, H, W)`` -> ``(heatmap (T, H, W),
    class_maps (T', 2, H', W'))``. This is the graph exported to ONNX."""

    def __init__(self, vision: nn.Module, head: AnomalyHeatmapDecoder):
        super().__init__()
        self.vision, self.head = vision, head

    def forward(self, clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        maps = self.head.class_maps(self.vision(clip))
        return self.head.heatmap(maps, frames=clip.shape[0], size=clip.shape[-2:]), maps


def backbone_dims(backbone: VisionTextBackbone) -> dict[str, int]:
    return {"num_layers": len(backbone.layers), "visual_dim": backbone.visual_dim, "text_dim": backbone.text_dim,
            "patch_size": backbone.patch_size, "temporal_patch": backbone.temporal_patch}


def check_input_size(config: AHDConfig, backbone: VisionTextBackbone) -> None:
    bad = [s for s in config.input_size if s % backbone.size_multiple]
    if bad:
        raise ValueError(f"input_size {list(config.input_size)} must be multiples of {backbone.size_multiple} "
                         f"for backbone {backbone.name}")


@contextlib.contextmanager
def _seeded(seed: int | None):
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class TorchAHDEngine:
    """Inference with torch: ``infer(frames uint8 (T, H, W, 3)) -> AHDOutput`` (numpy arrays).

    Satisfies ``tvau_ros.core.engine.HeatmapEngine`` (``model_id``, ``clip_length``, ``infer``);
    ``OrtAHDEngine`` (tvau_ros.core.ahd_ort) has the same interface.
    ``infer_preprocessed`` returns the heatmap at the model input size, ``infer`` at the frames' size.

    >>> engine = TorchAHDEngine.from_config(load_ahd_config("default"), seed=0)   # doctest: +SKIP
    >>> out = engine.infer(np.zeros((8, 480, 640, 3), np.uint8))                 # doctest: +SKIP
    >>> out.heatmap.shape, out.class_maps.shape                                  # doctest: +SKIP
    ((8, 480, 640), (8, 2, 12, 16))
    """

    runtime = "torch"

    def __init__(self, backbone: VisionTextBackbone, head: AnomalyHeatmapDecoder, config: AHDConfig,
                 model_id: str = "untrained", device: str = "cpu"):
        if (config.backbone, tuple(config.layers)) != (backbone.name, tuple(backbone.layers)):
            raise ValueError(f"config wants backbone {config.backbone} layers {list(config.layers)}, "
                             f"got {backbone.name} layers {list(backbone.layers)}")
        check_input_size(config, backbone)
        if head.dims() != backbone_dims(backbone):
            raise ValueError(f"AHD head dims {head.dims()} do not match backbone {backbone.name} "
                             f"{backbone_dims(backbone)}")
        self.backbone, self.config, self.model_id = backbone, config, model_id
        self.device = torch.device(device)
        self.model = AHDModel(backbone.vision, head).to(self.device).eval()
        self.input_size, self.clip_len = config.input_size, config.clip_len
        self.pixel_mean, self.pixel_std = tuple(backbone.pixel_mean), tuple(backbone.pixel_std)

    @property
    def head(self) -> AnomalyHeatmapDecoder:
        return self.model.head

    @classmethod
    def from_config(cls, config: AHDConfig, backbone: VisionTextBackbone | None = None,
                    text_features: torch.Tensor | None = None, seed: int | None = 0,
                    device: str = "cpu") -> TorchAHDEngine:
        """A randomly initialised head (``seed``) on ``backbone`` (built from the config if None).
        Text features are computed from ``config.prompts`` unless given."""
        from tvau_ros.core.backbones import build_backbone

        backbone = backbone or build_backbone(config.backbone, config.layers, config.cache_dir, config.model_path)
        if text_features is None:
            text_features = cached_text_features(backbone, load_prompt_set(config.prompts), config.cache_dir)
        with _seeded(seed):
            head = AnomalyHeatmapDecoder.from_config(config, backbone_dims(backbone), text_features)
        return cls(backbone, head, config, model_id=f"tvau_ahd_{config.backbone}_untrained", device=device)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, backbone: VisionTextBackbone | None = None,
                        device: str = "cpu") -> TorchAHDEngine:
        """Head weights, text features and config from an AHD checkpoint (no text encoder is loaded)."""
        from tvau_ros.core.backbones import build_backbone
        from tvau_ros.core.checkpoint import load_ahd_checkpoint

        ckpt = load_ahd_checkpoint(path)
        cfg = ckpt.config
        backbone = backbone or build_backbone(cfg.backbone, cfg.layers, cfg.cache_dir, cfg.model_path)
        return cls(backbone, ckpt.build_head(), cfg, model_id=ckpt.model_id, device=device)

    def refresh_text_features(self, prompts: str | PromptSet | None = None) -> torch.Tensor:
        """Recompute T_normal, T_abnormal with the backbone's text encoder (loads it) from
        ``prompts`` (default: the config's) and install them in the head."""
        prompt_set = prompts if isinstance(prompts, PromptSet) else load_prompt_set(prompts or self.config.prompts)
        features = compute_text_features(self.backbone, prompt_set)
        self.head.set_text_features(features.to(self.head.text_features.device))
        return features

    def preprocess(self, frames: np.ndarray) -> np.ndarray:
        from tvau_ros.core.clip import preprocess_clip

        return preprocess_clip(frames, self.input_size, self.pixel_mean, self.pixel_std)

    @torch.no_grad()
    def infer_preprocessed(self, clip: np.ndarray) -> AHDOutput:
        from tvau_ros.core.clip import validate_model_input

        validate_model_input(clip, self.input_size)
        heatmap, maps = self.model(torch.from_numpy(clip).to(self.device))
        return AHDOutput(maps, heatmap, {"runtime": self.runtime, "model_id": self.model_id}).numpy()

    def infer(self, frames: np.ndarray, stamps_ns: Sequence[int] | None = None) -> HeatmapResult:
        """uint8 RGB ``(T, H, W, 3)`` -> heatmap ``(T, H, W)`` (the frames' size) and H_c ``(T', 2, H', W')``."""
        return heatmap_result(self.infer_preprocessed(self.preprocess(frames)), frames)

    @property
    def clip_length(self) -> int:
        """Frames per call: ``clip_len`` new frames after ``motion_context`` earlier ones (a
        pipeline whose clip stride is ``clip_len`` gives every frame its full motion token)."""
        return self.clip_len + motion_context(self.config, self.backbone.temporal_patch)
