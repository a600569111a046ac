"""Video records shared by the UBnormal and ShanghaiTech readers.

A :class:`VideoSample` holds a video's labels and knows how to read its frames and
masks lazily, so loading a split is cheap and a sample can be sent to worker processes.

>>> import numpy as np
>>> frames = np.zeros((4, 2, 3, 3), np.uint8)
>>> s = VideoSample("v", "Scene1", "test", 4, 2, 3, 15.0, np.array([0, 1, 1, 0], np.uint8),
...                 [TrackSpan(1, 1, 2)], None, frame_reader=lambda a, b, c: frames[a:b:c])
>>> s.is_abnormal, s.read_frames(1, 3).shape
(True, (2, 2, 3, 3))
"""
from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SPLITS = ("train", "validation", "test")
SPLIT_ALIASES = {"train": "train", "training": "train", "val": "validation",
                 "validation": "validation", "test": "test", "testing": "test"}

FrameReader = Callable[[int, int, int], np.ndarray]
MaskReader = Callable[[int], np.ndarray]


class DatasetError(ValueError):
    """Bad or inconsistent dataset files; the message names the file and the problem."""


def normalize_split(split: str) -> str:
    """Map ``training``/``val``/... to one of :data:`SPLITS`; raise on anything else."""
    try:
        return SPLIT_ALIASES[str(split).lower()]
    except KeyError:
        raise DatasetError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}") from None


@dataclass(frozen=True)
class TrackSpan:
    """One row of a UBnormal ``{video}_tracks.txt``: object id and inclusive frame range."""

    object_id: int
    start: int
    end: int


@dataclass
class VideoSample:
    """One video with frame labels, abnormal target spans and lazy frame/mask access."""

    name: str
    scene: str
    split: str
    num_frames: int
    height: int
    width: int
    fps: float
    frame_labels: np.ndarray
    tracks: list[TrackSpan]
    meta: dict | None = None
    frame_reader: FrameReader | None = field(default=None, repr=False, compare=False)
    mask_reader: MaskReader | None = field(default=None, repr=False, compare=False)

    @property
    def is_abnormal(self) -> bool:
        return bool(self.tracks) or bool(np.any(self.frame_labels))

    def read_frames(self, start: int = 0, stop: int | None = None, step: int = 1) -> np.ndarray:
        """Frames ``start:stop:step`` as an (N, H, W, 3) uint8 RGB array."""
        stop = self.num_frames if stop is None else stop
        if not (0 <= start <= stop <= self.num_frames) or step < 1:
            raise IndexError(f"{self.name}: frame range {start}:{stop}:{step} outside 0:{self.num_frames}")
        if self.frame_reader is None:
            raise DatasetError(f"{self.name}: sample has no frame source")
        return self.frame_reader(start, stop, step)

    def read_mask(self, frame: int) -> np.ndarray:
        """(H, W) int32 mask: 0 background, >0 object id of an abnormal target."""
        if not 0 <= frame < self.num_frames:
            raise IndexError(f"{self.name}: frame {frame} outside 0:{self.num_frames}")
        if self.mask_reader is None:
            return np.zeros((self.height, self.width), np.int32)
        return np.asarray(self.mask_reader(frame), dtype=np.int32)


def labels_from_tracks(tracks: list[TrackSpan], num_frames: int) -> np.ndarray:
    """Frame labels (uint8, 1 = abnormal) as the union of inclusive track spans."""
    labels = np.zeros(num_frames, np.uint8)
    for t in tracks:
        labels[t.start:t.end + 1] = 1
    return labels


def spans_from_labels(labels: np.ndarray, object_id: int = 1) -> list[TrackSpan]:
    """Contiguous runs of abnormal frames as track spans (for datasets without track files)."""
    padded = np.concatenate([[0], (np.asarray(labels) > 0).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return [TrackSpan(object_id, int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG header without decoding; DatasetError if not a PNG."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(24)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read mask file ({exc.strerror})") from None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise DatasetError(f"{path}: not a valid PNG file (corrupt or truncated mask)")
    return struct.unpack(">II", head[16:24])


def load_dataset(root: str | Path, split: str, layout: str | None = None) -> list[VideoSample]:
    """Load ``split`` from a UBnormal- or ShanghaiTech-layout folder, detecting which.

    A generated root holds both layouts; UBnormal is preferred there because it has all
    three splits. Pass ``layout="ubnormal"`` or ``"shanghaitech"`` to choose.
    """
    from tvau_ros.data import shanghaitech, ubnormal

    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset root {root} is not a directory")
    if layout is None:
        if ubnormal.find_ubnormal_root(root) is not None:
            layout = "ubnormal"
        elif shanghaitech.find_shanghaitech_root(root) is not None:
            layout = "shanghaitech"
        else:
            raise DatasetError(f"{root}: neither a UBnormal layout (Scene*/ folders and "
                               f"*_video_names.txt) nor a ShanghaiTech layout (frames/ or testing/)")
    if layout == "ubnormal":
        return ubnormal.load_ubnormal(root, split)
    if layout == "shanghaitech":
        return shanghaitech.load_shanghaitech(root, split)
    raise DatasetError(f"unknown dataset layout {layout!r}: expected 'ubnormal' or 'shanghaitech'")
