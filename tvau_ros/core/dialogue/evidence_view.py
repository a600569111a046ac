"""What one answer looks at: the stored frames and heatmaps of a time window, plus episodes.

``EvidenceSource`` is what the dialogue needs from whoever runs the pipeline: its
``EvidenceStore``, its episodes and the heatmap threshold. ``PipelineSource`` adapts an
``AnomalyPipeline`` (the node in the same process, ``tvau ask``, the evaluation); the query node
fed by topics builds its own store (``tvau_ros.nodes.query_node``).

``build_view`` gathers, from the evidence overlapping a window, every frame that got a heatmap
(each clip carries the heatmaps of the frames it was the first to cover), in frame order.

>>> import numpy as np
>>> from tvau_ros.core.evidence import EvidenceStore
>>> from tvau_ros.core.types import Evidence, Frame
>>> store = EvidenceStore()
>>> for i in range(3):
...     f = Frame(np.zeros((4, 6, 3), np.uint8), stamp_ns=i * 10**8, index=i)
...     store.add(Evidence(f.stamp_ns, "cam", i, f.stamp_ns, f.stamp_ns, (f,),
...                        np.full((1, 4, 6), 0.9 * i, np.float32), (i,), 0.9 * i, i > 0, "m"))
>>> view = build_view(store, [], 10**8, 2 * 10**8, threshold=0.5)
>>> [r.index for r in view.frames], view.fps, view.anomalous_indices()
([1, 2], 10.0, [1, 2])
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from tvau_ros.core.evidence import EvidenceStore
from tvau_ros.core.regions import smooth_heatmap
from tvau_ros.core.types import Episode, Evidence, Region

if TYPE_CHECKING:
    from tvau_ros.core.pipeline import AnomalyPipeline


class EvidenceSource(Protocol):
    """Where the answers come from: a store of recent evidence and the anomaly episodes."""

    @property
    def store(self) -> EvidenceStore | None: ...

    def episodes(self) -> list[Episode]: ...

    @property
    def threshold(self) -> float: ...


class PipelineSource:
    """An ``AnomalyPipeline`` as an evidence source (``pipeline`` may be a callable returning
    the current pipeline or None, e.g. the heatmap node's, which exists only once configured)."""

    def __init__(self, pipeline: AnomalyPipeline | Callable[[], AnomalyPipeline | None] | None):
        self._pipeline = pipeline

    @property
    def pipeline(self) -> AnomalyPipeline | None:
        return self._pipeline() if callable(self._pipeline) else self._pipeline

    @property
    def store(self) -> EvidenceStore | None:
        pipeline = self.pipeline
        return None if pipeline is None else pipeline.store

    def episodes(self) -> list[Episode]:
        pipeline = self.pipeline
        return [] if pipeline is None else pipeline.episodes.all()

    @property
    def threshold(self) -> float:
        pipeline = self.pipeline
        return 0.5 if pipeline is None else float(pipeline.cfg.regions.threshold)

    @property
    def smoothing_sigma(self) -> float:
        pipeline = self.pipeline
        return 1.0 if pipeline is None else float(pipeline.cfg.regions.smoothing_sigma)


@dataclass(frozen=True)
class FrameRecord:
    """One frame with its heatmap (both at the processing resolution)."""

    index: int
    stamp_ns: int
    image: np.ndarray
    heatmap: np.ndarray
    source_hw: tuple[int, int]
    regions: tuple[Region, ...] = ()  # this frame's regions (boxes in source pixels), where known
    model_id: str = ""
    score: float | None = None        # the pipeline's frame score, where known (a clip's newest frame)


@dataclass
class EvidenceView:
    """Frames, heatmaps, regions and episodes of one window, oldest frame first."""

    start_ns: int
    end_ns: int
    frames: list[FrameRecord]
    evidence: list[Evidence]
    episodes: list[Episode]
    threshold: float
    smoothing_sigma: float = 1.0
    _scores: dict[int, float] = field(default_factory=dict, repr=False)

    @property
    def stamps(self) -> dict[int, int]:
        return {r.index: r.stamp_ns for r in self.frames}

    @property
    def fps(self) -> float:
        """Frame rate from the stamps (frames per second of the frame numbers)."""
        steps = [(b.stamp_ns - a.stamp_ns) / (b.index - a.index)
                 for a, b in zip(self.frames, self.frames[1:], strict=False)
                 if b.index > a.index and b.stamp_ns > a.stamp_ns]
        return 1e9 / float(np.median(steps)) if steps else 15.0

    @property
    def used_window(self) -> tuple[int, int]:
        """Stamps of the first and last frame looked at (the request's window when empty)."""
        if not self.frames:
            return self.start_ns, self.end_ns
        return self.frames[0].stamp_ns, self.frames[-1].stamp_ns

    def score(self, record: FrameRecord) -> float:
        """The frame score (peak of the smoothed heatmap), as the pipeline computes it."""
        if record.score is not None:
            return record.score
        if record.index not in self._scores:
            self._scores[record.index] = float(smooth_heatmap(record.heatmap, self.smoothing_sigma).max())
        return self._scores[record.index]

    def anomalous_indices(self) -> list[int]:
        return [r.index for r in self.frames if self.score(r) >= self.threshold]

    def regions(self, track_id: int | None = None) -> list[tuple[FrameRecord, Region]]:
        """(frame, region) pairs of the window, optionally of one track only."""
        return [(r, g) for r in self.frames for g in r.regions if track_id is None or g.track_id == track_id]


def _frame_regions(evidence: Evidence) -> dict[int, tuple[Region, ...]]:
    """Regions per frame index: every new frame's (``frame_results``), else (evidence rebuilt from
    messages, which carry the newest frame's only) the newest frame's."""
    if len(evidence.frame_results) == len(evidence.new_frame_indices):
        return {i: tuple(r.regions) for i, r in zip(evidence.new_frame_indices, evidence.frame_results, strict=True)}
    return {evidence.frame_index: tuple(evidence.regions)}


def build_view(store: EvidenceStore, episodes: list[Episode], start_ns: int, end_ns: int,
               threshold: float, smoothing_sigma: float = 1.0) -> EvidenceView:
    """Every frame with a heatmap stamped in [start_ns, end_ns], with the episodes overlapping it."""
    records: dict[int, FrameRecord] = {}
    evidence = store.window(start_ns, end_ns) if (start_ns, end_ns) != (0, 0) else store.window(0, 0)
    for ev in evidence:
        frames = {f.index: f for f in ev.frames}
        regions = _frame_regions(ev)
        for index, heatmap in zip(ev.new_frame_indices, ev.heatmaps, strict=True):
            frame = frames.get(index)
            if frame is None or not start_ns <= frame.stamp_ns <= end_ns:
                continue
            records[index] = FrameRecord(index, frame.stamp_ns, frame.image, heatmap, frame.source_hw,
                                         regions.get(index, ()), ev.model_id,
                                         float(ev.frame_score) if index == ev.frame_index else None)
    overlapping = [e for e in episodes if e.start_ns <= end_ns and (e.end_ns is None or e.end_ns >= start_ns)]
    return EvidenceView(start_ns, end_ns, [records[i] for i in sorted(records)], evidence, overlapping,
                        threshold, smoothing_sigma)


def stored_span(store: EvidenceStore) -> tuple[int, int] | None:
    """Stamps of the oldest and newest stored frame, None when nothing is stored."""
    items = store.items()
    if not items:
        return None
    return min(f.stamp_ns for f in items[0].frames), items[-1].stamp_ns
