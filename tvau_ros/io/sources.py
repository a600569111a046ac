"""Recorded frame sources: a video file, a folder of images, or a rosbag2 file (.mcap / .db3).

``open_source(path)`` picks the reader from the path (a folder of images, a bag directory
with ``metadata.yaml``, ``.mcap`` / ``.db3``, anything else is tried as a video) and fails
at once with a ``SourceError`` naming the file when it is missing, unreadable or corrupt.
Frames come out as (H, W, 3) uint8 RGB with a time in nanoseconds: the media time from the
start for videos and image folders (index / fps), the recorded ``header.stamp`` for bags.

>>> import tempfile, cv2, numpy as np
>>> d = tempfile.mkdtemp()
>>> for i in range(3): _ = cv2.imwrite(f"{d}/{i:03d}.png", np.full((4, 6, 3), i, np.uint8))
>>> src = open_source(d, fps=10)
>>> [(f.index, f.time_ns, f.image.shape) for f in src]
[(0, 0, (4, 6, 3)), (1, 100000000, (4, 6, 3)), (2, 200000000, (4, 6, 3))]
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tvau_ros.core.image_encoding import decode_compressed, decode_image, to_rgb8

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
BAG_EXTENSIONS = (".mcap", ".db3")
IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
NS_PER_S = 1_000_000_000

# FFmpeg (inside OpenCV) would print its own lines for a corrupt file; we report one clear line.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")  # AV_LOG_FATAL


class SourceError(ValueError):
    """A recorded source is missing, unreadable or corrupt; the message names the path."""


@dataclass(frozen=True)
class SourceFrame:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    time_ns: int
    index: int
    frame_id: str = ""


def _media_time(index: int, fps: float) -> int:
    return int(round(index * NS_PER_S / fps))


class VideoSource:
    """A video file read with OpenCV's FFmpeg back end."""

    kind = "video"

    def __init__(self, path: Path, fps: float | None = None):
        import cv2

        self.path = path
        self._cap = cv2.VideoCapture(str(path))
        ok, first = self._cap.read() if self._cap.isOpened() else (False, None)
        if not ok or first is None:
            self._cap.release()
            raise SourceError(f"cannot read video {path}: not a video file or corrupt")
        self._first = first
        native = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = float(fps) if fps else (native if 0.0 < native < 1000.0 else 30.0)
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 else None

    def __iter__(self) -> Iterator[SourceFrame]:
        index, frame = 0, self._first
        while frame is not None:
            yield SourceFrame(np.ascontiguousarray(frame[:, :, ::-1]), _media_time(index, self.fps), index)
            index += 1
            ok, frame = self._cap.read()
            if not ok:
                frame = None
        self._cap.release()

    def close(self) -> None:
        self._cap.release()


def _natural_key(path: Path) -> list[int | str]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


class FramesSource:
    """A folder of image files, in natural name order (2.png before 10.png)."""

    kind = "frames"

    def __init__(self, path: Path, fps: float | None = None):
        self.path = path
        self.files = sorted((p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS), key=_natural_key)
        if not self.files:
            raise SourceError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in folder {path}")
        self.fps = float(fps) if fps else 30.0
        self.frame_count = len(self.files)

    def __iter__(self) -> Iterator[SourceFrame]:
        import cv2

        for index, file in enumerate(self.files):
            image = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if image is None:
                raise SourceError(f"cannot read image {file}: not an image or corrupt")
            yield SourceFrame(np.ascontiguousarray(image[:, :, ::-1]), _media_time(index, self.fps), index)

    def close(self) -> None:
        pass


class BagSource:
    """``sensor_msgs/Image`` or ``CompressedImage`` messages of one topic of a rosbag2 (rosbags)."""

    kind = "bag"

    def __init__(self, path: Path, topic: str | None = None, fps: float | None = None):
        from rosbags.highlevel import AnyReader
        from rosbags.typesys import Stores, get_typestore

        self.path = path
        try:
            self._reader = AnyReader([path], default_typestore=get_typestore(Stores.ROS2_JAZZY))
            self._reader.open()
        except Exception as exc:  # noqa: BLE001 - rosbags raises several types for bad files
            raise SourceError(f"cannot read bag {path}: {exc}") from None
        images = [c for c in self._reader.connections if c.msgtype in IMAGE_TYPES]
        if topic:
            chosen = [c for c in images if c.topic == topic]
            if not chosen:
                listed = ", ".join(sorted({f"{c.topic} ({c.msgtype})" for c in self._reader.connections})) or "none"
                self._reader.close()
                raise SourceError(f"bag {path} has no image topic {topic!r}; topics: {listed}")
        else:
            if not images:
                self._reader.close()
                raise SourceError(f"bag {path} has no sensor_msgs/Image or CompressedImage topic")
            chosen = [c for c in images if c.topic == images[0].topic]
        self.topic = chosen[0].topic
        self._connections = chosen
        self.frame_count = sum(c.msgcount for c in chosen) or None
        self.fps = float(fps) if fps else self._estimate_fps()

    def _estimate_fps(self) -> float:
        count, duration = self.frame_count or 0, self._reader.duration
        return (count - 1) * NS_PER_S / duration if count > 1 and duration > 0 else 30.0

    def __iter__(self) -> Iterator[SourceFrame]:
        index = 0
        try:
            for connection, _, raw in self._reader.messages(connections=self._connections):
                msg = self._reader.deserialize(raw, connection.msgtype)
                stamp = msg.header.stamp.sec * NS_PER_S + msg.header.stamp.nanosec
                try:
                    if connection.msgtype.endswith("CompressedImage"):
                        image = decode_compressed(msg.data, msg.format)
                    else:
                        image = to_rgb8(decode_image(msg.data, msg.height, msg.width, msg.encoding, msg.step,
                                                     bool(msg.is_bigendian)), msg.encoding)
                except ValueError as exc:
                    raise SourceError(f"bag {self.path} topic {self.topic} message {index}: {exc}") from None
                yield SourceFrame(np.ascontiguousarray(image), int(stamp), index, msg.header.frame_id)
                index += 1
        except SourceError:
            raise
        except Exception as exc:  # noqa: BLE001 - a truncated bag fails while reading
            raise SourceError(f"cannot read bag {self.path} after {index} messages: {exc}") from None
        finally:
            self._reader.close()

    def close(self) -> None:
        self._reader.close()


FrameSource = VideoSource | FramesSource | BagSource


def open_source(path: str | Path, kind: str | None = None, *, topic: str | None = None,
                fps: float | None = None) -> FrameSource:
    """Open a recorded source; ``kind`` is "video", "frames" or "bag" (None = from the path)."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"no such file or folder: {path}")
    if fps is not None and fps <= 0:
        raise SourceError(f"fps must be > 0, got {fps}")
    if kind is None:
        if path.is_dir():
            kind = "bag" if (path / "metadata.yaml").exists() else "frames"
        else:
            kind = "bag" if path.suffix.lower() in BAG_EXTENSIONS else "video"
    if kind == "frames":
        if not path.is_dir():
            raise SourceError(f"--frames needs a folder of images, got file {path}")
        return FramesSource(path, fps)
    if kind == "bag":
        return BagSource(path, topic, fps)
    if kind == "video":
        if path.is_dir():
            raise SourceError(f"--video needs a video file, got folder {path}")
        return VideoSource(path, fps)
    raise SourceError(f"unknown source kind {kind!r} (video, frames or bag)")
