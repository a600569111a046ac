"""Core objects <-> ROS messages: stamps, images, Evidence -> AnomalyEvent, diagnostics.

Nothing here decides anything: the node calls these to translate, the pipeline decides.
"""
from __future__ import annotations

import math

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PointStamped
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, RegionOfInterest
from std_msgs.msg import Header
from tvau_msgs.msg import AnomalyEvent, AnomalyRegion

from tvau_ros.core.ground_projection import CameraIntrinsics
from tvau_ros.core.types import NS_PER_S, Box, Evidence, GroundPoint, Region, region_to_dict
from tvau_ros.nodes.image_conversion import compressed_to_rgb8, image_to_rgb8, numpy_to_image


LOG_FIELD_MAX = 160  # characters of an untrusted message field that reach the log


def for_log(text: object, limit: int = LOG_FIELD_MAX) -> str:
    """``text`` made safe to log: non-printable characters escaped, at most ``limit`` characters.

    Message fields (encoding, format, frame_id) come from whoever publishes; a 5,000-character
    encoding must not be written whole into every log line.

    >>> for_log("rgb8")
    'rgb8'
    >>> shown = for_log("x" * 5000)
    >>> len(shown), shown.endswith("x... (5000 characters, cut)")
    (186, True)
    >>> for_log("a" + chr(10) + "b") == "a" + chr(92) + "nb"  # a newline cannot forge a log line
    True
    """
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text))
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters, cut)"


class BadImage(ValueError):
    """An image message the node cannot use; ``kind`` names the problem for diagnostics."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def stamp_to_ns(stamp: Time) -> int:
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def ns_to_stamp(ns: int) -> Time:
    return Time(sec=int(ns // NS_PER_S), nanosec=int(ns % NS_PER_S))


def header(stamp_ns: int, frame_id: str) -> Header:
    return Header(stamp=ns_to_stamp(stamp_ns), frame_id=frame_id)


def decode_image_msg(msg: Image | CompressedImage) -> np.ndarray:
    """(H, W, 3) uint8 RGB; raises BadImage(kind) with kind encoding / size / layout / compressed."""
    try:
        if isinstance(msg, CompressedImage):
            return compressed_to_rgb8(msg)
        return image_to_rgb8(msg)
    except ValueError as exc:
        text = str(exc)
        if isinstance(msg, CompressedImage):
            kind = "compressed"
        elif "unsupported image encoding" in text:
            kind = "encoding"
        elif "zero-size" in text:
            kind = "size"
        else:
            kind = "layout"
        raise BadImage(kind, for_log(text)) from None


def camera_info_to_intrinsics(msg: CameraInfo) -> CameraIntrinsics:
    return CameraIntrinsics.from_camera_info(msg.k, msg.d, msg.width, msg.height)


def heatmap_msg(heatmap: np.ndarray, out_size: tuple[int, int], stamp_ns: int, frame_id: str) -> Image:
    """32FC1 image of the heatmap resized to ``out_size`` (h, w), values in [0, 1]."""
    import cv2

    h, w = out_size
    if heatmap.shape != (h, w):
        heatmap = cv2.resize(heatmap, (w, h), interpolation=cv2.INTER_LINEAR)
    return numpy_to_image(np.clip(heatmap, 0.0, 1.0).astype(np.float32), "32FC1", header(stamp_ns, frame_id))


def _ground_point_msg(point: GroundPoint, stamp_ns: int) -> PointStamped:
    msg = PointStamped(header=header(stamp_ns, point.frame_id))
    msg.point.x, msg.point.y, msg.point.z = point.x, point.y, point.z
    return msg


def region_msg(region: Region, stamp_ns: int) -> AnomalyRegion:
    b = region.box
    msg = AnomalyRegion(
        track_id=int(region.track_id),
        box=RegionOfInterest(x_offset=int(b.x), y_offset=int(b.y), width=int(b.width), height=int(b.height)),
        peak_score=float(region.peak_score), mean_score=float(region.mean_score),
        area_fraction=float(region.area_fraction), label=region.label,
        attribute_value=float(region.attribute_value), attribute_unit=region.attribute_unit,
        attribute_score=float(region.attribute_score),
        has_ground_point=region.ground_point is not None,
    )
    if region.ground_point is not None:
        msg.ground_point = _ground_point_msg(region.ground_point, stamp_ns)
    return msg


def evidence_to_event(evidence: Evidence) -> AnomalyEvent:
    return AnomalyEvent(
        header=header(evidence.stamp_ns, evidence.frame_id),
        frame_score=float(evidence.frame_score), is_anomalous=bool(evidence.is_anomalous),
        regions=[region_msg(r, evidence.stamp_ns) for r in evidence.regions],
        window_start=ns_to_stamp(evidence.window_start_ns), window_end=ns_to_stamp(evidence.window_end_ns),
        model_id=evidence.model_id,
        started_track_ids=[int(i) for i in evidence.started_track_ids],
        ended_track_ids=[int(i) for i in evidence.ended_track_ids],
    )


def ground_points(evidence: Evidence) -> list[PointStamped]:
    """One PointStamped per tracked region with a ground point."""
    return [_ground_point_msg(r.ground_point, evidence.stamp_ns) for r in evidence.regions
            if r.track_id and r.ground_point is not None]


def region_from_msg(msg: AnomalyRegion) -> Region:
    """The core ``Region`` of an ``AnomalyRegion`` message (inverse of ``region_msg``)."""
    point = None
    if msg.has_ground_point:
        p = msg.ground_point
        point = GroundPoint(p.point.x, p.point.y, p.point.z, p.header.frame_id)
    return Region(Box(int(msg.box.x_offset), int(msg.box.y_offset), int(msg.box.width), int(msg.box.height)),
                  float(msg.peak_score), float(msg.mean_score), float(msg.area_fraction), msg.label,
                  int(msg.track_id), point, float(msg.attribute_value), msg.attribute_unit,
                  float(msg.attribute_score))


def event_to_dict(msg: AnomalyEvent, ndigits: int = 6) -> dict:
    """The keys of ``tvau_ros.core.types.evidence_to_dict`` (frame_index unknown: -1)."""
    return {
        "frame_index": -1,
        "stamp_ns": stamp_to_ns(msg.header.stamp),
        "frame_id": msg.header.frame_id,
        "window_start_ns": stamp_to_ns(msg.window_start),
        "window_end_ns": stamp_to_ns(msg.window_end),
        "frame_score": round(float(msg.frame_score), ndigits),
        "is_anomalous": bool(msg.is_anomalous),
        "model_id": msg.model_id,
        "regions": [region_to_dict(region_from_msg(r), ndigits) for r in msg.regions],
        "started_track_ids": [int(i) for i in msg.started_track_ids],
        "ended_track_ids": [int(i) for i in msg.ended_track_ids],
    }


def diagnostics_msg(name: str, hardware_id: str, level: int, message: str, values: dict,
                    stamp_ns: int) -> DiagnosticArray:
    """One DiagnosticStatus; numbers formatted compactly (NaN = no samples yet)."""

    def text(value: object) -> str:
        if isinstance(value, float):
            return "nan" if math.isnan(value) else f"{value:.3f}"
        return str(value)

    status = DiagnosticStatus(level=bytes([level]), name=name, message=message, hardware_id=hardware_id,
                              values=[KeyValue(key=k, value=text(v)) for k, v in values.items()])
    return DiagnosticArray(header=header(stamp_ns, ""), status=[status])


def diagnostics_to_dict(msg: DiagnosticArray) -> dict[str, dict[str, str]]:
    """status name -> {key: value, "_level": ..., "_message": ...} (for tests and tools)."""
    out = {}
    for status in msg.status:
        level = status.level if isinstance(status.level, int) else status.level[0]
        out[status.name] = {kv.key: kv.value for kv in status.values} | {"_level": str(level),
                                                                          "_message": status.message}
    return out
