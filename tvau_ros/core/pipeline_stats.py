"""Counters and sliding windows of the pipeline, for diagnostics and offline summaries.

>>> stats = PipelineStats()
>>> stats.bad_input("stamp_repeated"), stats.bad_input("stamp_repeated")
(1, 2)
>>> stats.snapshot()["bad_input_stamp_repeated"]
2
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Collection

import numpy as np


def _percentile(values: Collection[float], q: float) -> float:
    return float(np.percentile(np.fromiter(values, float), q)) if values else math.nan


class PipelineStats:
    """Counters and sliding windows for diagnostics and offline summaries (thread-safe)."""

    WINDOW_S = 5.0

    def __init__(self):
        self._lock = threading.Lock()
        self.received = 0
        self.accepted = 0
        self.processed = 0
        self.processed_frames = 0  # frames that got a heatmap (a clip's new frames)
        self.resized = 0
        self.resolution_changes = 0
        self.stamp_resets = 0
        self.stale_clips = 0
        self.engine_errors = 0
        self.bad_inputs: dict[str, int] = {}
        self._inference = deque(maxlen=1000)
        self._latency = deque(maxlen=1000)
        self._processed_at = deque(maxlen=2000)

    def bad_input(self, kind: str) -> int:
        """Count one bad input of ``kind``; returns the count of that kind (1 = first time)."""
        with self._lock:
            self.bad_inputs[kind] = self.bad_inputs.get(kind, 0) + 1
            return self.bad_inputs[kind]

    def record_processed(self, inference_s: float, frames: int = 1) -> None:
        with self._lock:
            self.processed += 1
            self.processed_frames += frames
            self._inference.append(inference_s)
            self._processed_at.append((time.monotonic(), frames))

    def record_latency(self, seconds: float) -> None:
        """Camera stamp -> output latency (measured by whoever publishes)."""
        with self._lock:
            self._latency.append(seconds)

    def processed_fps(self) -> float:
        """Frames that got a heatmap per second over the last ``WINDOW_S`` (a clip counts its new frames)."""
        now = time.monotonic()
        with self._lock:
            recent = [(t, n) for t, n in self._processed_at if now - t <= self.WINDOW_S]
        if len(recent) < 2:
            return 0.0
        return sum(n for _, n in recent[1:]) / max(recent[-1][0] - recent[0][0], 1e-9)

    def snapshot(self, dropped_frames: int = 0) -> dict:
        fps = self.processed_fps()
        with self._lock:
            return {
                "received": self.received, "accepted": self.accepted, "processed": self.processed,
                "processed_frames": self.processed_frames,
                "dropped_frames": dropped_frames, "bad_inputs": sum(self.bad_inputs.values()),
                **{f"bad_input_{k}": v for k, v in sorted(self.bad_inputs.items())},
                "resized_frames": self.resized, "resolution_changes": self.resolution_changes,
                "stamp_resets": self.stamp_resets, "stale_clips": self.stale_clips,
                "engine_errors": self.engine_errors, "processed_fps": fps,
                "inference_ms_p50": 1e3 * _percentile(self._inference, 50),
                "inference_ms_p95": 1e3 * _percentile(self._inference, 95),
                "latency_ms_p50": 1e3 * _percentile(self._latency, 50),
                "latency_ms_p95": 1e3 * _percentile(self._latency, 95),
            }


