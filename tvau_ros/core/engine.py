"""What the pipeline needs from an anomaly model: the ``HeatmapEngine`` protocol and its one
result type, ``HeatmapResult``.

Implementations: the AHD engines (torch ``tvau_ros.core.ahd``, onnxruntime
``tvau_ros.core.ahd_ort``) and the classical motion baseline (``tvau_ros.core.motion_baseline``).
``tvau_ros.core.engine_registry`` builds one from the pipeline config.

Heatmap-only engines return ``heatmap`` (and the AHD its ``class_maps``); the pipeline derives
regions from the heatmap. An object-level engine also returns ``regions``: per frame, every
object it scored (box in the frame's pixels, score, the attribute behind it, its own object id);
the pipeline then takes them as they are. A stateful engine (one that follows objects across
calls) has a ``reset()`` that the pipeline calls when the stream restarts.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from tvau_ros.core.types import Region


@dataclass
class HeatmapResult:
    """Output of one engine call on one clip.

    heatmap:    (T, H, W) float32 in [0, 1], one map per input frame, at the input resolution.
    class_maps: (T', 2, H', W') float32, the fused normal/abnormal similarity maps H_c of
                paper eq. 6 before the softmax (RAE's input); None for engines without them.
    regions:    per input frame, the engine's scored objects (boxes in input-frame pixels),
                or None: the pipeline extracts regions from ``heatmap``.
    """

    heatmap: np.ndarray
    class_maps: np.ndarray | None = None
    regions: list[list[Region]] | None = None


@runtime_checkable
class HeatmapEngine(Protocol):
    model_id: str
    clip_length: int  # frames per clip the engine expects (T)

    def infer(self, clip: np.ndarray, stamps_ns: Sequence[int] | None = None) -> HeatmapResult:
        """clip: (T, H, W, 3) uint8 RGB (and the frames' stamps) -> HeatmapResult.
        Raises ValueError on bad input."""
        ...
