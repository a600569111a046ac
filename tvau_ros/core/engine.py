"""What the pipeline needs from a heatmap model: the ``HeatmapEngine`` protocol.

Implementations: the AHD engines (torch and onnxruntime, ``tvau_ros.core.ahd`` /
``tvau_ros.export``) and the classical motion baseline (``tvau_ros.core.motion_baseline``).
``load_engine`` builds one from a checkpoint path or a model card name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass
class HeatmapResult:
    """Output of one engine call on one clip.

    heatmap:    (T, H, W) float32 in [0, 1], one map per input frame, at the input resolution.
    class_maps: (T', 2, H', W') float32, the fused normal/abnormal similarity maps H_c of
                paper eq. 6 before the softmax (RAE's input); None for engines without them.
    """

    heatmap: np.ndarray
    class_maps: np.ndarray | None = None


@runtime_checkable
class HeatmapEngine(Protocol):
    model_id: str
    clip_length: int  # frames per clip the engine expects (T)

    def infer(self, clip: np.ndarray) -> HeatmapResult:
        """clip: (T, H, W, 3) uint8 RGB -> HeatmapResult. Raises ValueError on bad input."""
        ...
