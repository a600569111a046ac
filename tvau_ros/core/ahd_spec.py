"""The torch-free half of the AHD: its config, its output type and the engine loader.

An onnxruntime deployment (``backend: onnxruntime``) imports only this module, the clip
preprocessing and ``tvau_ros.core.ahd_ort``, never torch; ``tvau_ros.core.ahd`` (the
torch model and engine) re-exports everything here.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from tvau_ros.core.engine import HeatmapResult

if TYPE_CHECKING:
    import torch

    from tvau_ros.core.ahd import TorchAHDEngine
    from tvau_ros.core.ahd_ort import OrtAHDEngine


@dataclass(frozen=True)
class AHDConfig:
    """Everything that fixes the shapes and behaviour of an AHD (stored in checkpoints)."""

    backbone: str = "dinov2_minilm"
    layers: tuple[int, ...] = (1, 4, 8, 12)
    input_size: tuple[int, int] = (168, 224)
    clip_len: int = 8
    motion: bool = True
    motion_stride: int = 1
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
        if not isinstance(self.motion_stride, int) or self.motion_stride < 1:
            raise ValueError(f"motion_stride must be a positive integer, got {self.motion_stride!r}")
        if not isinstance(self.mlp_hidden, int) or self.mlp_hidden < 1:
            raise ValueError(f"mlp_hidden must be a positive integer, got {self.mlp_hidden!r}")
        if not (isinstance(self.logit_scale, (int, float)) and self.logit_scale > 0):
            raise ValueError(f"logit_scale must be a positive number, got {self.logit_scale!r}")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["layers"], data["input_size"] = list(self.layers), list(self.input_size)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> AHDConfig:
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
            raise FileNotFoundError(f"unknown AHD config {str(name_or_path)!r}: neither a .yaml file "
                                    f"nor tvau_ros/configs/ahd_{name_or_path}.yaml")
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

    def numpy(self) -> AHDOutput:
        def conv(x: Any) -> np.ndarray:
            return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)  # torch or numpy

        return AHDOutput(conv(self.class_maps), conv(self.heatmap), dict(self.meta))

    def frame_scores(self) -> np.ndarray | torch.Tensor:
        """Per-frame anomaly score: the heatmap maximum of each frame, shape ``(T,)``."""
        flat = self.heatmap.reshape(*self.heatmap.shape[:-2], -1)
        return flat.amax(-1) if hasattr(flat, "amax") else flat.max(-1)  # torch or numpy


def motion_context(config: AHDConfig, temporal_patch: int) -> int:
    """Frames a clip needs before its first new frame so that every new frame has its full
    motion token (0 without motion). Engines ask for ``clip_len`` + this many frames per call."""
    return config.motion_stride * temporal_patch if config.motion else 0


def heatmap_result(output: AHDOutput, frames: np.ndarray) -> HeatmapResult:
    """An engine's model-resolution output (numpy) as the pipeline's result, the heatmap
    resized to the frames' own H x W."""
    from tvau_ros.core.clip import resize_heatmap

    heatmap, size = output.heatmap, frames.shape[1:3]
    if heatmap.shape[-2:] != size:
        heatmap = np.clip(resize_heatmap(heatmap, size), 0.0, 1.0)
    return HeatmapResult(heatmap, output.class_maps)


def load_ahd_engine(path: str | os.PathLike, backend: str = "torch", device: str = "cpu",
                    providers: Sequence[str] | None = None) -> TorchAHDEngine | OrtAHDEngine:
    """An AHD engine for the pipeline: ``backend`` ``torch`` reads an AHD checkpoint
    (.safetensors); ``onnxruntime`` reads an exported graph (.onnx), or the .onnx next to a
    given checkpoint (same stem). ``device`` applies to torch; ``providers`` to onnxruntime
    (default: TensorRT, CUDA, CPU, whichever are available)."""
    path = Path(path)
    if backend == "torch":
        from tvau_ros.core.ahd import TorchAHDEngine

        return TorchAHDEngine.from_checkpoint(path, device=device)
    if backend == "onnxruntime":
        from tvau_ros.core.ahd_ort import OrtAHDEngine

        onnx_path = path if path.suffix == ".onnx" else path.with_suffix(".onnx")
        if not onnx_path.is_file():
            raise FileNotFoundError(f"no ONNX graph {onnx_path} for {path}; create it with "
                                    f"`tvau export onnx --checkpoint {path} --out {onnx_path}`")
        return OrtAHDEngine(onnx_path, providers=providers)
    raise ValueError(f"unknown AHD backend {backend!r}; choose torch or onnxruntime")
