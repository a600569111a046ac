"""The anomaly pipeline: frames in, one ``Evidence`` per processed clip out.

ONE object shared by the ROS heatmap node, ``tvau run`` and the evaluation (no ROS here):

    frame -> checks (size, stamps, resolution) -> resize -> ClipBuffer -> engine.infer(clip)
          -> per new frame: score and regions (engine's objects, or heatmap components)
          -> tracker -> episodes -> ground points -> Evidence -> EvidenceStore

Synchronous use (offline): ``push(image, stamp_ns)`` returns an Evidence when a clip was
processed. Asynchronous use (node): the receiving thread calls ``submit`` (cheap), a
processing thread calls ``next_clip`` and ``process``; when processing is slower than the
camera, only the newest clip is processed and the skipped frames are counted as dropped.
Configuration: ``pipeline_config.py``; engines: ``engine_registry.py``; counters: ``pipeline_stats.py``.

>>> import numpy as np
>>> pipe = AnomalyPipeline.from_config(overrides={"engine": "motion_baseline", "motion_baseline": {"clip_length": 3}})
>>> img = np.zeros((48, 64, 3), np.uint8)
>>> [pipe.push(img, stamp_ns=(i + 1) * 10**8) is not None for i in range(4)]
[False, False, True, True]
>>> pipe.diagnostics()["processed"], pipe.store.latest().frame_score
(2, 0.0)
"""
from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tvau_ros.core.clip_buffer import Clip, ClipBuffer
from tvau_ros.core.engine import HeatmapEngine, HeatmapResult
from tvau_ros.core.engine_registry import build_engine
from tvau_ros.core.episodes import EpisodeLog
from tvau_ros.core.evidence import EvidenceStore
from tvau_ros.core.ground_projection import CameraIntrinsics, GroundProjector, Pose
from tvau_ros.core.pipeline_config import PipelineConfig, load_pipeline_config
from tvau_ros.core.pipeline_stats import PipelineStats
from tvau_ros.core.regions import FrameRegions, analyse_frame
from tvau_ros.core.tracking import Tracker
from tvau_ros.core.types import NS_PER_S, Evidence, Frame, evidence_to_dict


@dataclass(frozen=True)
class Intake:
    """What ``submit`` did with a frame: accepted or not, and a notable event to log (or None)."""

    accepted: bool
    event: str | None = None   # "resolution_change", "stamp_reset", "stamp_repeated", "stamp_backwards", ...
    message: str = ""
    clip_due: bool = False
    frame_index: int = -1      # index given to the accepted frame


class AnomalyPipeline:
    def __init__(self, engine: HeatmapEngine, cfg: PipelineConfig = PipelineConfig()):
        length = int(engine.clip_length)
        if cfg.clip_length and cfg.clip_length != length:
            raise ValueError(f"clip.length {cfg.clip_length} differs from the engine's clip length {length} "
                             f"({engine.model_id})")
        self.engine = engine
        self.cfg = cfg
        self.buffer = ClipBuffer(length, cfg.stride)
        self.tracker = Tracker(cfg.tracking)
        self.episodes = EpisodeLog()
        self.store = EvidenceStore(cfg.evidence_max_items, cfg.evidence_max_bytes)
        self.stats = PipelineStats()
        self._lock = threading.Lock()
        self._last_stamp: int | None = None
        self._source_size: tuple[int, int] | None = None
        self._index = 0
        self._pending_ended: list[int] = []
        self._camera: CameraIntrinsics | None = None
        self._projector: GroundProjector | None = None

    @classmethod
    def from_config(cls, path: str | Path | None = None, overrides: dict | None = None,
                    cfg: dict | None = None) -> AnomalyPipeline:
        """The pipeline of a config (``path`` + ``overrides`` as ``load_pipeline_config``, or an
        already merged ``cfg`` dict): the config is checked before the engine loads. Raises
        ValueError (bad option) or ``EngineLoadError`` (engine cannot load), naming the cause."""
        cfg = load_pipeline_config(path, overrides) if cfg is None else cfg
        pipeline_cfg = PipelineConfig.from_dict(cfg)
        return cls(build_engine(cfg), pipeline_cfg)

    def diagnostics(self) -> dict:
        """Counters, rates and state for /diagnostics and summaries (thread-safe snapshot)."""
        values = self.stats.snapshot(self.buffer.dropped_frames)
        with self._lock:
            values.update(active_tracks=len(self.tracker.confirmed), open_episodes=len(self.episodes.open()),
                          episodes_started=self.episodes.total_started)
        values.update(evidence_items=len(self.store), evidence_bytes=self.store.nbytes,
                      clip_length=self.buffer.length, stride=self.buffer.stride, model_id=self.engine.model_id)
        status = getattr(self.engine, "status", None)  # engines that report their own state (behaviour)
        if dataclasses.is_dataclass(status):
            values.update({f"engine_{k}": v for k, v in dataclasses.asdict(status).items() if k != "extra"})
        return values

    def count_rejected(self, kind: str) -> int:
        """Count a received frame that could not even be decoded (``kind`` of bad input);
        returns how many of that kind so far."""
        self.stats.received += 1
        return self.stats.bad_input(kind)

    def bad_input_count(self, kind: str) -> int:
        return self.stats.bad_inputs.get(kind, 0)

    def record_engine_error(self) -> int:
        """Count a clip the engine failed on; returns the count so far."""
        self.stats.engine_errors += 1
        return self.stats.engine_errors

    def record_latency(self, seconds: float) -> None:
        """Camera stamp -> publication latency, measured by whoever publishes."""
        self.stats.record_latency(seconds)

    # -- intake (cheap; called for every frame)

    def set_camera(self, camera: CameraIntrinsics | None) -> None:
        """Use these intrinsics (from CameraInfo) for ground points instead of ``ground.hfov_deg``."""
        with self._lock:
            self._camera = camera
            self._projector = None

    def set_camera_pose(self, pose: Pose) -> None:
        """Update the camera pose (e.g. from a tf lookup)."""
        with self._lock:
            if self.cfg.ground is not None and pose != self.cfg.ground.camera_pose:
                self.cfg = replace(self.cfg, ground=replace(self.cfg.ground, camera_pose=pose))
                self._projector = None

    def _resize(self, image: np.ndarray) -> np.ndarray:
        import cv2

        h, w = image.shape[:2]
        limit = self.cfg.max_side
        if not limit or max(h, w) <= limit:
            return image
        scale = limit / max(h, w)
        self.stats.resized += 1
        return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)

    def _end_tracks(self) -> list[int]:
        """End every track; returns the ids not reported ended yet (and forgets them)."""
        ended = self.tracker.end_all()
        ids, self._pending_ended = self._pending_ended + [t.track_id for t in ended], []
        return ids

    def _reset_stream(self) -> None:
        """Forget the buffer and the engine's state and end every track (their episodes end with
        the next evidence)."""
        self.buffer.reset()
        reset = getattr(self.engine, "reset", None)
        if callable(reset):
            reset()
        self._pending_ended = self._end_tracks()

    def reset(self) -> None:
        """Start a new stream (e.g. after a pause): forget buffered frames and the last stamp and
        size; open episodes end with the next evidence."""
        with self._lock:
            self._reset_stream()
            self._last_stamp = None
            self._source_size = None

    def _check_stamp(self, stamp_ns: int) -> tuple[Intake | None, str | None, str]:
        """(a rejection, or None; an event and its message): a jump back, or forward, beyond the
        configured limits restarts the stream; a smaller step back is rejected."""
        if self._last_stamp is None:
            return None, None, ""
        step = stamp_ns - self._last_stamp
        if step <= 0:
            back = -step
            if back > self.cfg.reset_after_backward_jump_s * NS_PER_S:
                self.stats.stamp_resets += 1
                self._reset_stream()
                return None, "stamp_reset", f"stamp jumped back {back / NS_PER_S:.3f} s: stream reset"
            kind = "stamp_repeated" if back == 0 else "stamp_backwards"
            self.stats.bad_input(kind)
            return Intake(False, kind, f"stamp {stamp_ns} ns is not after the previous {self._last_stamp} ns"), None, ""
        if step > self.cfg.reset_after_forward_jump_s * NS_PER_S:
            self.stats.stamp_resets += 1
            self._reset_stream()
            return None, "stamp_reset", f"stamp jumped forward {step / NS_PER_S:.3f} s: stream reset"
        return None, None, ""

    def submit(self, image: np.ndarray, stamp_ns: int, frame_id: str = "") -> Intake:
        """Check and buffer one (H, W, 3) uint8 RGB frame."""
        self.stats.received += 1
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            self.stats.bad_input("format")
            return Intake(False, "bad_format", f"expected (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
        if image.shape[0] == 0 or image.shape[1] == 0:
            self.stats.bad_input("size")
            return Intake(False, "bad_size", f"zero-size image {image.shape[:2]}")
        source_size = (int(image.shape[0]), int(image.shape[1]))
        with self._lock:
            rejected, event, message = self._check_stamp(int(stamp_ns))
            if rejected is not None:
                return rejected
            if self._source_size is not None and source_size != self._source_size:
                self.stats.resolution_changes += 1
                self._reset_stream()
                event, message = "resolution_change", (f"resolution changed from {self._source_size[1]}x"
                                                       f"{self._source_size[0]} to {source_size[1]}x{source_size[0]}:"
                                                       " clip buffer reset")
            self._source_size = source_size
            self._last_stamp = int(stamp_ns)
            frame = Frame(self._resize(image), int(stamp_ns), frame_id, source_size, self._index)
            self._index += 1
            self.stats.accepted += 1
            due = self.buffer.append(frame)
        return Intake(True, event, message, due, frame.index)

    def next_clip(self, force: bool = False) -> Clip | None:
        """The newest due clip (``force``: also a last partial stride at the end of a stream)."""
        with self._lock:
            if self.buffer.due() or (force and self.buffer.has_uncovered()):
                return self.buffer.take(force=force)
            return None

    @property
    def dropped_frames(self) -> int:
        return self.buffer.dropped_frames

    # -- processing (expensive; one thread)

    def _infer(self, clip: Clip) -> HeatmapResult:
        frames = np.stack([f.image for f in clip.frames])
        result = self.engine.infer(frames, [f.stamp_ns for f in clip.frames])
        heatmap = np.asarray(result.heatmap, dtype=np.float32)
        if heatmap.shape != frames.shape[:3]:
            raise ValueError(f"engine {self.engine.model_id} returned heatmaps of shape {heatmap.shape} "
                             f"for a clip of shape {frames.shape}")
        if result.regions is not None and len(result.regions) != len(frames):
            raise ValueError(f"engine {self.engine.model_id} returned regions for {len(result.regions)} frames "
                             f"of a {len(frames)}-frame clip")
        return HeatmapResult(np.clip(np.nan_to_num(heatmap), 0.0, 1.0), result.class_maps, result.regions)

    def _ground_projector(self, source_size: tuple[int, int]) -> GroundProjector | None:
        if self.cfg.ground is None:
            return None
        if self._projector is None:
            self._projector = self.cfg.ground.projector(self._camera, source_size)
        return self._projector

    def process(self, clip: Clip) -> Evidence | None:
        """Run the engine on ``clip`` and build its Evidence (None if the stream was reset meanwhile).

        Every new frame of the clip is scored and its regions tracked, in order; the Evidence
        carries them all (``frame_results``) and the newest frame's as ``regions``."""
        started = time.perf_counter()
        result = self._infer(clip)
        inference_s = time.perf_counter() - started
        first_new = len(clip.frames) - clip.new_count
        new_frames = clip.frames[first_new:]
        analysed: list[FrameRegions] = [
            analyse_frame(result.heatmap[i], frame.source_hw, self.cfg.regions,
                          None if result.regions is None else result.regions[i])
            for i, frame in zip(range(first_new, len(clip.frames)), new_frames, strict=True)]
        with self._lock:
            if clip.generation != self.buffer.generation:
                self.stats.stale_clips += 1
                return None
            started_ids, ended_ids = [], self._pending_ended
            self._pending_ended = []
            for frame, frame_regions in zip(new_frames, analysed, strict=True):
                update = self.tracker.update(frame_regions.regions, frame.stamp_ns, frame.source_hw)
                started_ids += update.started
                ended_ids += update.ended
                projector = self._ground_projector(frame.source_hw)
                if projector is not None:
                    for region in frame_regions.regions:
                        region.ground_point = projector.project_box(region.box, frame.source_hw)
            newest, latest = new_frames[-1], analysed[-1]
            ground_by_track = {r.track_id: r.ground_point for r in latest.regions if r.track_id}
            tracks = [replace(t, ground_point=ground_by_track.get(t.track_id)) for t in update.tracks]
            evidence = Evidence(
                stamp_ns=newest.stamp_ns, frame_id=newest.frame_id, frame_index=newest.index,
                window_start_ns=clip.frames[0].stamp_ns, window_end_ns=newest.stamp_ns,
                # a copy: a view would keep the whole clip's heatmaps alive, unseen by the store's byte limit
                frames=clip.frames, heatmaps=result.heatmap[first_new:].copy(),
                new_frame_indices=tuple(f.index for f in new_frames),
                frame_score=latest.score, is_anomalous=latest.score >= self.cfg.regions.threshold,
                model_id=self.engine.model_id, regions=latest.regions, tracks=tracks,
                started_track_ids=started_ids, ended_track_ids=ended_ids,
                class_maps=result.class_maps, inference_s=inference_s, frame_results=analysed,
            )
            self.episodes.add_event(evidence_to_dict(evidence))
            self.store.add(evidence)
        self.stats.record_processed(inference_s, clip.new_count)
        return evidence

    # -- synchronous use

    def push(self, image: np.ndarray, stamp_ns: int, frame_id: str = "") -> Evidence | None:
        """Submit a frame and process the clip it completes, if any (offline use)."""
        if not self.submit(image, stamp_ns, frame_id).accepted:
            return None
        clip = self.next_clip()
        return self.process(clip) if clip is not None else None

    def finish(self) -> Evidence | None:
        """End of a stream: process the frames no clip covered yet and end every open episode.

        When there were such frames, their evidence lists the ended episodes in
        ``ended_track_ids``. When every frame was covered already there is no new evidence to
        carry them (a copy of the last event would count it twice); the episodes still end
        (``episodes.close_all``), so ``tvau run``'s summary gives each one's span."""
        clip = self.next_clip(force=True)
        evidence = self.process(clip) if clip is not None else None
        with self._lock:
            ids = self._end_tracks()
            if evidence is not None:
                evidence.ended_track_ids = evidence.ended_track_ids + ids
            self.episodes.close_all()
        return evidence
