"""Ring buffer of the last T frames that hands out only the newest complete clip.

A clip is *due* once the ring is full and ``stride`` new frames arrived since the last clip
was taken. When the consumer is slower than the camera, more than ``stride`` frames arrive
between two ``take()`` calls; the clip taken is still the newest one, and the frames that left
the ring before any clip covered them (so they never get a heatmap) are counted in
``dropped_frames`` (memory never grows: the ring holds at most T frames).

>>> import numpy as np
>>> from tvau_ros.core.types import Frame
>>> buf = ClipBuffer(length=3, stride=2)
>>> img = np.zeros((2, 2, 3), np.uint8)
>>> [buf.append(Frame(img, stamp_ns=i)) for i in range(3)]
[False, False, True]
>>> buf.take().new_count       # the first clip covers all its frames
3
>>> [buf.append(Frame(img, stamp_ns=i)) for i in range(3, 6)]
[False, True, True]
>>> clip = buf.take()          # taken one frame late: all three new frames are in it
>>> [f.stamp_ns for f in clip.frames], clip.new_count, clip.dropped
([3, 4, 5], 3, 0)
>>> [buf.append(Frame(img, stamp_ns=i)) for i in range(6, 11)]
[False, True, True, True, True]
>>> clip = buf.take()          # five new frames, three fit: frames 6 and 7 get no heatmap
>>> [f.stamp_ns for f in clip.frames], clip.new_count, clip.dropped
([8, 9, 10], 3, 2)
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from tvau_ros.core.types import Frame


@dataclass(frozen=True)
class Clip:
    """A snapshot of the ring: ``frames`` oldest first; the last ``new_count`` were never covered
    by an earlier clip; ``dropped`` frames were skipped to catch up; ``generation`` changes on reset.
    """

    frames: tuple[Frame, ...]
    new_count: int
    dropped: int
    generation: int


class ClipBuffer:
    def __init__(self, length: int, stride: int = 1):
        if length < 1:
            raise ValueError(f"clip length must be >= 1, got {length}")
        if stride < 1:
            raise ValueError(f"clip stride must be >= 1, got {stride}")
        self.length = int(length)
        self.stride = int(stride)
        self._frames: deque[Frame] = deque(maxlen=self.length)
        self._pending = 0  # frames appended since the last take (or since the last reset)
        self._first = True  # no clip taken since the last reset
        self.generation = 0
        self.dropped_frames = 0

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def newest(self) -> Frame | None:
        return self._frames[-1] if self._frames else None

    def append(self, frame: Frame) -> bool:
        """Add a frame; return whether a clip is due."""
        self._frames.append(frame)
        self._pending += 1
        return self.due()

    def due(self) -> bool:
        if len(self._frames) < self.length:
            return False
        return self._pending >= (self.length if self._first else self.stride)

    def has_uncovered(self) -> bool:
        """Frames arrived that no clip covered yet, and the ring is full (end of a stream)."""
        return len(self._frames) == self.length and self._pending > 0

    def take(self, force: bool = False) -> Clip:
        """Return the newest clip (RuntimeError when none is due).

        force=True takes it as soon as the ring is full and holds uncovered frames (to cover the
        last frames of a finished stream).
        """
        if not (self.due() or (force and self.has_uncovered())):
            raise RuntimeError("no clip is due")
        dropped = max(0, self._pending - self.length)  # left the ring before any clip covered them
        clip = Clip(tuple(self._frames), min(self._pending, self.length), dropped, self.generation)
        self.dropped_frames += dropped
        self._pending = 0
        self._first = False
        return clip

    def reset(self) -> None:
        """Forget all frames (resolution change, time jump); clips taken before are now stale."""
        self._frames.clear()
        self._pending = 0
        self._first = True
        self.generation += 1
