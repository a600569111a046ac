"""onnxruntime engine for an exported AHD graph; same interface as ``TorchAHDEngine``.

Providers: by default the best available of TensorRT, CUDA and CPU (onnxruntime-gpu on a
Jetson offers the first two; the CPU wheel only CPU). Short names ``tensorrt``, ``cuda`` and
``cpu`` are accepted.

>>> engine = OrtAHDEngine("ahd.onnx", providers=["cpu"])            # doctest: +SKIP
>>> engine.infer(np.zeros((8, 480, 640, 3), np.uint8)).heatmap.shape  # doctest: +SKIP
(8, 480, 640)
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tvau_ros.core.ahd_spec import AHDConfig, AHDOutput, heatmap_result, motion_context
from tvau_ros.core.clip import preprocess_clip, validate_model_input
from tvau_ros.core.engine import HeatmapResult

METADATA_KEY = "tvau_ahd"  # ONNX model-metadata key holding config, dims, normalization, model id

PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
SHORT_NAMES = {"tensorrt": "TensorrtExecutionProvider", "trt": "TensorrtExecutionProvider",
               "cuda": "CUDAExecutionProvider", "cpu": "CPUExecutionProvider"}


def resolve_providers(requested: Sequence[str] | None = None) -> list[str]:
    """Full provider names, checked against those this onnxruntime build offers."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if not requested:
        return [p for p in PREFERRED_PROVIDERS if p in available] or ["CPUExecutionProvider"]
    resolved = []
    for name in requested:
        full = SHORT_NAMES.get(name.lower(), name)
        if full not in available:
            raise ValueError(f"onnxruntime provider {name!r} is not available here; available: {available}")
        resolved.append(full)
    return resolved


class OrtAHDEngine:
    runtime = "onnxruntime"

    def __init__(self, path: str | os.PathLike, providers: Sequence[str] | None = None, threads: int | None = None):
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {path}")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(str(path), options, providers=resolve_providers(providers))
        except ValueError:
            raise
        except Exception as exc:
            raise ValueError(f"{path}: onnxruntime cannot load this model ({exc})") from exc
        meta_json = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if meta_json is None:
            raise ValueError(f"{path}: no '{METADATA_KEY}' metadata; export it with `tvau export onnx`")
        meta = json.loads(meta_json)
        self.path = path
        self.config = AHDConfig.from_dict(meta["config"], f"{path} metadata")
        self.dims, self.model_id = meta["dims"], meta["model_id"]
        self.pixel_mean, self.pixel_std = tuple(meta["pixel_mean"]), tuple(meta["pixel_std"])
        self.input_name, self.output_names = meta["input_name"], list(meta["output_names"])
        self.input_size, self.clip_len = self.config.input_size, self.config.clip_len
        self.providers = self.session.get_providers()

    def preprocess(self, frames: np.ndarray) -> np.ndarray:
        return preprocess_clip(frames, self.input_size, self.pixel_mean, self.pixel_std)

    def infer_preprocessed(self, clip: np.ndarray) -> AHDOutput:
        validate_model_input(clip, self.input_size)
        temporal = self.dims["temporal_patch"]
        if clip.shape[0] % temporal:
            raise ValueError(f"clip has {clip.shape[0]} frames; this graph needs a multiple of {temporal}")
        heatmap, maps = self.session.run(self.output_names, {self.input_name: clip})
        return AHDOutput(maps, heatmap,
                         {"runtime": self.runtime, "model_id": self.model_id, "providers": self.providers})

    def infer(self, frames: np.ndarray, stamps_ns: Sequence[int] | None = None) -> HeatmapResult:
        """uint8 RGB ``(T, H, W, 3)`` -> heatmap ``(T, H, W)`` (the frames' size) and H_c ``(T', 2, H', W')``."""
        return heatmap_result(self.infer_preprocessed(self.preprocess(frames)), frames)

    @property
    def clip_length(self) -> int:
        """Frames per call, as ``TorchAHDEngine.clip_length``."""
        return self.clip_len + motion_context(self.config, self.dims["temporal_patch"])
