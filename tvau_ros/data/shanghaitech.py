"""ShanghaiTech layout reader (real or generated data).

Test split (the real dataset's ``testing/`` folder, or the generated ``shanghaitech/``)::

    frames/{video}/{i:03d}.jpg          one JPEG per frame, numbered from 0
    test_frame_mask/{video}.npy         (T,) frame labels, 1 = abnormal
    test_pixel_mask/{video}.npy         (T, H, W) masks: 0/1 (real) or object ids (generated)
    meta/{video}.json                   generator ground truth (ours, optional)

Train split: ``training/frames/{video}/*.jpg`` or ``training/videos/*.avi`` (normal only).
ShanghaiTech has no validation split. Real ShanghaiTech has no frame rate in its files;
24 fps is assumed unless meta says otherwise.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tvau_ros.data.dataset import (DatasetError, TrackSpan, VideoSample, normalize_split,
                                   spans_from_labels)

ASSUMED_FPS = 24.0
_IMAGE_EXTS = (".jpg", ".jpeg", ".png")


def find_shanghaitech_root(root: Path) -> Path | None:
    """The folder holding frames/, testing/ or training/ (root itself or root/shanghaitech)."""
    for cand in (root, root / "shanghaitech"):
        if any((cand / d).is_dir() for d in ("frames", "testing", "training")):
            return cand
    return None


def scene_of(video: str) -> str:
    head = video.split("_")[0]
    return f"Scene{int(head)}" if head.isdigit() else ""


def frame_files(folder: Path) -> list[Path]:
    """Frame images of one video ordered by number; DatasetError on a gap in the numbering."""
    files = [p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_EXTS]
    try:
        files.sort(key=lambda p: int(p.stem))
    except ValueError:
        bad = next(p for p in files if not p.stem.isdigit())
        raise DatasetError(f"{bad}: frame file name is not a frame number") from None
    for i, p in enumerate(files):
        if int(p.stem) != i:
            raise DatasetError(f"{folder}: frame numbering has a gap: expected frame {i}, found {p.name}")
    if not files:
        raise DatasetError(f"{folder}: no frame images")
    return files


class ImageFrames:
    """Frame reader over numbered image files."""

    def __init__(self, files: list[Path], height: int, width: int):
        self.files, self.height, self.width = files, height, width

    def __call__(self, start: int, stop: int, step: int) -> np.ndarray:
        import cv2

        out = []
        for path in self.files[start:stop:step]:
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is None:
                raise DatasetError(f"{path}: cannot decode frame image (corrupt or truncated)")
            if img.shape[:2] != (self.height, self.width):
                raise DatasetError(f"{path}: frame is {img.shape[1]}x{img.shape[0]}, "
                                   f"expected {self.width}x{self.height}")
            out.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        if not out:
            return np.zeros((0, self.height, self.width, 3), np.uint8)
        return np.stack(out)


class NpyMasks:
    """Mask reader over a (T, H, W) ``test_pixel_mask`` file, memory-mapped."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __call__(self, frame: int) -> np.ndarray:
        return np.asarray(_load_npy(self.path)[frame], dtype=np.int32)


def _load_npy(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DatasetError(f"{path}: missing mask file")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read .npy mask ({exc})") from None


def _probe_first_frame(path: Path) -> tuple[int, int]:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DatasetError(f"{path}: cannot decode frame image (corrupt or truncated)")
    return img.shape[:2]


def _tracks_from_meta(meta: dict | None, labels: np.ndarray) -> list[TrackSpan]:
    if meta and meta.get("targets") is not None:
        return [TrackSpan(int(t["object_id"]), int(t["start"]), int(t["end"]))
                for t in meta["targets"] if t.get("abnormal", True)]
    return spans_from_labels(labels)


def _load_test_video(base: Path, name: str) -> VideoSample:
    files = frame_files(base / "frames" / name)
    n = len(files)
    h, w = _probe_first_frame(files[0])
    label_path = base / "test_frame_mask" / f"{name}.npy"
    labels = np.array(_load_npy(label_path))
    if labels.shape != (n,):
        raise DatasetError(f"{label_path}: frame mask has shape {labels.shape}, expected ({n},) "
                           f"for {n} frames")
    pixel_path = base / "test_pixel_mask" / f"{name}.npy"
    pixels = _load_npy(pixel_path)
    if pixels.shape != (n, h, w):
        raise DatasetError(f"{pixel_path}: pixel mask has shape {pixels.shape}, expected "
                           f"({n}, {h}, {w}) for {n} frames of {w}x{h}")
    meta_path = base / "meta" / f"{name}.json"
    meta = None
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError as exc:
            raise DatasetError(f"{meta_path}: cannot parse meta JSON ({exc})") from None
    labels = (labels > 0).astype(np.uint8)
    return VideoSample(name=name, scene=scene_of(name), split="test", num_frames=n, height=h,
                       width=w, fps=float((meta or {}).get("fps", ASSUMED_FPS)),
                       frame_labels=labels, tracks=_tracks_from_meta(meta, labels), meta=meta,
                       frame_reader=ImageFrames(files, h, w), mask_reader=NpyMasks(pixel_path))


def _load_train_videos(base: Path) -> list[VideoSample]:
    from tvau_ros.data.ubnormal import VideoFileFrames, probe_video

    train = base / "training"
    samples = []
    if (train / "frames").is_dir():
        for folder in sorted(p for p in (train / "frames").iterdir() if p.is_dir()):
            files = frame_files(folder)
            h, w = _probe_first_frame(files[0])
            samples.append(VideoSample(folder.name, scene_of(folder.name), "train", len(files), h, w,
                                       ASSUMED_FPS, np.zeros(len(files), np.uint8), [], None,
                                       frame_reader=ImageFrames(files, h, w)))
    elif (train / "videos").is_dir():
        for video in sorted(p for p in (train / "videos").iterdir()
                            if p.suffix.lower() in (".avi", ".mp4")):
            n, h, w, fps = probe_video(video)
            samples.append(VideoSample(video.stem, scene_of(video.stem), "train", n, h, w, fps,
                                       np.zeros(n, np.uint8), [], None,
                                       frame_reader=VideoFileFrames(video, n, h, w)))
    else:
        raise DatasetError(f"{train}: no frames/ or videos/ folder for the train split")
    return samples


def load_shanghaitech(root: str | Path, split: str = "test") -> list[VideoSample]:
    """All videos of ``split`` ("test" or "train") in a ShanghaiTech-layout root.

    ``root`` may be the dataset folder (holding ``testing/``), the ``testing/`` folder itself,
    or a generated root holding ``shanghaitech/``. Problems raise :class:`DatasetError`.
    """
    split = normalize_split(split)
    base = find_shanghaitech_root(Path(root))
    if base is None:
        raise DatasetError(f"{root}: no frames/, testing/ or training/ folder (not a ShanghaiTech layout)")
    if split == "validation":
        raise DatasetError("ShanghaiTech has no validation split (only train and test)")
    if split == "train":
        return _load_train_videos(base)
    if (base / "testing" / "frames").is_dir():
        base = base / "testing"
    frames_dir = base / "frames"
    if not frames_dir.is_dir():
        raise DatasetError(f"{frames_dir}: missing test frames folder")
    names = sorted(p.name for p in frames_dir.iterdir() if p.is_dir())
    if not names:
        raise DatasetError(f"{frames_dir}: no video folders")
    return [_load_test_video(base, name) for name in names]
