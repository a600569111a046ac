"""Bounded, thread-safe store of recent ``Evidence`` (clips, heatmaps, tracks) for queries.

The pipeline adds one Evidence per processed clip; the store evicts the oldest once it holds
more than ``max_items`` or more than ``max_bytes`` (frames are shared between overlapping
clips and counted once, see ``Evidence.nbytes``). The query service of the dialogue reads it
from another thread.

>>> import numpy as np
>>> from tvau_ros.core.types import Evidence, Frame
>>> def ev(t):
...     f = Frame(np.zeros((4, 4, 3), np.uint8), stamp_ns=t)
...     return Evidence(t, "cam", t, t, t, (f,), np.zeros((1, 4, 4), np.float32), (t,), 0.0, False, "m")
>>> store = EvidenceStore(max_items=2)
>>> for t in (1, 2, 3): store.add(ev(t))
>>> [e.stamp_ns for e in store.items()], store.latest().stamp_ns, len(store.window(2, 2))
([2, 3], 3, 1)
"""
from __future__ import annotations

import threading
from collections import deque

from tvau_ros.core.types import Evidence, Track


class EvidenceStore:
    def __init__(self, max_items: int = 64, max_bytes: int = 256 * 1024 * 1024):
        if max_items < 1:
            raise ValueError(f"evidence.max_items must be >= 1, got {max_items}")
        if max_bytes < 1:
            raise ValueError(f"evidence.max_bytes must be >= 1, got {max_bytes}")
        self.max_items = int(max_items)
        self.max_bytes = int(max_bytes)
        self._items: deque[tuple[Evidence, int]] = deque()
        self._bytes = 0
        self._lock = threading.Lock()

    def add(self, evidence: Evidence) -> None:
        size = evidence.nbytes()
        with self._lock:
            self._items.append((evidence, size))
            self._bytes += size
            while len(self._items) > self.max_items or (self._bytes > self.max_bytes and len(self._items) > 1):
                _, old = self._items.popleft()
                self._bytes -= old

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._bytes

    def items(self) -> list[Evidence]:
        """All stored evidence, oldest first."""
        with self._lock:
            return [e for e, _ in self._items]

    def latest(self) -> Evidence | None:
        with self._lock:
            return self._items[-1][0] if self._items else None

    def window(self, start_ns: int, end_ns: int) -> list[Evidence]:
        """Evidence whose clip window overlaps [start_ns, end_ns]; both 0 = the latest only."""
        if start_ns == 0 and end_ns == 0:
            latest = self.latest()
            return [latest] if latest is not None else []
        with self._lock:
            return [e for e, _ in self._items if e.window_end_ns >= start_ns and e.window_start_ns <= end_ns]

    def tracks(self, start_ns: int = 0, end_ns: int = 0) -> dict[int, Track]:
        """Latest snapshot of every confirmed track seen in the window (by track id)."""
        out: dict[int, Track] = {}
        for evidence in self.window(start_ns, end_ns):
            for track in evidence.tracks:
                out[track.track_id] = track
        return out
