"""AHD checkpoints: one safetensors file with the head weights and a JSON header.

Tensors: the ``AnomalyHeatmapDecoder`` state dict under ``ahd.`` (including
``ahd.text_features``, the (2, D) [normal, abnormal] features of eq. 3, so a node never needs
the text encoder). Header (safetensors string metadata): ``format`` (``tvau_ahd/1``),
``config`` (AHDConfig as JSON), ``dims`` (head shapes as JSON), ``model_id``, ``prompts``
(the prompt lists and their digest, so text features can be recomputed) and ``extra``
(free JSON, e.g. training metrics).

>>> head = AnomalyHeatmapDecoder(4, 384, 384, torch.randn(2, 384))     # doctest: +SKIP
>>> save_ahd_checkpoint("ahd.safetensors", head, AHDConfig())          # doctest: +SKIP
>>> load_ahd_checkpoint("ahd.safetensors").build_head()               # doctest: +SKIP
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from tvau_ros.core.ahd import AHDConfig, AnomalyHeatmapDecoder
from tvau_ros.core.prompts import PromptSet

FORMAT = "tvau_ahd/1"
PREFIX = "ahd."
HEADER_KEYS = ("format", "config", "dims", "model_id", "prompts", "extra")
_DIM_KEYS = ("num_layers", "visual_dim", "text_dim", "patch_size", "temporal_patch")


@dataclass
class AHDCheckpoint:
    config: AHDConfig
    dims: dict[str, int]
    state_dict: dict[str, torch.Tensor]
    model_id: str
    prompts: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    @property
    def text_features(self) -> torch.Tensor:
        return self.state_dict["text_features"]

    def build_head(self) -> AnomalyHeatmapDecoder:
        """The head with these weights (strict: every expected key must be present)."""
        head = AnomalyHeatmapDecoder.from_config(self.config, self.dims)
        try:
            head.load_state_dict(self.state_dict, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"{self.path or 'checkpoint'}: tensor shapes do not match the header's config/dims "
                             f"({exc})") from exc
        return head.eval()


def expected_tensor_shapes(config: AHDConfig, dims: dict[str, int]) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor a checkpoint for this config must contain."""
    with torch.device("meta"):
        head = AnomalyHeatmapDecoder.from_config(config, dims)
    return {PREFIX + k: tuple(v.shape) for k, v in head.state_dict().items()}


def save_ahd_checkpoint(
    path: str | os.PathLike,
    head: AnomalyHeatmapDecoder,
    config: AHDConfig,
    model_id: str = "untrained",
    prompts: PromptSet | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``head`` and its header atomically; returns the path."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {PREFIX + k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
    header = {
        "format": FORMAT,
        "config": json.dumps(config.to_dict()),
        "dims": json.dumps(head.dims()),
        "model_id": model_id,
        "prompts": json.dumps({**prompts.to_dict(), "digest": prompts.digest()} if prompts else {}),
        "extra": json.dumps(extra or {}),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    save_file(tensors, str(tmp), metadata=header)
    os.replace(tmp, path)
    return path


def load_ahd_checkpoint(path: str | os.PathLike) -> AHDCheckpoint:
    """Read a checkpoint; a missing, unreadable or incomplete file raises an error naming the
    file and the expected keys."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"AHD checkpoint not found: {path} (expected a safetensors file with header keys "
                                f"{list(HEADER_KEYS)}, as `tvau train ahd` writes)")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        raise ValueError(
            f"{path}: not a readable safetensors AHD checkpoint ({exc}); expected header keys {list(HEADER_KEYS)} "
            f"and tensors '{PREFIX}layer_weights', '{PREFIX}text_features', '{PREFIX}projections.*'"
        ) from exc
    missing_header = [k for k in HEADER_KEYS if k not in header]
    if missing_header:
        raise ValueError(f"{path}: checkpoint header lacks {missing_header}; expected header keys {list(HEADER_KEYS)}")
    if header["format"] != FORMAT:
        raise ValueError(f"{path}: checkpoint format {header['format']!r} is not {FORMAT!r}")
    try:
        config = AHDConfig.from_dict(json.loads(header["config"]), f"{path} header 'config'")
        dims = json.loads(header["dims"])
        prompts, extra = json.loads(header["prompts"]), json.loads(header["extra"])
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: checkpoint header is not valid JSON ({exc})") from exc
    try:
        expected = expected_tensor_shapes(config, dims)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: checkpoint header 'dims' is invalid ({exc}); "
                         f"expected keys {list(_DIM_KEYS)}") from exc
    missing = [k for k in expected if k not in tensors]
    unexpected = [k for k in tensors if k not in expected]
    if missing or unexpected:
        raise ValueError(f"{path}: checkpoint tensors do not match the config: missing {missing}, "
                         f"unexpected {unexpected}; expected {list(expected)}")
    wrong = {k: tuple(v.shape) for k, v in tensors.items() if tuple(v.shape) != expected[k]}
    if wrong:
        raise ValueError(f"{path}: tensor shapes do not match the header's config/dims: {wrong}; "
                         f"expected {({k: expected[k] for k in wrong})}")
    state = {k[len(PREFIX):]: v for k, v in tensors.items()}
    return AHDCheckpoint(config, dims, state, header["model_id"], prompts, extra, str(path))
