"""Evidence rebuilt from the heatmap node's outputs, for a query node in its own process.

The heatmap node publishes, per processed clip, the newest frame's heatmap and an
``AnomalyEvent`` (regions, window, episodes started / ended), all stamped like the camera
image. ``EvidenceMirror`` pairs each event with its heatmap and the camera image of the same
stamp (whichever arrives last completes it), builds an ``Evidence`` with the clip's camera
frames, keeps it in its own ``EvidenceStore`` and replays the episode starts and ends into an
``EpisodeLog``: an ``EvidenceSource`` like the pipeline itself. Only the newest frame of each
clip has a heatmap here (the node publishes no other); with stride 1 that is every frame.

>>> import numpy as np
>>> m = EvidenceMirror(max_side=0)
>>> m.add_image(10, "cam", np.zeros((4, 6, 3), np.uint8))
>>> m.add_event({"stamp_ns": 10, "frame_id": "cam", "window_start_ns": 10, "window_end_ns": 10,
...              "frame_score": 0.0, "is_anomalous": False, "model_id": "m",
...              "started_track_ids": [], "ended_track_ids": []}, [])
>>> m.add_heatmap(10, np.zeros((2, 3), np.float32))
>>> len(m.store), m.store.latest().heatmaps.shape
(1, (1, 4, 6))
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import cv2
import numpy as np

from tvau_ros.core.episodes import EpisodeLog
from tvau_ros.core.evidence import EvidenceStore
from tvau_ros.core.types import Episode, Evidence, Frame, Region, evidence_to_dict


class EvidenceMirror:
    def __init__(self, max_side: int = 640, buffer_frames: int = 300, max_items: int = 64,
                 max_bytes: int = 256 * 1024 * 1024, threshold: float = 0.5, smoothing_sigma: float = 1.0,
                 pending_limit: int = 64):
        self.max_side = max_side
        self.store = EvidenceStore(max_items, max_bytes)
        self._threshold, self._sigma = threshold, smoothing_sigma
        self._images: OrderedDict[int, Frame] = OrderedDict()
        self._heatmaps: OrderedDict[int, np.ndarray] = OrderedDict()
        self._events: OrderedDict[int, tuple[dict, list[Region]]] = OrderedDict()
        self._buffer, self._pending_limit = buffer_frames, pending_limit
        self._episodes = EpisodeLog()
        self._index = 0
        self._lock = threading.Lock()
        self.assembled = 0
        self.incomplete = 0   # events dropped because their image or heatmap never came

    # -- EvidenceSource

    @property
    def threshold(self) -> float:
        return self._threshold

    @property
    def smoothing_sigma(self) -> float:
        return self._sigma

    def episodes(self) -> list[Episode]:
        with self._lock:
            return self._episodes.all()

    # -- inputs

    def _resize(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        if not self.max_side or max(h, w) <= self.max_side:
            return image
        scale = self.max_side / max(h, w)
        return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)

    def add_image(self, stamp_ns: int, frame_id: str, image: np.ndarray) -> None:
        """A camera image (H, W, 3) uint8 RGB."""
        frame = Frame(self._resize(image), int(stamp_ns), frame_id, (int(image.shape[0]), int(image.shape[1])))
        with self._lock:
            if self._images and stamp_ns <= next(reversed(self._images)):
                if stamp_ns in self._images:
                    return
                self._images.clear()  # the camera's time went back (a bag loop): start over
            frame = Frame(frame.image, frame.stamp_ns, frame.frame_id, frame.source_size, self._index)
            self._index += 1
            self._images[frame.stamp_ns] = frame
            while len(self._images) > self._buffer:
                self._images.popitem(last=False)
            self._assemble(frame.stamp_ns)

    def add_heatmap(self, stamp_ns: int, heatmap: np.ndarray) -> None:
        with self._lock:
            self._heatmaps[int(stamp_ns)] = np.asarray(heatmap, np.float32)
            self._trim(self._heatmaps)
            self._assemble(int(stamp_ns))

    def add_event(self, event: dict, regions: list[Region]) -> None:
        """An event as ``msg_conversion.event_to_dict`` gives it, with its regions as ``Region``."""
        with self._lock:
            self._events[int(event["stamp_ns"])] = (event, regions)
            self._trim(self._events)
            self._assemble(int(event["stamp_ns"]))

    def _trim(self, items: OrderedDict) -> None:
        while len(items) > self._pending_limit:
            items.popitem(last=False)
            if items is self._events:
                self.incomplete += 1

    # -- assembly

    def _assemble(self, stamp: int) -> None:
        if stamp not in self._events or stamp not in self._heatmaps or stamp not in self._images:
            return
        event, regions = self._events.pop(stamp)
        newest = self._images[stamp]
        heatmap = self._heatmaps.pop(stamp)
        h, w = newest.image.shape[:2]
        if heatmap.shape != (h, w):
            heatmap = cv2.resize(heatmap, (w, h), interpolation=cv2.INTER_LINEAR)
        start = int(event["window_start_ns"])
        frames = tuple(f for s, f in self._images.items() if start <= s <= stamp)
        evidence = Evidence(
            stamp_ns=stamp, frame_id=event["frame_id"], frame_index=newest.index, window_start_ns=start,
            window_end_ns=int(event["window_end_ns"]), frames=frames, heatmaps=heatmap[None],
            new_frame_indices=(newest.index,), frame_score=float(event["frame_score"]),
            is_anomalous=bool(event["is_anomalous"]), model_id=event["model_id"], regions=list(regions),
            started_track_ids=list(event["started_track_ids"]), ended_track_ids=list(event["ended_track_ids"]))
        self.store.add(evidence)
        self._replay_episodes(evidence)
        self.assembled += 1

    def _replay_episodes(self, evidence: Evidence) -> None:
        """Episodes of the mirrored events, by the pipeline's own definition (``EpisodeLog``)."""
        self._episodes.add_event(evidence_to_dict(evidence))
