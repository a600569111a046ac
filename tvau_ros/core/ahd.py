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
Motion   with ``motion: true`` each token becomes [V_i[t], V_i[t] - V_i[t-1]] (t=0 uses a
         zero difference) before the MLP, standing in for Qwen2.5-VL's 2-frame temporal
         patches on frame-wise encoders; switch it off to ablate.

Training runs on cached encoder outputs: ``AnomalyHeatmapDecoder.forward(tokens)`` takes the
``(L, T', H', W', D_v)`` tensor of ``backbone.encode`` (or a batch of them), so the encoder
never reruns.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from torch import nn

from tvau_ros.core.prompts import ABNORMAL, PromptSet, load_prompt_set


@dataclass(frozen=True)
class AHDConfig:
    """Everything that fixes the shapes and behaviour of an AHD (stored in checkpoints)."""

    backbone: str = "dinov2_minilm"
    layers: tuple[int, ...] = (1, 4, 8, 12)
    input_size: tuple[int, int] = (168, 224)
    clip_len: int = 8
    motion: bool = True
    mlp_hidden: int = 384
    logit_scale: float = 10.0
    prompts: str = "default"
    model_path: str | None = None
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "input_size", tuple(self.input_size))
        if len(self.input_size) != 2 or not all(isinstance(v, int) and v > 0 for v in self.input_size):
            raise ValueError(f"input_size must be [H, W] positive integers, got {list(self.input_size)}")
        if not isinstance(self.clip_len, int) or self.clip_len < 1:
            raise ValueError(f"clip_len must be a positive integer, got {self.clip_len!r}")
        if not isinstance(self.mlp_hidden, int) or self.mlp_hidden < 1:
            raise ValueError(f"mlp_hidden must be a positive integer, got {self.mlp_hidden!r}")
        if not (isinstance(self.logit_scale, (int, float)) and self.logit_scale > 0):
            raise ValueError(f"logit_scale must be a positive number, got {self.logit_scale!r}")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["layers"], data["input_size"] = list(self.layers), list(self.input_size)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> "AHDConfig":
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a mapping of AHD settings")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{source}: unknown AHD setting(s) {unknown}; known: {sorted(known)}")
        try:
            return cls(**data)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: {exc}") from exc


def load_ahd_config(name_or_path: str | os.PathLike = "default") -> AHDConfig:
    """A packaged config (``"default"`` -> ``tvau_ros/configs/ahd_default.yaml``) or a YAML path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"AHD config not found: {path}")
        text, source = path.read_text(encoding="utf-8"), str(path)
    else:
        packaged = resources.files("tvau_ros") / "configs" / f"ahd_{name_or_path}.yaml"
        if not packaged.is_file():
            raise FileNotFoundError(f"unknown AHD config {str(name_or_path)!r}: neither a .yaml file nor tvau_ros/configs/ahd_{name_or_path}.yaml")
        text, source = packaged.read_text(encoding="utf-8"), f"tvau_ros/configs/ahd_{name_or_path}.yaml"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{source}: not valid YAML ({exc})") from exc
    return AHDConfig.from_dict(data, source)


@dataclass
class AHDOutput:
    """AHD result for one clip (or a batch, with a leading B axis on both fields).

    ``class_maps``: H_c of eq. 6, shape ``(T', 2, H', W')``, category axis ordered
    (normal, abnormal); the input of RAE. ``heatmap``: H of eq. 8 in [0, 1], upsampled to
    ``(T, H, W)`` = frames x model input size. Tensors from the module, numpy from engines.
    """

    class_maps: Any
    heatmap: Any
    meta: dict = field(default_factory=dict)

    def numpy(self) -> "AHDOutput":
        def conv(x):
            return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)

        return AHDOutput(conv(self.class_maps), conv(self.heatmap), dict(self.meta))

    def frame_scores(self):
        """Per-frame anomaly score: the heatmap maximum of each frame, shape ``(T,)``."""
        flat = self.heatmap.reshape(*self.heatmap.shape[:-2], -1)
        return flat.amax(-1) if isinstance(flat, torch.Tensor) else flat.max(-1)


def pool_text_features(token_features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 3: mean over all prompts and all non-padding tokens, ``(N, L, D), (N, L) -> (D,)``.

    >>> feats = torch.tensor([[[1.0], [3.0]], [[5.0], [100.0]]])
    >>> pool_text_features(feats, torch.tensor([[1, 1], [1, 0]]))   # (1 + 3 + 5) / 3
    tensor([3.])
    """
    if token_features.ndim != 3 or mask.shape != token_features.shape[:2]:
        raise ValueError(f"expected token features (N, L, D) and mask (N, L), got {tuple(token_features.shape)} and {tuple(mask.shape)}")
    weights = mask.to(token_features.dtype).unsqueeze(-1)
    count = weights.sum()
    if count == 0:
        raise ValueError("all tokens are padding: cannot pool text features")
    return (token_features * weights).sum(dim=(0, 1)) / count


def compute_text_features(backbone, prompt_set: PromptSet) -> torch.Tensor:
    """``(2, D)`` category features [T_normal, T_abnormal] from the backbone's text encoder."""
    return torch.stack([pool_text_features(*backbone.embed_text(list(p))) for p in prompt_set.by_category()])


def cached_text_features(backbone, prompt_set: PromptSet, cache: str | os.PathLike | None = None) -> torch.Tensor:
    """``compute_text_features``, kept in ``<cache>/text_features_<backbone>_<prompt digest>.safetensors``
    (cache: ``backbones.base.cache_dir``) so later runs, and machines without the text encoder
    installed, read the file instead of running the encoder."""
    from safetensors.torch import load_file, save_file

    from tvau_ros.core.backbones.base import cache_dir

    path = cache_dir(cache) / f"text_features_{backbone.name}_{prompt_set.digest()}.safetensors"
    if path.is_file():
        return load_file(str(path))["text_features"]
    features = compute_text_features(backbone, prompt_set)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    save_file({"text_features": features.contiguous()}, str(tmp), metadata={"prompts": prompt_set.source})
    os.replace(tmp, path)
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
    ):
        super().__init__()
        self.num_layers, self.visual_dim, self.text_dim = num_layers, visual_dim, text_dim
        self.motion, self.logit_scale = bool(motion), float(logit_scale)
        self.patch_size, self.temporal_patch = int(patch_size), int(temporal_patch)
        in_dim = visual_dim * (2 if self.motion else 1)
        self.projections = nn.ModuleList(
            nn.Sequential(nn.Linear(in_dim, mlp_hidden), nn.GELU(), nn.Linear(mlp_hidden, text_dim)) for _ in range(num_layers)
        )
        self.layer_weights = nn.Parameter(torch.full((num_layers,), 1.0 / num_layers))
        if text_features is None:
            text_features = torch.zeros(2, text_dim)
        self.register_buffer("text_features", self._check_text(text_features))

    def _check_text(self, text_features: torch.Tensor) -> torch.Tensor:
        if tuple(text_features.shape) != (2, self.text_dim):
            raise ValueError(f"text features must have shape (2, {self.text_dim}) [normal, abnormal], got {tuple(text_features.shape)}")
        return text_features.detach().float().clone()

    def set_text_features(self, text_features: torch.Tensor) -> None:
        self.text_features.copy_(self._check_text(text_features))

    def motion_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[V[t], V[t] - V[t-1]]`` along the time axis (-4); the first step differs from itself."""
        previous = torch.cat([tokens[..., :1, :, :, :], tokens[..., :-1, :, :, :]], dim=-4)
        return torch.cat([tokens, tokens - previous], dim=-1)

    def class_maps(self, tokens: torch.Tensor, text_features: torch.Tensor | None = None) -> torch.Tensor:
        """Eq. 5-6: ``(…, L, T', H', W', D_v) -> H_c (…, T', 2, H', W')``."""
        if tokens.ndim not in (5, 6) or tokens.shape[-5] != self.num_layers or tokens.shape[-1] != self.visual_dim:
            raise ValueError(
                f"tokens must have shape ([B,] {self.num_layers}, T', H', W', {self.visual_dim}), got {tuple(tokens.shape)}"
            )
        text = F.normalize(self.text_features if text_features is None else text_features, dim=-1)
        tokens = tokens.to(self.layer_weights.dtype)  # cached tokens may be stored as float16
        if self.motion:
            tokens = self.motion_tokens(tokens)
        fused = None
        for i, mlp in enumerate(self.projections):
            visual = F.normalize(mlp(tokens.select(-5, i)), dim=-1)  # (…, T', H', W', D)
            grid = visual.shape[-3:-1]
            # cosine similarity, eq. 5: (2, D) @ (…, T', D, H'W') -> (…, T', 2, H', W')
            similarity = torch.matmul(text, visual.flatten(-3, -2).transpose(-1, -2)).unflatten(-1, grid)
            term = self.layer_weights[i] * similarity
            fused = term if fused is None else fused + term
        return fused

    def heatmap(self, class_maps: torch.Tensor, frames: int | None = None, size: Sequence[int] | None = None) -> torch.Tensor:
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
    def from_config(cls, config: AHDConfig, dims: dict[str, int], text_features: torch.Tensor | None = None) -> "AnomalyHeatmapDecoder":
        return cls(text_features=text_features, motion=config.motion, mlp_hidden=config.mlp_hidden,
                   logit_scale=config.logit_scale, **dims)


class AHDModel(nn.Module):
    """Encoder + AHD as one module: normalized clip ``(T, 3, H, W)`` -> ``(heatmap (T, H, W),
    class_maps (T', 2, H', W'))``. This is the graph exported to ONNX."""

    def __init__(self, vision: nn.Module, head: AnomalyHeatmapDecoder):
        super().__init__()
        self.vision, self.head = vision, head

    def forward(self, clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        maps = self.head.class_maps(self.vision(clip))
        return self.head.heatmap(maps, frames=clip.shape[0], size=clip.shape[-2:]), maps


def backbone_dims(backbone) -> dict[str, int]:
    return {"num_layers": len(backbone.layers), "visual_dim": backbone.visual_dim, "text_dim": backbone.text_dim,
            "patch_size": backbone.patch_size, "temporal_patch": backbone.temporal_patch}


def check_input_size(config: AHDConfig, backbone) -> None:
    bad = [s for s in config.input_size if s % backbone.size_multiple]
    if bad:
        raise ValueError(f"input_size {list(config.input_size)} must be multiples of {backbone.size_multiple} for backbone {backbone.name}")


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
    ``OrtAHDEngine`` (tvau_ros.export.ort_engine) has the same interface.
    ``infer_preprocessed`` returns the heatmap at the model input size, ``infer`` at the frames' size.

    >>> engine = TorchAHDEngine.from_config(load_ahd_config("default"), seed=0)   # doctest: +SKIP
    >>> out = engine.infer(np.zeros((8, 480, 640, 3), np.uint8))                 # doctest: +SKIP
    >>> out.heatmap.shape, out.class_maps.shape                                  # doctest: +SKIP
    ((8, 480, 640), (8, 2, 12, 16))
    """

    runtime = "torch"

    def __init__(self, backbone, head: AnomalyHeatmapDecoder, config: AHDConfig, model_id: str = "untrained", device: str = "cpu"):
        if (config.backbone, tuple(config.layers)) != (backbone.name, tuple(backbone.layers)):
            raise ValueError(f"config wants backbone {config.backbone} layers {list(config.layers)}, "
                             f"got {backbone.name} layers {list(backbone.layers)}")
        check_input_size(config, backbone)
        if head.dims() != backbone_dims(backbone):
            raise ValueError(f"AHD head dims {head.dims()} do not match backbone {backbone.name} {backbone_dims(backbone)}")
        self.backbone, self.config, self.model_id = backbone, config, model_id
        self.device = torch.device(device)
        self.model = AHDModel(backbone.vision, head).to(self.device).eval()
        self.input_size, self.clip_len = config.input_size, config.clip_len
        self.pixel_mean, self.pixel_std = tuple(backbone.pixel_mean), tuple(backbone.pixel_std)

    @property
    def head(self) -> AnomalyHeatmapDecoder:
        return self.model.head

    @classmethod
    def from_config(cls, config: AHDConfig, backbone=None, text_features: torch.Tensor | None = None,
                    seed: int | None = 0, device: str = "cpu") -> "TorchAHDEngine":
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
    def from_checkpoint(cls, path: str | os.PathLike, backbone=None, device: str = "cpu") -> "TorchAHDEngine":
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

    def infer(self, frames: np.ndarray) -> AHDOutput:
        """uint8 RGB ``(T, H, W, 3)`` -> heatmap ``(T, H, W)`` (the frames' size) and H_c ``(T', 2, H', W')``."""
        return fit_heatmap_to_frames(self.infer_preprocessed(self.preprocess(frames)), frames)

    @property
    def clip_length(self) -> int:
        return self.clip_len


def fit_heatmap_to_frames(output: AHDOutput, frames: np.ndarray) -> AHDOutput:
    """Resize an engine's model-resolution heatmap (numpy) to the frames' own H x W."""
    from tvau_ros.core.clip import resize_heatmap

    size = frames.shape[1:3]
    if output.heatmap.shape[-2:] != size:
        output.heatmap = np.clip(resize_heatmap(output.heatmap, size), 0.0, 1.0)
    return output


def load_ahd_engine(path: str | os.PathLike, backend: str = "torch", device: str = "cpu", providers: Sequence[str] | None = None):
    """An AHD engine for the pipeline: ``backend`` ``torch`` reads an AHD checkpoint
    (.safetensors); ``onnxruntime`` reads an exported graph (.onnx), or the .onnx next to a
    given checkpoint (same stem). ``device`` applies to torch; ``providers`` to onnxruntime
    (default: TensorRT, CUDA, CPU, whichever are available)."""
    path = Path(path)
    if backend == "torch":
        return TorchAHDEngine.from_checkpoint(path, device=device)
    if backend == "onnxruntime":
        from tvau_ros.export.ort_engine import OrtAHDEngine

        onnx_path = path if path.suffix == ".onnx" else path.with_suffix(".onnx")
        if not onnx_path.is_file():
            raise FileNotFoundError(f"no ONNX graph {onnx_path} for {path}; create it with "
                                    f"`tvau export onnx --checkpoint {path} --out {onnx_path}`")
        return OrtAHDEngine(onnx_path, providers=providers)
    raise ValueError(f"unknown AHD backend {backend!r}; choose torch or onnxruntime")
