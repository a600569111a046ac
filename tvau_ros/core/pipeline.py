"""The anomaly pipeline: frames in, one ``Evidence`` per processed clip out.

ONE object shared by the ROS heatmap node and ``tvau run`` (no ROS here):

    frame -> checks (size, stamps, resolution) -> resize -> ClipBuffer -> engine.infer(clip)
          -> heatmap smoothing, frame score, regions -> tracker -> episodes -> ground points
          -> Evidence -> EvidenceStore

Synchronous use (offline): ``push(image, stamp_ns)`` returns an Evidence when a clip was
processed. Asynchronous use (node): the receiving thread calls ``submit`` (cheap), a
processing thread calls ``next_clip`` and ``process``; when processing is slower than the
camera, only the newest clip is processed and the skipped frames are counted as dropped.

>>> import numpy as np
>>> cfg = load_pipeline_config(overrides={"motion_baseline": {"clip_length": 3}})
>>> pipe = AnomalyPipeline(build_engine(cfg), PipelineConfig.from_dict(cfg))
>>> img = np.zeros((48, 64, 3), np.uint8)
>>> [pipe.push(img, stamp_ns=i * 10**8) is not None for i in range(4)]
[False, False, True, True]
>>> pipe.stats.snapshot()["processed"], pipe.store.latest().frame_score
(2, 0.0)
"""
from __future__ import annotations

import copy
import math
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import numpy as np

from tvau_ros.core.clip_buffer import Clip, ClipBuffer
from tvau_ros.core.config_values import typed_section, typed_value
from tvau_ros.core.engine import HeatmapEngine, HeatmapResult
from tvau_ros.core.episodes import EpisodeLog
from tvau_ros.core.evidence import EvidenceStore
from tvau_ros.core.ground_projection import CameraIntrinsics, GroundProjector, Pose
from tvau_ros.core.regions import RegionConfig, extract_regions, frame_score, smooth_heatmap
from tvau_ros.core.tracking import Tracker, TrackerConfig
from tvau_ros.core.types import NS_PER_S, Evidence, Frame

ENGINES = ("motion_baseline", "ahd")
CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".onnx", ".yaml", ".yml", ".json", ".ckpt")


class EngineLoadError(ValueError):
    """The configured engine cannot be built; the message names the engine and the reason."""


# ---------------------------------------------------------------- configuration

def default_config_path() -> Path:
    return Path(str(resources.files("tvau_ros") / "configs" / "pipeline_default.yaml"))


def _merge(base: dict, update: dict, where: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in (update or {}).items():
        if key not in out:
            raise ValueError(f"unknown pipeline option '{where}{key}'; known: {sorted(out)}")
        if isinstance(out[key], dict) and value is not None and not isinstance(value, dict):
            raise ValueError(f"pipeline option '{where}{key}' must be a mapping, got {value!r}")
        if isinstance(out[key], dict):  # an empty section (every key commented out) keeps the defaults
            out[key] = _merge(out[key], value or {}, f"{where}{key}.")
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_pipeline_config(path: str | Path | None = None, overrides: dict | None = None) -> dict:
    """Default config, deep-merged with the YAML file ``path`` and then ``overrides``.

    Unknown keys raise ValueError naming them (typos fail loudly).
    """
    import yaml

    with open(default_config_path(), encoding="utf-8") as file:
        cfg = yaml.safe_load(file)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"pipeline config not found: {path}")
        try:
            with open(path, encoding="utf-8") as file:
                user = yaml.safe_load(file) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"pipeline config {path} is not valid YAML: {exc}".splitlines()[0]) from None
        if not isinstance(user, dict):
            raise ValueError(f"pipeline config {path} must be a mapping, got {type(user).__name__}")
        cfg = _merge(cfg, user)
    return _merge(cfg, overrides or {})


@dataclass(frozen=True)
class GroundConfig:
    frame_id: str
    camera_pose: Pose
    ground_z: float = 0.0
    hfov_deg: float = 0.0
    max_range_m: float = 50.0

    def __post_init__(self):
        if not (0.0 <= self.hfov_deg < 180.0 and self.max_range_m > 0):
            raise ValueError(f"pipeline options 'ground.hfov_deg' must be in [0, 180) and 'ground.max_range_m' > 0, "
                             f"got {self.hfov_deg} and {self.max_range_m}")

    def projector(self, camera: CameraIntrinsics | None = None, source_size: tuple[int, int] | None = None):
        """Projector from CameraInfo intrinsics, else from ``hfov_deg`` at ``source_size``."""
        if camera is None:
            if not self.hfov_deg or source_size is None:
                return None
            camera = CameraIntrinsics.from_hfov(source_size[1], source_size[0], self.hfov_deg)
        return GroundProjector(camera, self.camera_pose, self.frame_id, self.ground_z, self.max_range_m)


@dataclass(frozen=True)
class PipelineConfig:
    clip_length: int = 0           # 0 = the engine's
    stride: int = 1
    max_side: int = 640
    reset_after_backward_jump_s: float = 2.0
    regions: RegionConfig = field(default_factory=RegionConfig)
    tracking: TrackerConfig = field(default_factory=TrackerConfig)
    evidence_max_items: int = 64
    evidence_max_bytes: int = 256 * 1024 * 1024
    ground: GroundConfig | None = None

    @classmethod
    def from_dict(cls, cfg: dict) -> "PipelineConfig":
        """From a dict as returned by ``load_pipeline_config``; a value of the wrong type or out
        of range is a ValueError naming its key."""
        def number(key: str, kind: str, minimum: float, value=None):
            section, name = key.split(".")
            value = typed_value(cfg[section][name] if value is None else value, kind, key)
            if not value >= minimum:
                raise ValueError(f"pipeline option '{key}' must be >= {minimum}, got {value}")
            return value

        ground = typed_section(GroundConfig, {**{k: v for k, v in cfg["ground"].items() if k != "enabled"},
                                              "hfov_deg": cfg["ground"].get("hfov_deg") or 0.0}, "ground")
        enabled = typed_value(cfg["ground"].get("enabled", True), "bool", "ground.enabled")
        try:
            pose = Pose.from_list(ground["camera_pose"]) if enabled else None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"pipeline option 'ground.camera_pose': {exc}") from None
        return cls(
            clip_length=number("clip.length", "int", 0, cfg["clip"]["length"] or 0),
            stride=number("clip.stride", "int", 1),
            max_side=number("input.max_side", "int", 0, cfg["input"]["max_side"] or 0),
            reset_after_backward_jump_s=number("stamps.reset_after_backward_jump_s", "float", 0.0),
            regions=RegionConfig(**typed_section(RegionConfig, cfg["regions"], "regions")),
            tracking=TrackerConfig(**typed_section(TrackerConfig, cfg["tracking"], "tracking")),
            evidence_max_items=number("evidence.max_items", "int", 1),
            evidence_max_bytes=number("evidence.max_bytes", "int", 1),
            ground=GroundConfig(camera_pose=pose, **{k: v for k, v in ground.items() if k != "camera_pose"}) if enabled else None,
        )


def models_dirs() -> list[Path]:
    """Where shipped models are looked up by name: $TVAU_MODELS_DIR, the installed package's
    share/tvau_ros/models (colcon), the source tree's models/ (pip -e)."""
    dirs = [Path(p) for p in os.environ.get("TVAU_MODELS_DIR", "").split(os.pathsep) if p]
    try:
        from ament_index_python.packages import get_package_share_directory

        dirs.append(Path(get_package_share_directory("tvau_ros")) / "models")
    except Exception:  # noqa: BLE001 - no ament index / package not installed with colcon
        pass
    dirs.append(Path(__file__).resolve().parents[2] / "models")
    return dirs


def shipped_model(name: str) -> Path:
    """``name`` (a model card name such as ``tvau_ahd_dinov2s_minilm``) -> its .safetensors."""
    for folder in models_dirs():
        candidate = folder / f"{name}.safetensors"
        if candidate.is_file():
            return candidate
    return models_dirs()[-1] / f"{name}.safetensors"


def build_engine(cfg: dict) -> HeatmapEngine:
    """The engine named by ``cfg["engine"]`` (a dict from ``load_pipeline_config``).

    ``motion_baseline`` is built here (``clip.length``, when set, overrides its clip length);
    ``ahd`` loads ``cfg["ahd"]["checkpoint"]`` through ``tvau_ros.core.ahd.load_ahd_engine``.
    Raises EngineLoadError with the reason (missing checkpoint, unknown engine, ...).
    """
    name = cfg.get("engine", "motion_baseline")
    if name == "motion_baseline":
        from tvau_ros.core.motion_baseline import MotionBaselineConfig, MotionBaselineEngine

        options = dict(cfg.get("motion_baseline") or {})
        length = typed_value((cfg.get("clip") or {}).get("length") or 0, "int", "clip.length")
        if length:
            options["clip_length"] = length
        try:
            return MotionBaselineEngine(MotionBaselineConfig.from_dict(options))
        except (TypeError, ValueError) as exc:
            raise EngineLoadError(f"engine 'motion_baseline': {exc}") from None
    if name == "ahd":
        ahd = cfg.get("ahd") or {}
        checkpoint = str(ahd.get("checkpoint") or "")
        if not checkpoint:
            raise EngineLoadError("engine 'ahd' needs ahd.checkpoint (a trained AHD checkpoint)")
        looks_like_path = "/" in checkpoint or Path(checkpoint).suffix.lower() in CHECKPOINT_SUFFIXES
        if not looks_like_path:
            checkpoint = str(shipped_model(checkpoint))
        if not Path(checkpoint).exists():
            raise EngineLoadError(f"engine 'ahd': checkpoint not found: {checkpoint}")
        from tvau_ros.core.ahd_spec import load_ahd_engine
        try:
            return load_ahd_engine(checkpoint, str(ahd.get("backend", "torch")), str(ahd.get("device", "cpu")))
        except (OSError, ValueError, RuntimeError, KeyError, AssertionError) as exc:  # torch asserts on a missing CUDA
            raise EngineLoadError(f"engine 'ahd': cannot load {checkpoint} on {ahd.get('device', 'cpu')!r}: {exc}") from None
    raise EngineLoadError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")


# ---------------------------------------------------------------- statistics

def _percentile(values, q: float) -> float:
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


# ---------------------------------------------------------------- the pipeline

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
        """End every track and its episode; returns the ids not reported ended yet (and forgets them)."""
        ended = self.tracker.end_all()
        self.episodes.end(ended)
        ids, self._pending_ended = self._pending_ended + [t.track_id for t in ended], []
        return ids

    def _reset_stream(self) -> None:
        """Forget the buffer and end every track (their episodes end with the next evidence)."""
        self.buffer.reset()
        self._pending_ended = self._end_tracks()

    def reset(self) -> None:
        """Start a new stream (e.g. after a pause): forget buffered frames and the last stamp and
        size; open episodes end with the next evidence."""
        with self._lock:
            self._reset_stream()
            self._last_stamp = None
            self._source_size = None

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
        event, message = None, ""
        with self._lock:
            if self._last_stamp is not None and stamp_ns <= self._last_stamp:
                back = self._last_stamp - stamp_ns
                if back > self.cfg.reset_after_backward_jump_s * NS_PER_S:
                    self.stats.stamp_resets += 1
                    self._reset_stream()
                    event, message = "stamp_reset", f"stamp jumped back {back / NS_PER_S:.3f} s: stream reset"
                else:
                    kind = "stamp_repeated" if back == 0 else "stamp_backwards"
                    self.stats.bad_input(kind)
                    return Intake(False, kind, f"stamp {stamp_ns} ns is not after the previous {self._last_stamp} ns")
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
        result = self.engine.infer(frames)
        heatmap = np.asarray(result.heatmap, dtype=np.float32)
        if heatmap.shape != frames.shape[:3]:
            raise ValueError(f"engine {self.engine.model_id} returned heatmaps of shape {heatmap.shape} "
                             f"for a clip of shape {frames.shape}")
        return HeatmapResult(np.clip(np.nan_to_num(heatmap), 0.0, 1.0), result.class_maps)

    def _ground_projector(self, source_size: tuple[int, int]) -> GroundProjector | None:
        if self.cfg.ground is None:
            return None
        if self._projector is None:
            self._projector = self.cfg.ground.projector(self._camera, source_size)
        return self._projector

    def process(self, clip: Clip) -> Evidence | None:
        """Run the engine on ``clip`` and build its Evidence (None if the stream was reset meanwhile)."""
        started = time.perf_counter()
        result = self._infer(clip)
        inference_s = time.perf_counter() - started
        newest = clip.frames[-1]
        smoothed = smooth_heatmap(result.heatmap[-1], self.cfg.regions.smoothing_sigma)
        score = frame_score(smoothed)
        regions = extract_regions(smoothed, newest.source_hw, self.cfg.regions)
        with self._lock:
            if clip.generation != self.buffer.generation:
                self.stats.stale_clips += 1
                return None
            update = self.tracker.update(regions, newest.stamp_ns, newest.source_hw)
            self.episodes.end(update.ended_tracks)
            self.episodes.start([t for t in update.tracks if t.track_id in update.started], self.cfg.regions.label)
            self.episodes.touch(update.tracks)
            projector = self._ground_projector(newest.source_hw)
            ground_by_track = {}
            for region in regions:
                if projector is not None:
                    region.ground_point = projector.project_box(region.box, newest.source_hw)
                if region.track_id:
                    ground_by_track[region.track_id] = region.ground_point
            tracks = [replace(t, ground_point=ground_by_track.get(t.track_id)) for t in update.tracks]
            ended = self._pending_ended + update.ended
            self._pending_ended = []
            evidence = Evidence(
                stamp_ns=newest.stamp_ns, frame_id=newest.frame_id, frame_index=newest.index,
                window_start_ns=clip.frames[0].stamp_ns, window_end_ns=newest.stamp_ns,
                # a copy: a view would keep the whole clip's heatmaps alive, unseen by the store's byte limit
                frames=clip.frames, heatmaps=result.heatmap[len(clip.frames) - clip.new_count:].copy(),
                new_frame_indices=tuple(f.index for f in clip.frames[len(clip.frames) - clip.new_count:]),
                frame_score=score, is_anomalous=score >= self.cfg.regions.threshold,
                model_id=self.engine.model_id, regions=regions, tracks=tracks,
                started_track_ids=list(update.started), ended_track_ids=ended,
                class_maps=result.class_maps, inference_s=inference_s,
            )
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
        carry them (a copy of the last event would count it twice); ``tvau run``'s summary then
        gives each episode's span under ``anomalies``."""
        clip = self.next_clip(force=True)
        evidence = self.process(clip) if clip is not None else None
        with self._lock:
            ids = self._end_tracks()
        if evidence is not None:
            evidence.ended_track_ids = evidence.ended_track_ids + ids
        return evidence
