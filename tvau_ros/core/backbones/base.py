"""The ``VisionTextBackbone`` protocol shared by every backbone, and small helpers."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch


@runtime_checkable
class VisionTextBackbone(Protocol):
    """A frozen vision encoder E_v plus a text encoder E_t (paper §3.2.1).

    ``vision`` maps a normalized clip ``(T, 3, H, W)`` to the selected block outputs
    ``(L, T', H', W', D_v)``: one entry per layer in ``layers`` (1-based block indices, eq. 4),
    ``T' = T / temporal_patch`` and ``H' = H / patch_size``, in spatial grid order.
    ``embed_text`` returns token-level text features ``(N, L_tok, D)`` plus the padding mask
    ``(N, L_tok)`` (1 = real token), i.e. eq. 2 before the pooling of eq. 3.
    """

    name: str
    layers: tuple[int, ...]
    depth: int
    visual_dim: int
    text_dim: int
    patch_size: int
    temporal_patch: int
    size_multiple: int
    pixel_mean: tuple[float, float, float]
    pixel_std: tuple[float, float, float]

    @property
    def vision(self) -> torch.nn.Module: ...

    def encode(self, clip: torch.Tensor) -> torch.Tensor: ...

    def embed_text(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]: ...


def check_layers(layers: Sequence[int], depth: int, encoder: str) -> tuple[int, ...]:
    """Validate 1-based block indices against the encoder depth; return them as a sorted tuple.

    >>> check_layers([12, 1], 12, "dinov2")
    (1, 12)
    >>> check_layers([13], 12, "dinov2")
    Traceback (most recent call last):
    ...
    ValueError: layer 13 is beyond the depth of dinov2 (12 blocks); layers are 1-based block indices in [1, 12]
    """
    if not layers:
        raise ValueError(f"no layers given for {encoder}; choose 1-based block indices in [1, {depth}]")
    for layer in layers:
        if isinstance(layer, bool) or not isinstance(layer, int):
            raise ValueError(f"layer {layer!r} is not an integer block index for {encoder}")
        if layer < 1 or layer > depth:
            raise ValueError(
                f"layer {layer} is beyond the depth of {encoder} ({depth} blocks); "
                f"layers are 1-based block indices in [1, {depth}]"
            )
    if len(set(layers)) != len(layers):
        raise ValueError(f"duplicate layers in {list(layers)} for {encoder}")
    return tuple(sorted(layers))


def installed_package_file(module: str, install: str, *parts: str) -> Path:
    """A file shipped inside an installed PyPI package, or FileNotFoundError saying what to install.

    >>> installed_package_file("yaml", "pip install pyyaml", "__init__.py").name
    '__init__.py'
    """
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"the Python package {module} is not installed ({install})")
    path = Path(spec.origin).parent.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"{module} is installed but {path} is missing")
    return path


def save_tensors_atomic(tensors: dict, path: Path, metadata: dict[str, str] | None = None) -> None:
    """Write a safetensors cache file so that concurrent processes never read a half-written one."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """Where converted weights are cached: ``path``, else ``$TVAU_CACHE_DIR``, else ``~/.cache/tvau_ros``."""
    if path is None:
        path = os.environ.get("TVAU_CACHE_DIR") or Path.home() / ".cache" / "tvau_ros"
    return Path(path).expanduser()
