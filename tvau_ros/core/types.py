"""Typed objects that flow through the pipeline: frames in, one ``Evidence`` per processed clip out.

``Frame`` -> ``ClipBuffer`` -> engine heatmaps -> ``Region`` list -> ``Track`` list -> episodes
-> ``Evidence`` (published as a ``tvau_msgs/AnomalyEvent`` by the node, written as a JSON line
by ``tvau run``, stored in the ``EvidenceStore`` for the dialogue). Times are integer
nanoseconds (ROS ``Time`` = sec * 1e9 + nanosec); boxes are in pixels of the SOURCE image.

>>> box = Box(x=10, y=20, width=30, height=40)
>>> box.x_max, box.y_max, box.foot_point()
(39, 59, (25.0, 60.0))
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class Box:
    """Pixel box like ``sensor_msgs/RegionOfInterest``: top-left covered pixel, size in pixels."""

    x: int
    y: int
    width: int
    height: int

    @property
    def x_max(self) -> int:
        """Last covered column (inclusive)."""
        return self.x + self.width - 1

    @property
    def y_max(self) -> int:
        """Last covered row (inclusive)."""
        return self.y + self.height - 1

    @property
    def area(self) -> int:
        return self.width * self.height

    def center(self) -> tuple[float, float]:
        return self.x + self.width / 2.0, self.y + self.height / 2.0

    def foot_point(self) -> tuple[float, float]:
        """Bottom-centre of the box (where a standing target touches the ground), pixel coords."""
        return self.x + self.width / 2.0, float(self.y + self.height)

    def iou(self, other: Box) -> float:
        ix = min(self.x_max, other.x_max) - max(self.x, other.x) + 1
        iy = min(self.y_max, other.y_max) - max(self.y, other.y) + 1
        if ix <= 0 or iy <= 0:
            return 0.0
        inter = ix * iy
        return inter / float(self.area + other.area - inter)

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.width, self.height]


@dataclass(frozen=True)
class Frame:
    """One camera image as the pipeline sees it.

    image:       (H, W, 3) uint8 RGB at the processing resolution (already resized).
    stamp_ns:    camera stamp (header.stamp) in nanoseconds.
    source_size: (height, width) of the original image; boxes are reported in these pixels.
    index:       running number assigned by the pipeline (0, 1, 2, ...), for offline output.
    """

    image: np.ndarray
    stamp_ns: int
    frame_id: str = ""
    source_size: tuple[int, int] | None = None
    index: int = -1

    @property
    def size(self) -> tuple[int, int]:
        return int(self.image.shape[0]), int(self.image.shape[1])

    @property
    def source_hw(self) -> tuple[int, int]:
        return self.source_size if self.source_size is not None else self.size


@dataclass(frozen=True)
class GroundPoint:
    """A point on the ground plane in ``frame_id`` (metres)."""

    x: float
    y: float
    z: float
    frame_id: str


@dataclass
class Region:
    """One connected component of the anomaly heatmap in one frame."""

    box: Box
    peak_score: float
    mean_score: float
    area_fraction: float
    label: str = "anomaly"
    track_id: int = 0  # 0 = not (yet) assigned to a confirmed track
    ground_point: GroundPoint | None = None
    # the behaviour attribute behind ``label`` (engines that measure one): its value in
    # ``attribute_unit`` and how unusual it is against the scene's normal, in [0, 1]
    attribute_value: float = 0.0
    attribute_unit: str = ""
    attribute_score: float = 0.0
    object_id: int = 0  # the engine's own id of the object (object-level engines; 0 = none)


@dataclass
class Track:
    """A target followed across processed clips; ``track_id`` is stable for its whole life."""

    track_id: int
    box: Box
    first_stamp_ns: int
    last_stamp_ns: int
    peak_score: float
    hits: int = 1
    misses: int = 0
    confirmed: bool = False
    ground_point: GroundPoint | None = None
    object_id: int = 0  # the engine's object this track follows (0 = matched by box only)
    label: str = "anomaly"  # label of its strongest region so far


@dataclass(frozen=True)
class Episode:
    """One anomaly episode of one track: from confirmation to loss (end_ns None = still open)."""

    track_id: int
    start_ns: int
    end_ns: int | None
    peak_score: float
    label: str = "anomaly"

    @property
    def duration_s(self) -> float | None:
        return None if self.end_ns is None else (self.end_ns - self.start_ns) / NS_PER_S


@dataclass
class Evidence:
    """Everything the pipeline knows about one processed clip (stamped like its newest frame).

    frames:        the clip's frames, oldest first (shared with neighbouring clips, not copied).
    heatmaps:      (N, h, w) float32 in [0, 1] for the frames this clip is the first to cover
                   (``new_frame_indices``), at the processing resolution; the last one is
                   ``heatmap``, the newest frame's map.
    class_maps:    the engine's normal/abnormal maps (AHD's H_c) or None.
    regions:       components of the newest heatmap, boxes in source pixels, track ids set.
    tracks:        confirmed tracks alive after this clip (snapshots).
    started_track_ids / ended_track_ids: episodes that start / end with this clip.
    frame_results: per new frame, its score, regions and evaluation candidates
                   (``tvau_ros.core.regions.FrameRegions``); the last one gives
                   ``frame_score`` and ``regions``.
    """

    stamp_ns: int
    frame_id: str
    frame_index: int
    window_start_ns: int
    window_end_ns: int
    frames: tuple[Frame, ...]
    heatmaps: np.ndarray
    new_frame_indices: tuple[int, ...]
    frame_score: float
    is_anomalous: bool
    model_id: str
    regions: list[Region] = field(default_factory=list)
    tracks: list[Track] = field(default_factory=list)
    started_track_ids: list[int] = field(default_factory=list)
    ended_track_ids: list[int] = field(default_factory=list)
    class_maps: np.ndarray | None = None
    inference_s: float = 0.0
    frame_results: list = field(default_factory=list)  # FrameRegions per new frame (score, regions, candidates)

    @property
    def heatmap(self) -> np.ndarray:
        """(h, w) float32 heatmap of the newest frame, processing resolution."""
        return self.heatmaps[-1]

    @property
    def newest_frame(self) -> Frame:
        return self.frames[-1]

    def nbytes(self) -> int:
        """Memory held by this evidence that no other evidence shares (heatmaps, maps, new frames)."""
        size = self.heatmaps.nbytes + (self.class_maps.nbytes if self.class_maps is not None else 0)
        new = len(self.new_frame_indices)
        return size + sum(f.image.nbytes for f in self.frames[len(self.frames) - new:])


def region_to_dict(region: Region, ndigits: int = 6) -> dict:
    """JSON-ready form of one Region (the keys of ``tvau_msgs/AnomalyRegion``)."""
    point = region.ground_point
    return {
        "track_id": int(region.track_id),
        "box": region.box.as_list(),
        "peak_score": round(float(region.peak_score), ndigits),
        "mean_score": round(float(region.mean_score), ndigits),
        "area_fraction": round(float(region.area_fraction), ndigits),
        "label": region.label,
        "attribute_value": round(float(region.attribute_value), ndigits),
        "attribute_unit": region.attribute_unit,
        "attribute_score": round(float(region.attribute_score), ndigits),
        "ground_point": None if point is None else {
            "x": round(point.x, ndigits), "y": round(point.y, ndigits), "z": round(point.z, ndigits),
            "frame_id": point.frame_id},
    }


def evidence_to_dict(evidence: Evidence, ndigits: int = 6) -> dict:
    """JSON-ready summary of one Evidence: what ``tvau run`` writes per line of events.jsonl.

    The node's ``AnomalyEvent`` converts to the same keys (``msg_conversion.event_to_dict``),
    so offline and ROS outputs are directly comparable.
    """
    return {
        "frame_index": evidence.frame_index,
        "stamp_ns": evidence.stamp_ns,
        "frame_id": evidence.frame_id,
        "window_start_ns": evidence.window_start_ns,
        "window_end_ns": evidence.window_end_ns,
        "frame_score": round(float(evidence.frame_score), ndigits),
        "is_anomalous": bool(evidence.is_anomalous),
        "model_id": evidence.model_id,
        "regions": [region_to_dict(r, ndigits) for r in evidence.regions],
        "started_track_ids": list(evidence.started_track_ids),
        "ended_track_ids": list(evidence.ended_track_ids),
    }
