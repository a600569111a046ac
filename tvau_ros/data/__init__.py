"""Datasets: UBnormal / ShanghaiTech readers, the synthetic benchmark generator and the
fine-grained annotation pipeline.

Names are imported lazily so ``import tvau_ros.data.annotation`` stays light.

>>> from tvau_ros.data import TrackSpan
>>> TrackSpan(1, 3, 9)
TrackSpan(object_id=1, start=3, end=9)
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "DatasetError": "tvau_ros.data.dataset", "TrackSpan": "tvau_ros.data.dataset",
    "VideoSample": "tvau_ros.data.dataset", "load_dataset": "tvau_ros.data.dataset",
    "SPLITS": "tvau_ros.data.dataset",
    "load_ubnormal": "tvau_ros.data.ubnormal", "load_shanghaitech": "tvau_ros.data.shanghaitech",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tvau_ros.data' has no attribute {name!r}")
