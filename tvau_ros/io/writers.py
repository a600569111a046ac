"""Offline outputs: H.264 MP4 (imageio-ffmpeg), per-frame heatmaps (npz), events (JSON Lines).

- ``Mp4Writer``: RGB frames -> H.264 / yuv420p MP4 that browsers and players open. Odd sizes
  are padded to even ones (yuv420p needs them).
- ``HeatmapArchive``: per-frame heatmaps and frame scores of one video, saved as
  ``heatmaps/<video>`` (T, h, w) and ``frame_scores/<video>`` (T,), the npz layout read by
  ``tvau eval predictions``; frames without a heatmap (skipped) hold zeros and are listed
  by ``HeatmapArchive.missing``.
- ``EventsWriter``: one JSON object per processed clip (``evidence_to_dict``), flushed per line.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


class Mp4Writer:
    """Write (H, W, 3) uint8 RGB frames to an H.264 MP4.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.mp4")
    >>> with Mp4Writer(path, fps=10) as w:
    ...     for i in range(5): w.write(np.full((31, 40, 3), 40 * i, np.uint8))
    >>> os.path.getsize(path) > 0
    True
    """

    def __init__(self, path: str | Path, fps: float, quality: int = 7):
        self.path = Path(path)
        self.fps = float(fps)
        self.quality = quality
        self._gen = None
        self._size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"Mp4Writer needs (H, W, 3) uint8 RGB frames, got {image.shape} {image.dtype}")
        h, w = image.shape[:2]
        if self._gen is None:
            import imageio_ffmpeg

            self._frame_size = (w, h)
            self._size = (w + w % 2, h + h % 2)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._gen = imageio_ffmpeg.write_frames(
                str(self.path), self._size, fps=self.fps, codec="libx264", pix_fmt_out="yuv420p",
                quality=self.quality, macro_block_size=1, ffmpeg_log_level="error")
            self._gen.send(None)
        if (w, h) != self._frame_size:  # a size change mid-stream: keep the first size
            import cv2

            image = cv2.resize(image, self._frame_size, interpolation=cv2.INTER_AREA)
            h, w = image.shape[:2]
        if w % 2 or h % 2:
            image = np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        self._gen.send(np.ascontiguousarray(image))
        self.frames += 1

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()
            self._gen = None

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, *exc: object):
        self.close()


class HeatmapArchive:
    """Collect per-frame heatmaps (resized so the long side is at most ``max_side``) and save npz.

    >>> arch = HeatmapArchive("clip", max_side=8)
    >>> arch.add(0, np.ones((16, 32), np.float32), 1.0); arch.add(2, np.zeros((16, 32), np.float32), 0.0)
    >>> arrays = arch.arrays(num_frames=3)
    >>> arrays["heatmaps/clip"].shape, arrays["frame_scores/clip"].tolist(), arch.missing(3)
    ((3, 4, 8), [1.0, 0.0, 0.0], [1])
    """

    def __init__(self, video: str, max_side: int = 160):
        self.video = video
        self.max_side = int(max_side)
        self._maps: dict[int, np.ndarray] = {}
        self._scores: dict[int, float] = {}
        self._shape: tuple[int, int] | None = None

    def add(self, frame_index: int, heatmap: np.ndarray, score: float) -> None:
        import cv2

        h, w = heatmap.shape
        if self._shape is None:
            scale = min(1.0, self.max_side / max(h, w))
            self._shape = (max(1, round(h * scale)), max(1, round(w * scale)))
        if (h, w) != self._shape:
            heatmap = cv2.resize(heatmap, self._shape[::-1], interpolation=cv2.INTER_AREA)
        self._maps[frame_index] = np.clip(heatmap, 0.0, 1.0).astype(np.float32)
        self._scores[frame_index] = float(score)

    def arrays(self, num_frames: int | None = None) -> dict[str, np.ndarray]:
        count = num_frames if num_frames is not None else (max(self._maps) + 1 if self._maps else 0)
        shape = self._shape or (1, 1)
        maps = np.zeros((count, *shape), np.float32)
        scores = np.zeros(count, np.float64)
        for index, heatmap in self._maps.items():
            if index < count:
                maps[index], scores[index] = heatmap, self._scores[index]
        return {f"heatmaps/{self.video}": maps, f"frame_scores/{self.video}": scores}

    def missing(self, num_frames: int) -> list[int]:
        """Frame indices below ``num_frames`` that got no heatmap."""
        return [i for i in range(num_frames) if i not in self._maps]

    def save(self, path: str | Path, num_frames: int | None = None) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = self.arrays(num_frames)
        np.savez_compressed(path, **arrays)
        return path


class EventsWriter:
    """Append one JSON object per line; usable as a context manager."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", encoding="utf-8")
        self.count = 0

    def write(self, record: dict) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()
        self.count += 1

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> EventsWriter:
        return self

    def __exit__(self, *exc: object):
        self.close()


def read_events(path: str | Path) -> list[dict]:
    """Read an events.jsonl file back (blank lines ignored)."""
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]
