"""Reading the usable first part of the source video, and nothing past it.

Only frames ``0 .. LAST_USABLE_FRAME`` of vtest.avi may be used by the project (learning,
composites, tuning, demos, tests); frames 400 onward stay an untouched check. Every read
goes through :func:`read_frames`, which refuses a range reaching past that frame before it
opens the file, and decodes sequentially so no later frame is ever decoded.

>>> read_frames("any.avi", 390, 401)  # doctest: +NORMALIZE_WHITESPACE
Traceback (most recent call last):
...
tvau_ros.data.realcheck.footage.FootageError: frames 390..400 requested: only frames 0..399 of the source may be
used (frames 400 onward are the untouched check)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

LAST_USABLE_FRAME = 399
USABLE_FRAMES = LAST_USABLE_FRAME + 1
VTEST_SIZE = (768, 576)


class FootageError(ValueError):
    """The source video is missing, unreadable, too short or of the wrong size, or a read
    reached past the usable frames; the message names the value."""


@dataclass(frozen=True)
class SourceInfo:
    path: Path
    num_frames: int
    width: int
    height: int
    fps: float


def check_source(path: str | Path, expected_size: tuple[int, int] | None = VTEST_SIZE) -> SourceInfo:
    """Open ``path`` and check it has at least 400 frames of ``expected_size`` (width, height).

    Decodes only frame 0 (the frame count comes from the container header); unlike
    ``ubnormal.probe_video`` it never seeks to the last frame, which lies past frame 399.
    """
    path = Path(path)
    if not path.is_file():
        raise FootageError(f"--video {path}: no such file")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise FootageError(f"--video {path}: OpenCV cannot open it as a video")
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or 10.0
        ok, first = cap.read()
    finally:
        cap.release()
    if not ok:
        raise FootageError(f"--video {path}: no decodable frame (corrupt or not a video)")
    h, w = first.shape[:2]
    if expected_size is not None and (w, h) != tuple(expected_size):
        raise FootageError(f"--video {path}: frames are {w}x{h}, expected "
                           f"{expected_size[0]}x{expected_size[1]} (OpenCV's vtest.avi)")
    if n < USABLE_FRAMES:
        raise FootageError(f"--video {path}: {n} frames, need at least {USABLE_FRAMES} "
                           f"(frames 0..{LAST_USABLE_FRAME} are used)")
    return SourceInfo(path, n, w, h, fps)


def read_frames(path: str | Path, start: int, stop: int, step: int = 1) -> np.ndarray:
    """Frames ``start:stop:step`` (BGR, (N, H, W, 3) uint8) of the usable part of ``path``.

    Raises :class:`FootageError` when ``stop`` reaches past frame 399, before opening the file.
    """
    if not 0 <= start < stop or step < 1:
        raise FootageError(f"bad frame range {start}..{stop - 1} step {step}")
    if stop > USABLE_FRAMES:
        raise FootageError(f"frames {start}..{stop - 1} requested: only frames 0..{LAST_USABLE_FRAME} "
                           f"of the source may be used (frames {USABLE_FRAMES} onward are the untouched check)")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise FootageError(f"{path}: OpenCV cannot open it as a video")
    frames = None
    count = len(range(start, stop, step))
    try:
        for idx in range(stop):  # sequential decoding: seeking in AVI/MP4 is not frame-exact
            if idx >= start and (idx - start) % step == 0:
                ok, frame = cap.read()
                if ok:
                    if frames is None:
                        frames = np.empty((count,) + frame.shape, np.uint8)
                    if frame.shape != frames.shape[1:]:
                        raise FootageError(f"{path}: frame {idx} is {frame.shape[1]}x{frame.shape[0]}, "
                                           f"frame {start} was {frames.shape[2]}x{frames.shape[1]}")
                    frames[(idx - start) // step] = frame
            else:
                ok = cap.grab()
            if not ok:
                raise FootageError(f"{path}: cannot decode frame {idx} (truncated or corrupt video)")
    finally:
        cap.release()
    return frames
