"""The behaviour engine: the default CPU engine of the pipeline (``engine: behaviour``).

Per frame, at ``work_side`` pixels: foreground blobs (``foreground``), split where they
hold several people and completed with people who stopped by the person detector
(``person_detector``, ``object_fusion``; optional) -> object tracks
(``objects``) -> each confirmed track's behaviour attributes over seconds (``attributes``)
-> scored against the scene's normal (``scene_model``) -> the track's score painted on its
foreground mask (the heatmap) and one region per track carrying the attribute that made it
abnormal (``Region.label``, ``attribute_value``, ``attribute_unit``). The pipeline thresholds
the regions, follows them into episodes and publishes them.

The engine follows objects across calls (clips of one frame, every frame): the pipeline
calls ``reset()`` when the stream restarts. ``set_scene_model`` switches the scene (the
waypoint) at run time; ``start_learning`` / ``finish_learning`` learn a new scene's normal
from the live stream through the same detection and tracking (``tvau learn-normal``).
"""
from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tvau_ros.core.behaviour.attributes import ATTRIBUTES, MOVING, measure
from tvau_ros.core.behaviour.foreground import BackgroundModel, ForegroundConfig, find_blobs
from tvau_ros.core.behaviour.object_fusion import FusionConfig, fuse_detections
from tvau_ros.core.behaviour.objects import ObjectTrack, ObjectTracker, TrackerConfig
from tvau_ros.core.behaviour.scene_model import SceneModel, SceneModelError, Scoring, TrackRecord
from tvau_ros.core.config_values import typed_section
from tvau_ros.core.engine import HeatmapResult
from tvau_ros.core.types import NS_PER_S, Box, Region

if TYPE_CHECKING:
    from tvau_ros.core.behaviour.person_detector import PersonDetector


@dataclass(frozen=True)
class BehaviourConfig:
    work_side: int = 320           # long side of the analysis resolution, pixels
    min_track_age_s: float = 0.5   # a track is scored once it is this old
    persist_s: float = 0.5         # an attribute must stay abnormal this long (median over the window)
    hold_s: float = 0.4            # a track's score decays over this long after its attribute falls
    excess_at_half: float = 1.0    # scoring: excess over the normal 99th percentile that scores 0.5
    excess_width: float = 0.2
    attributes: tuple = tuple(ATTRIBUTES)  # attributes that may make an object abnormal (ablations)
    fg_min_diff: float = 18.0
    fg_k_noise: float = 4.0
    fg_learning_rate: float = 0.01
    min_blob_fraction: float = 0.00015  # smallest blob, fraction of the work image
    max_objects: int = 64
    detector: str = ""                 # person detector (a shipped name or a path; '' = foreground only)
    detector_standalone_score: float = 0.5  # a detection with no foreground under it is an object from this score

    def __post_init__(self):
        unknown = sorted(set(self.attributes) - set(ATTRIBUTES))
        if unknown:
            raise ValueError(f"behaviour.attributes: unknown {unknown}; known: {sorted(ATTRIBUTES)}")
        if self.work_side < 32:
            raise ValueError(f"behaviour.work_side must be >= 32, got {self.work_side}")
        if self.max_objects < 1:
            raise ValueError(f"behaviour.max_objects must be >= 1, got {self.max_objects}")

    @classmethod
    def from_dict(cls, values: dict) -> BehaviourConfig:
        known = {f.name for f in fields(cls)}
        options = {k: v for k, v in values.items() if k in known}
        if "attributes" in options:
            options["attributes"] = tuple(options["attributes"] or ATTRIBUTES)
        typed = typed_section(cls, {k: v for k, v in options.items() if k != "attributes"}, "behaviour")
        return cls(**typed, **({"attributes": options["attributes"]} if "attributes" in options else {}))


def region_label(name: str, value: float, values: dict) -> str:
    """The label a region gets for attribute ``name`` at ``value`` (``lying`` while still,
    ``crawling`` moving; ``stationary_45s`` with its seconds).

    >>> region_label("stationary", 45.3, {}), region_label("lying", 0.6, {"fast": 0.5}), region_label("fast", 3.0, {})
    ('stationary_45s', 'crawling', 'fast')
    """
    if name == "stationary":
        return f"stationary_{int(value) if math.isfinite(value) else 0}s"
    if name == "lying" and (values.get("fast") or 0.0) >= MOVING:
        return "crawling"
    return ATTRIBUTES[name].label


@dataclass
class EngineStatus:
    """What the engine reports to diagnostics."""

    scene: str = "generic"
    scene_warning: str = ""
    objects_dropped: int = 0
    learning: bool = False
    learning_frames: int = 0
    learning_tracks: int = 0
    detector: str = "off"        # the person detector's file in use ("off": foreground objects only)
    detector_warning: str = ""   # why the configured detector is not used
    extra: dict = field(default_factory=dict)


class BehaviourEngine:
    clip_length = 1

    def __init__(self, cfg: BehaviourConfig, generic: SceneModel, scene: SceneModel | None = None,
                 scene_warning: str = "", detector: PersonDetector | None = None, detector_warning: str = ""):
        self.cfg = cfg
        self.detector = detector
        self.fusion = FusionConfig(standalone_score=cfg.detector_standalone_score)
        self._earlier: deque = deque(maxlen=detector.motion_gap if detector else 1)  # the detector's motion channel
        self.generic = generic
        self.scoring = Scoring(cfg.excess_at_half, cfg.excess_width)
        self.background = BackgroundModel(ForegroundConfig(cfg.fg_min_diff, cfg.fg_k_noise,
                                                           learning_rate=cfg.fg_learning_rate))
        self._protect: np.ndarray | None = None
        self.tracker = ObjectTracker(TrackerConfig())
        self.status = EngineStatus(detector=detector.source if detector else "off", detector_warning=detector_warning)
        self._lock = threading.Lock()
        self._learning: dict[str, TrackRecord] | None = None
        self._learning_frames = 0
        self._session = 0
        self._paused = False
        self._learning_span: list = [None, None]
        self._frames_seen = 0
        self.scene: SceneModel | None = None
        self.set_scene_model(scene, scene_warning)

    # ------------------------------------------------------------ scene

    @property
    def model(self) -> SceneModel:
        return self.scene or self.generic

    @property
    def model_id(self) -> str:
        return f"behaviour/{self.model.name}"

    def set_scene_model(self, scene: SceneModel | None, warning: str = "") -> None:
        """Use ``scene`` from the next frame on (None: the generic model, ``warning`` says why)."""
        self.generic.prepare()
        if scene is not None:
            scene.prepare()
        with self._lock:
            self.scene = scene
            self.status.scene = self.model.name
            self.status.scene_warning = warning
            self._frames_seen = 0
            self.tracker.reset()

    def reset(self) -> None:
        """A new stream: forget tracks and the learnt background (a scene model's is kept)."""
        with self._lock:
            self.tracker.reset()
            self._frames_seen = 0
            self.background.reset()
            self._protect = None
            self._earlier.clear()
            self._session += 1

    # ------------------------------------------------------------ learning

    def start_learning(self) -> None:
        with self._lock:
            self._learning, self._learning_frames, self._learning_span = {}, 0, [None, None]
            self.status.learning = True

    def cancel_learning(self) -> None:
        with self._lock:
            self._learning = None
            self.status.learning = False

    def finish_learning(self, name: str, card: dict | None = None) -> SceneModel:
        """Fit a scene model from what was seen since ``start_learning``; raises SceneModelError
        when nothing usable was seen."""
        with self._lock:
            records, frames = self._learning, self._learning_frames
            self._learning, self.status.learning = None, False
            background = self.background.image()
        if records is None:
            raise SceneModelError("learning was not started")
        if frames < 10:
            raise SceneModelError(f"only {frames} frames seen while learning; a scene model needs at least 10 "
                                  "(a minute or two of normal activity is best)")
        kept = [r for r in records.values() if len(r.observations) >= 3]
        if not kept:
            raise SceneModelError(f"no moving object was seen in {frames} frames: nothing to learn the scene's "
                                  "normal from (is the camera covered, or the scene empty?)")
        size = background.shape[:2] if background is not None else None
        first, last = self._learning_span
        seconds = round(last - first, 1) if first is not None else 0.0
        return SceneModel.fit(kept, name, size, background, card={"frames": frames, "seconds": seconds, **(card or {})})

    def pause_learning(self, paused: bool) -> None:
        """Stop recording for a while (frames known to be abnormal); a track seen on both sides
        of a pause becomes two records."""
        with self._lock:
            if paused and not self._paused:
                self._session += 1
            self._paused = paused

    def learning_records(self) -> list[TrackRecord]:
        """The tracks recorded since ``start_learning`` (for fitting over many videos)."""
        with self._lock:
            return [r for r in (self._learning or {}).values() if len(r.observations) >= 3]

    # ------------------------------------------------------------ inference

    def _work_frame(self, frame: np.ndarray) -> np.ndarray:
        import cv2

        h, w = frame.shape[:2]
        scale = self.cfg.work_side / max(h, w)
        if scale >= 1.0:
            return frame
        return cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)

    def infer(self, clip: np.ndarray, stamps_ns: Sequence[int] | None = None) -> HeatmapResult:
        """Frames (T, H, W, 3) uint8 RGB with their stamps -> heatmaps (T, H, W) and the scored
        objects of each frame (boxes in the frames' pixels)."""
        clip = np.asarray(clip)
        if clip.ndim != 4 or clip.shape[-1] != 3 or clip.dtype != np.uint8:
            raise ValueError(f"expected (T, H, W, 3) uint8 frames, got {clip.shape} {clip.dtype}")
        if stamps_ns is None:
            raise ValueError("the behaviour engine needs the frames' stamps (it measures speeds over time)")
        heatmaps, regions = [], []
        with self._lock:
            for frame, stamp in zip(clip, stamps_ns, strict=True):
                heat, frame_regions = self._step(frame, stamp / NS_PER_S)
                heatmaps.append(heat)
                regions.append(frame_regions)
        return HeatmapResult(np.stack(heatmaps), regions=regions)

    def _step(self, frame: np.ndarray, stamp_s: float) -> tuple[np.ndarray, list[Region]]:
        import cv2

        work = self._work_frame(frame)
        wh, ww = work.shape[:2]
        if self._frames_seen == 0 and self.scene is not None and self.scene.background is not None:
            mismatch = self.scene.camera_mismatch(cv2.resize(work, self.scene.background.shape[1::-1]))
            if mismatch:  # another camera or place: score with the generic model, say so
                self.status.scene_warning = f"scene model {self.scene.name!r} does not fit this camera ({mismatch}); " \
                                            "using the generic model"
                self.scene, self.status.scene = None, self.generic.name
                self.background.reset()
        self._frames_seen += 1
        if self._learning is not None and not self._paused:
            self._learning_frames += 1
            self._learning_span = [self._learning_span[0] or stamp_s, stamp_s]
        protect = self._protect if self._protect is not None and self._protect.shape == (wh, ww) else None
        mask = self.background.apply(work, protect)
        earlier = self._earlier[0] if len(self._earlier) == self._earlier.maxlen else work
        self._earlier.append(work)
        if not self.background.ready:  # still learning the empty scene
            return self._to_frame(np.zeros((wh, ww), np.float32), [], frame.shape[:2])
        min_area = max(4, int(self.cfg.min_blob_fraction * wh * ww))
        blobs, dropped = find_blobs(mask, min_area, self.cfg.max_objects)
        if self.detector is not None:
            boxes, scores = self.detector.detect(work, earlier)
            blobs = fuse_detections(blobs, boxes, scores, (wh, ww), self.fusion)
            dropped += max(0, len(blobs) - self.cfg.max_objects)
            blobs = blobs[:self.cfg.max_objects]
        self.status.objects_dropped += dropped
        tracks = self.tracker.update(blobs, stamp_s, (wh, ww))
        self._protect = np.zeros((wh, ww), np.float32)
        for track in self.tracker.tracks:  # objects that moved stay foreground when they stop
            if track.state.get("moved", 0.0) >= 1.0 and track.mask is not None:
                _paint(self._protect, track.mask, *track.last.box[:2], 1.0)
        model = self.model
        reference = model.reference_height()
        heat = np.zeros((wh, ww), np.float32)
        regions = []
        min_height = 0.04 * wh
        for track in tracks:
            values = model.complete(measure(track, reference, min_height))
            score, name, value = self._score(track, values, stamp_s)
            held = track.state.get("held")
            if held is not None:
                decayed = held[0] * math.exp(-(stamp_s - held[1]) / max(self.cfg.hold_s, 1e-3))
                if decayed > score:
                    score, name, value = decayed, held[2], held[3]
            track.state["held"] = (score, stamp_s, name, value)
            x, y, w, h = track.last.box
            _paint(heat, track.mask, x, y, score)
            label = region_label(name, value, values) if name else "normal"
            regions.append(Region(
                Box(int(x), int(y), int(w), int(h)), float(score), float(score),
                float(track.mask.sum()) / (wh * ww), label, object_id=track.track_id,
                attribute_value=0.0 if math.isnan(value) else float(value),
                attribute_unit=ATTRIBUTES[name].unit if name else "", attribute_score=float(score)))
        if self._learning is not None and not self._paused:
            self._record(tracks)
        return self._to_frame(heat, regions, frame.shape[:2])

    def _score(self, track: ObjectTrack, values: dict, stamp_s: float) -> tuple[float, str, float]:
        """(score, attribute, value) of a track: each attribute's excess over the scene's normal,
        as its median over the last ``persist_s`` (a one-frame glitch of a box is not an
        anomaly), scored by the strongest attribute."""
        recent = track.state.setdefault("excesses", [])
        recent.append((stamp_s, self.model.excesses(values, self.cfg.attributes), values))
        while recent and recent[0][0] < stamp_s - self.cfg.persist_s:
            recent.pop(0)
        if track.age_s < self.cfg.min_track_age_s or len(recent) < 2:
            return 0.0, "", math.nan
        best, best_name = -math.inf, ""
        for name in recent[-1][1]:
            series = [e[name] for _, e, _ in recent if name in e]
            if len(series) >= max(2, len(recent) // 2):
                excess = float(np.median(series))
                if excess > best:
                    best, best_name = excess, name
        if not best_name:
            return 0.0, "", math.nan
        return self.scoring.score(best), best_name, float(np.median([v[best_name] for _, e, v in recent
                                                                      if best_name in e]))

    def _record(self, tracks: list[ObjectTrack]) -> None:
        for track in tracks:
            key = f"{self._session}:{track.track_id}"
            record = self._learning.setdefault(key, TrackRecord(key))
            if not record.observations:
                record.observations.extend(list(track.history)[:-1])  # its tentative start
            record.observations.append(track.last)
        self.status.learning_frames = self._learning_frames
        self.status.learning_tracks = len(self._learning)

    @staticmethod
    def _to_frame(heat: np.ndarray, regions: list[Region],
                  frame_hw: tuple[int, int]) -> tuple[np.ndarray, list[Region]]:
        """Heatmap and boxes from the work resolution to the frame's."""
        import cv2

        fh, fw = frame_hw
        wh, ww = heat.shape
        if (wh, ww) == (fh, fw):
            return heat, regions
        sx, sy = fw / ww, fh / wh
        for region in regions:
            b = region.box
            x0, y0 = int(math.floor(b.x * sx)), int(math.floor(b.y * sy))
            x1, y1 = min(fw, int(math.ceil((b.x + b.width) * sx))), min(fh, int(math.ceil((b.y + b.height) * sy)))
            region.box = Box(x0, y0, max(1, x1 - x0), max(1, y1 - y0))
        return cv2.resize(heat, (fw, fh), interpolation=cv2.INTER_LINEAR), regions


def _paint(heat: np.ndarray, mask: np.ndarray, x: int, y: int, score: float) -> None:
    """heat = max(heat, score on ``mask`` placed at (x, y)), cut to the image."""
    h, w = mask.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, heat.shape[1]), min(y + h, heat.shape[0])
    if x1 <= x0 or y1 <= y0 or score <= 0:
        return
    region = heat[y0:y1, x0:x1]
    np.maximum(region, mask[y0 - y:y1 - y, x0 - x:x1 - x].astype(np.float32) * score, out=region)


def load_scene_model(scene: str, scene_dir: str | Path) -> SceneModel:
    """``scene``: a name in ``scene_dir`` or a path to a model's .safetensors."""
    path = Path(scene)
    if path.suffix not in (".safetensors", ".yaml") and "/" not in scene:
        path = Path(scene_dir) / f"{scene}.safetensors"
    return SceneModel.load(path)
