"""Export encoder + AHD (a ``TorchAHDEngine``'s model) to a single ONNX file.

The graph takes the preprocessed clip ``clip`` float32 (T, 3, H, W) (T dynamic, H and W the
config's ``input_size``) and returns ``heatmap`` (T, H, W) and ``class_maps`` (T', 2, H', W').
The text features are constants of the graph. The engine's config, head dims, pixel
normalization and model id are stored in the model's metadata under ``tvau_ahd``, so
``OrtAHDEngine`` needs nothing but the file.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from tvau_ros.core.ahd_ort import METADATA_KEY

if TYPE_CHECKING:
    from tvau_ros.core.ahd import TorchAHDEngine

INPUT_NAME = "clip"
OUTPUT_NAMES = ("heatmap", "class_maps")
# Qwen2.5-VL's vision tower computes its window index in Python from grid_thw; it is not
# exported (and would be far too large for the CPU targets this graph is for).
EXPORTABLE_BACKBONES = ("dinov2_minilm",)


def export_metadata(engine: TorchAHDEngine) -> dict:
    return {
        "config": engine.config.to_dict(),
        "dims": engine.head.dims(),
        "model_id": engine.model_id,
        "pixel_mean": list(engine.pixel_mean),
        "pixel_std": list(engine.pixel_std),
        "input_name": INPUT_NAME,
        "output_names": list(OUTPUT_NAMES),
    }


def export_ahd_onnx(engine: TorchAHDEngine, path: str | os.PathLike, opset: int = 17,
                    frames: int | None = None) -> Path:
    """Trace ``engine.model`` on CPU with a ``frames``-frame clip (default clip_len) and write ``path``.

    Uses torch's TorchScript-based exporter (``dynamo=False``): the dynamo exporter needs the
    onnxscript package, which this project does not depend on.
    """
    import onnx

    if engine.backbone.name not in EXPORTABLE_BACKBONES:
        raise ValueError(f"ONNX export supports the backbones {list(EXPORTABLE_BACKBONES)}, "
                         f"not {engine.backbone.name!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = engine.model.to("cpu").eval()
    frames = frames or engine.clip_len
    if engine.head.temporal_patch > 1 and frames % engine.head.temporal_patch:
        raise ValueError(f"frames={frames} must be a multiple of the backbone's temporal patch "
                         f"{engine.head.temporal_patch}")
    example = torch.zeros(frames, 3, *engine.input_size)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python control flow
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={INPUT_NAME: {0: "frames"}, "heatmap": {0: "frames"}, "class_maps": {0: "time_steps"}},
            opset_version=opset,
        )
    engine.model.to(engine.device)
    proto = onnx.load(str(path))
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(export_metadata(engine))
    onnx.save(proto, str(path))
    return path
