"""UBnormal layout: reader (real or generated data) and the small writers the generator uses.

Layout::

    ROOT/Scene{N}/{video}.mp4
    ROOT/Scene{N}/{video}_annotations/{video}_tracks.txt        rows: object_id,start,end
    ROOT/Scene{N}/{video}_annotations/{video}_{frame:04d}_gt.png  uint8 object-id masks
    ROOT/Scene{N}/{video}_annotations/{video}_meta.json         generator ground truth (ours)
    ROOT/{abnormal,normal}_{training,validation,test}_video_names.txt

The split files come with UBnormal's code (``scripts/``); they are looked for in ROOT,
ROOT/scripts and ROOT/splits. Frame labels are the union of the track spans (inclusive),
as UBnormal's own ``write_frame_level_ground_truth.py`` computes them.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from tvau_ros.data.dataset import (DatasetError, TrackSpan, VideoSample, labels_from_tracks,
                                   normalize_split, png_size)

SPLIT_WORDS = {"train": "training", "validation": "validation", "test": "test"}
SPLIT_DIRS = ("", "scripts", "splits", "Split")
_SCENE_RE = re.compile(r"_scene_(\d+)_")


def split_file_name(kind: str, split: str) -> str:
    """``abnormal_training_video_names.txt`` style name for ``kind`` in {abnormal, normal}."""
    return f"{kind}_{SPLIT_WORDS[normalize_split(split)]}_video_names.txt"


def find_ubnormal_root(root: Path) -> Path | None:
    """The folder holding Scene*/ (root itself or root/ubnormal), or None."""
    for cand in (root, root / "ubnormal"):
        if cand.is_dir() and any(p.is_dir() for p in cand.glob("Scene*")):
            return cand
    return None


def parse_tracks_file(path: Path) -> list[TrackSpan]:
    """Rows ``object_id,start,end``; a single row is one track (no 1-D array trap)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read tracks file ({exc.strerror})") from None
    spans = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [p for p in re.split(r"[,\s]+", line.strip()) if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise DatasetError(f"{path}:{lineno}: non-numeric value in {line.strip()!r}; "
                               f"expected 'object_id,start,end'") from None
        if len(values) != 3:
            raise DatasetError(f"{path}:{lineno}: {len(values)} values in {line.strip()!r}; "
                               f"expected 3 (object_id,start,end)")
        if any(v != int(v) for v in values):
            raise DatasetError(f"{path}:{lineno}: non-integer value in {line.strip()!r}")
        oid, start, end = (int(v) for v in values)
        if oid <= 0 or start < 0 or end < start:
            raise DatasetError(f"{path}:{lineno}: invalid track {oid},{start},{end} "
                               f"(need object_id > 0 and 0 <= start <= end)")
        spans.append(TrackSpan(oid, start, end))
    if not spans:
        raise DatasetError(f"{path}: tracks file has no rows")
    return spans


def write_tracks_file(path: Path, tracks: list[TrackSpan]) -> None:
    Path(path).write_text("".join(f"{t.object_id},{t.start},{t.end}\n" for t in tracks))


def mask_path(ann_dir: Path, video: str, frame: int) -> Path:
    return Path(ann_dir) / f"{video}_{frame:04d}_gt.png"


def scene_of(video: str) -> str:
    m = _SCENE_RE.search(video + "_")
    return f"Scene{int(m.group(1))}" if m else ""


class VideoFileFrames:
    """Frame reader for a video file (picklable: reopens the file on each call)."""

    def __init__(self, path: Path, num_frames: int, height: int, width: int):
        self.path, self.num_frames, self.height, self.width = Path(path), num_frames, height, width

    def __call__(self, start: int, stop: int, step: int) -> np.ndarray:
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise DatasetError(f"{self.path}: cannot open video (missing, truncated or corrupt)")
        try:
            if start:
                cap.set(cv2.CAP_PROP_POS_FRAMES, start)
            out = []
            for idx in range(start, stop):
                if (idx - start) % step:
                    ok = cap.grab()
                else:
                    ok, frame = cap.read()
                    if ok:
                        if frame.shape[:2] != (self.height, self.width):
                            raise DatasetError(f"{self.path}: frame {idx} is {frame.shape[1]}x"
                                               f"{frame.shape[0]}, expected {self.width}x{self.height}")
                        out.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                if not ok:
                    raise DatasetError(f"{self.path}: could not decode frame {idx} of "
                                       f"{self.num_frames} (truncated or corrupt video)")
        finally:
            cap.release()
        if not out:
            return np.zeros((0, self.height, self.width, 3), np.uint8)
        return np.stack(out)


class UBnormalMasks:
    """Mask reader: ``{video}_{frame:04d}_gt.png``; zeros for normal frames without a file."""

    def __init__(self, ann_dir: Path, video: str, labels: np.ndarray, height: int, width: int):
        self.ann_dir, self.video, self.labels = Path(ann_dir), video, labels
        self.height, self.width = height, width

    def __call__(self, frame: int) -> np.ndarray:
        import cv2

        path = mask_path(self.ann_dir, self.video, frame)
        if not path.exists():
            if self.labels[frame]:
                raise DatasetError(f"{path}: missing mask file for abnormal frame {frame}")
            return np.zeros((self.height, self.width), np.int32)
        mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if mask is None:
            raise DatasetError(f"{path}: cannot decode mask PNG (corrupt file)")
        if mask.ndim == 3:
            mask = mask[:, :, 0]
        if mask.shape != (self.height, self.width):
            raise DatasetError(f"{path}: mask is {mask.shape[1]}x{mask.shape[0]}, "
                               f"expected {self.width}x{self.height} like its video")
        return mask.astype(np.int32)


def _find_split_file(root: Path, name: str) -> Path | None:
    for sub in SPLIT_DIRS:
        cand = root / sub / name
        if cand.is_file():
            return cand
    return None


def read_split_names(root: Path, split: str) -> list[tuple[str, bool]]:
    """[(video name, listed as abnormal)] from the UBnormal split files of ``split``."""
    names, found = [], []
    for kind in ("abnormal", "normal"):
        fname = split_file_name(kind, split)
        path = _find_split_file(root, fname)
        if path is None:
            continue
        found.append(path)
        for line in path.read_text().splitlines():
            name = line.strip()
            if name:
                names.append((name[:-4] if name.endswith(".mp4") else name, kind == "abnormal"))
    if not found:
        raise DatasetError(f"{root}: no split file {split_file_name('abnormal', split)} or "
                           f"{split_file_name('normal', split)} (looked in {', '.join(SPLIT_DIRS[1:])} "
                           f"and the root; UBnormal ships them in its scripts/ folder)")
    return names


def _locate_video(root: Path, name: str) -> Path:
    scene = scene_of(name)
    cand = root / scene / f"{name}.mp4"
    if scene and cand.is_file():
        return cand
    hits = sorted(root.glob(f"*/{name}.mp4"))
    if not hits:
        raise DatasetError(f"video {name} listed in the split files not found "
                           f"(expected {cand})")
    return hits[0]


def probe_video(path: Path) -> tuple[int, int, int, float]:
    """(num_frames, height, width, fps); reads the first and last frame to catch truncation."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise DatasetError(f"{path}: cannot open video (truncated or corrupt file)")
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or 30.0
        ok, first = cap.read()
        if n <= 0 or not ok:
            raise DatasetError(f"{path}: no decodable frames (truncated or corrupt video)")
        if n > 1:
            cap.set(cv2.CAP_PROP_POS_FRAMES, n - 1)
            ok, _ = cap.read()
            if not ok:
                raise DatasetError(f"{path}: header says {n} frames but the last one cannot be "
                                   f"decoded (truncated or corrupt video)")
        return n, first.shape[0], first.shape[1], fps
    finally:
        cap.release()


def _read_meta(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot parse meta JSON ({exc})") from None


def _check_masks(ann_dir: Path, video: str, labels: np.ndarray, height: int, width: int) -> None:
    present = {p.name for p in ann_dir.iterdir()} if ann_dir.is_dir() else set()
    needed = np.flatnonzero(labels)
    missing = [f for f in needed if f"{video}_{f:04d}_gt.png" not in present]
    if missing:
        raise DatasetError(f"{mask_path(ann_dir, video, missing[0])}: missing mask file for "
                           f"abnormal frame {missing[0]} ({len(missing)} of {len(needed)} "
                           f"abnormal-frame masks missing)")
    for f in needed:
        path = mask_path(ann_dir, video, f)
        w, h = png_size(path)
        if (w, h) != (width, height):
            raise DatasetError(f"{path}: mask is {w}x{h}, expected {width}x{height} like its video")


def load_video(root: Path, name: str, split: str, listed_abnormal: bool,
               validate_masks: bool = True) -> VideoSample:
    """One UBnormal video as a :class:`VideoSample` (validates files, reads no pixels)."""
    video = _locate_video(root, name)
    n, h, w, fps = probe_video(video)
    ann_dir = video.parent / f"{name}_annotations"
    tracks_path = ann_dir / f"{name}_new_tracks.txt"  # UBnormal's corrected tracks win
    if not tracks_path.is_file():
        tracks_path = ann_dir / f"{name}_tracks.txt"
    tracks: list[TrackSpan] = []
    if tracks_path.is_file():
        tracks = parse_tracks_file(tracks_path)
        for t in tracks:
            if t.end >= n:
                raise DatasetError(f"{tracks_path}: track {t.object_id} ends at frame {t.end} "
                                   f"but {video.name} has {n} frames")
    elif listed_abnormal:
        raise DatasetError(f"{tracks_path}: missing tracks file for abnormal video {name}")
    labels = labels_from_tracks(tracks, n)
    if validate_masks and tracks:
        _check_masks(ann_dir, name, labels, h, w)
    meta = _read_meta(ann_dir / f"{name}_meta.json")
    if meta and (meta.get("width", w), meta.get("height", h)) != (w, h):
        raise DatasetError(f"{ann_dir / f'{name}_meta.json'}: size {meta.get('width')}x"
                           f"{meta.get('height')} differs from video {w}x{h}")
    return VideoSample(name=name, scene=video.parent.name, split=split, num_frames=n, height=h,
                       width=w, fps=fps, frame_labels=labels, tracks=tracks, meta=meta,
                       frame_reader=VideoFileFrames(video, n, h, w),
                       mask_reader=UBnormalMasks(ann_dir, name, labels, h, w))


def load_ubnormal(root: str | Path, split: str, validate_masks: bool = True) -> list[VideoSample]:
    """All videos of ``split`` ("train" | "validation" | "test") in a UBnormal-layout root.

    ``root`` may be the UBnormal folder itself or a generated root holding ``ubnormal/``.
    Every listed file is checked (video opens and decodes its last frame, tracks parse and
    fit the video, every abnormal frame has a mask of the video's size); the first problem
    raises :class:`DatasetError` naming the file.
    """
    split = normalize_split(split)
    base = find_ubnormal_root(Path(root))
    if base is None:
        raise DatasetError(f"{root}: no Scene*/ folders (not a UBnormal layout)")
    return [load_video(base, name, split, abnormal, validate_masks)
            for name, abnormal in read_split_names(base, split)]
