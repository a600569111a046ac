"""Drive the pipeline over a recorded source without ROS: what ``tvau run`` does.

For every frame of the source: ``pipeline.push``; every Evidence is written to
``events.jsonl``; each frame's heatmap goes to ``heatmaps.npz`` (``tvau eval predictions``
layout) and, blended with the frame and the regions, to ``annotated.mp4``. At the end the
frames no clip covered yet are processed (``pipeline.finish``, whose event, if any, also ends
every open episode) and ``summary.json`` written.
``heatmaps.npz`` is indexed by the frame's position in the source: a frame the pipeline rejected
(a repeated stamp, a bad image) keeps its place, with no heatmap, and is listed in the summary's
``frames_without_heatmap``; in ``annotated.mp4`` a frame with a bad stamp stays, plain, and a bad
image is left out.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from tvau_ros.core.overlay import render_overlay
from tvau_ros.core.pipeline import AnomalyPipeline
from tvau_ros.core.types import Evidence, evidence_to_dict
from tvau_ros.io.sources import FrameSource
from tvau_ros.io.summary import build_summary
from tvau_ros.io.writers import EventsWriter, HeatmapArchive, Mp4Writer


class _AnnotatedVideo:
    """Holds frames until their heatmap is known (a clip covers frames before its newest one)."""

    def __init__(self, writer: Mp4Writer | None, alpha: float, threshold: float):
        self.writer, self.alpha, self.threshold = writer, alpha, threshold
        self._pending: dict[int, np.ndarray] = {}

    def add_frame(self, index: int, image: np.ndarray) -> None:
        if self.writer is not None:
            self._pending[index] = image

    def add_evidence(self, evidence: Evidence, positions: dict[int, int]) -> None:
        """``positions``: pipeline frame index -> position in the source."""
        if self.writer is None:
            return
        frames = {f.index: f for f in evidence.frames}
        for index, heatmap, analysed in zip(evidence.new_frame_indices, evidence.heatmaps, evidence.frame_results,
                                            strict=True):
            position = positions[index]
            self._flush_until(position)
            image = self._pending.pop(position, None)
            if image is None:
                continue
            frame = frames[index]
            bgr = render_overlay(frame.image, heatmap, analysed.regions, frame.source_hw, out_size=image.shape[:2],
                                 frame_score=analysed.score, alpha=self.alpha, threshold=self.threshold)
            self.writer.write(np.ascontiguousarray(bgr[:, :, ::-1]))

    def _flush_until(self, position: int) -> None:
        """Frames before ``position`` that got no heatmap (rejected or dropped) are written plain."""
        for i in sorted(i for i in self._pending if i < position):
            self.writer.write(self._pending.pop(i))

    def close(self) -> None:
        if self.writer is not None:
            self._flush_until(1 << 62)
            self.writer.close()


def _finite(values: dict) -> dict:
    """NaN (no samples) -> None, so the summary is strict JSON."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}


def run_offline(source: FrameSource, pipeline: AnomalyPipeline, out_dir: str | Path, *, video: bool = True,
                name: str | None = None, max_frames: int | None = None, heatmap_side: int = 160,
                alpha: float = 0.5) -> dict:
    """Process ``source`` with ``pipeline``; write outputs to ``out_dir``; return the summary dict."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = name or Path(source.path).stem
    paths = {"events": out_dir / "events.jsonl", "heatmaps": out_dir / "heatmaps.npz",
             "summary": out_dir / "summary.json"}
    if video:
        paths["video"] = out_dir / "annotated.mp4"
    archive = HeatmapArchive(name, max_side=heatmap_side)
    annotated = _AnnotatedVideo(Mp4Writer(paths["video"], source.fps) if video else None, alpha,
                                pipeline.cfg.regions.threshold)
    records: list[dict] = []
    positions: dict[int, int] = {}  # pipeline frame index -> position in the source
    frames = 0
    first_stamp = None
    started = time.perf_counter()

    def consume(evidence: Evidence | None) -> None:
        if evidence is None:
            return
        record = evidence_to_dict(evidence)
        events.write(record)
        records.append(record)
        for index, heatmap, analysed in zip(evidence.new_frame_indices, evidence.heatmaps, evidence.frame_results,
                                            strict=True):
            archive.add(positions[index], heatmap, analysed.score)
        annotated.add_evidence(evidence, positions)
        for index in evidence.new_frame_indices:
            del positions[index]

    with EventsWriter(paths["events"]) as events:
        try:
            for item in source:
                if max_frames is not None and frames >= max_frames:
                    break
                first_stamp = item.time_ns if first_stamp is None else first_stamp
                position, frames = frames, frames + 1
                intake = pipeline.submit(item.image, item.time_ns, item.frame_id)
                if intake.accepted or intake.event in ("stamp_repeated", "stamp_backwards"):
                    annotated.add_frame(position, item.image)  # a good image with a bad stamp stays in the video, plain
                if not intake.accepted:
                    continue  # counted in the pipeline's stats (bad stamp, bad image)
                positions[intake.frame_index] = position
                clip = pipeline.next_clip()
                if clip is not None:
                    consume(pipeline.process(clip))
            consume(pipeline.finish())
        finally:
            annotated.close()
    wall = time.perf_counter() - started
    archive.save(paths["heatmaps"], num_frames=frames)
    summary = build_summary(records, frames, wall, origin_ns=first_stamp, source=str(source.path),
                            source_kind=source.kind, source_fps=source.fps,
                            dropped_frames=pipeline.dropped_frames,
                            frames_without_heatmap=archive.missing(frames),
                            stats=_finite(pipeline.diagnostics()),
                            outputs={k: str(v) for k, v in paths.items()})
    paths["summary"].write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
