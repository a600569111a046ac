"""Ground-truth regions for RBDC/TBDC from the object-id masks of VideoSample-like videos.

For every abnormal track span ``(object_id, start, end)`` of a video and every frame in it,
the region is the inclusive bounding box of the pixels equal to ``object_id`` in
``read_mask(frame)``: of its largest 8-connected component (``mode="largest"``, the default,
robust to stray annotation pixels) or of all its pixels (``mode="all"``). Frames where the
object has no pixel give no region and are counted in ``empty_frames``; tracks left without
any region are listed in ``empty_tracks`` (they cannot be detected, and the reference would
divide by zero on them).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from tvau_ros.metrics.boxes import Box
from tvau_ros.metrics.regions import GtRegion

REGION_MODES = ("largest", "all")


class TrackSpanLike(Protocol):
    object_id: int
    start: int
    end: int


class MaskedVideo(Protocol):
    """The part of ``tvau_ros.data.VideoSample`` that ground-truth extraction needs."""

    name: str
    num_frames: int
    tracks: Sequence[TrackSpanLike]

    def read_mask(self, frame: int) -> np.ndarray: ...


@dataclass
class GtRegionSet:
    regions: list[GtRegion] = field(default_factory=list)
    empty_frames: int = 0                      # (track, frame) pairs with no mask pixel
    empty_tracks: list[str] = field(default_factory=list)  # "video:object_id" without any region


def mask_region_box(mask: np.ndarray, object_id: int, mode: str = "largest") -> Box | None:
    """Inclusive box of ``object_id`` in ``mask`` (see module doc), or None if absent.

    >>> m = np.zeros((6, 8), np.int32); m[1:4, 1:3] = 2; m[5, 7] = 2
    >>> mask_region_box(m, 2), mask_region_box(m, 2, "all")
    ((1.0, 1.0, 2.0, 3.0), (1.0, 1.0, 7.0, 5.0))
    """
    if mode not in REGION_MODES:
        raise ValueError(f"region mode must be one of {REGION_MODES}, got {mode!r}")
    binary = (np.asarray(mask) == object_id).astype(np.uint8)
    if not binary.any():
        return None
    if mode == "largest":
        import cv2

        _, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
        x, y, w, h, _ = stats[1 + int(np.argmax(stats[1:, 4]))]
        return (float(x), float(y), float(x + w - 1), float(y + h - 1))
    ys, xs = np.nonzero(binary)
    return (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))


def gt_regions_from_masks(videos: Iterable[MaskedVideo], mode: str = "largest") -> GtRegionSet:
    """GT regions of all abnormal tracks of ``videos``; the track key is the object id."""
    result = GtRegionSet()
    for video in videos:
        for span in video.tracks:
            if not 0 <= span.start <= span.end < video.num_frames:
                raise ValueError(
                    f"video {video.name!r}: track {span.object_id} spans frames "
                    f"{span.start}..{span.end}, outside 0..{video.num_frames - 1}"
                )
            found = 0
            for frame in range(span.start, span.end + 1):
                box = mask_region_box(video.read_mask(frame), span.object_id, mode)
                if box is None:
                    result.empty_frames += 1
                    continue
                result.regions.append(GtRegion(video.name, frame, box, track=int(span.object_id)))
                found += 1
            if not found:
                result.empty_tracks.append(f"{video.name}:{span.object_id}")
    return result
