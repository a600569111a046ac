"""Write one rendered video in the UBnormal layout (and the ShanghaiTech layout when asked)."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from tvau_ros.data.dataset import TrackSpan
from tvau_ros.data.ubnormal import mask_path, write_tracks_file
from tvau_ros.data.synthetic.video import VideoResult


def write_mp4(path: Path, frames: list[np.ndarray], fps: float) -> None:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h))
    if not writer.isOpened():
        raise OSError(f"{path}: OpenCV cannot open an mp4v video writer")
    for f in frames:
        writer.write(f)
    writer.release()


def write_result(result: VideoResult, root: Path) -> dict:
    """Write files for ``result`` under ``root``; return its summary for the statistics."""
    job, meta = result.job, result.meta
    scene_dir = Path(root) / "ubnormal" / f"Scene{job.scene.index}"
    scene_dir.mkdir(parents=True, exist_ok=True)
    write_mp4(scene_dir / f"{job.name}.mp4", result.frames, job.fps)
    ann = scene_dir / f"{job.name}_annotations"
    ann.mkdir(exist_ok=True)
    targets = meta["targets"]
    if targets:
        write_tracks_file(ann / f"{job.name}_tracks.txt",
                          [TrackSpan(t["object_id"], t["start"], t["end"]) for t in targets])
        for f in np.flatnonzero(result.frame_labels):
            cv2.imwrite(str(mask_path(ann, job.name, int(f))), result.labels[f])
    (ann / f"{job.name}_meta.json").write_text(json.dumps(meta, indent=1))
    if job.shanghaitech_name:
        _write_shanghaitech(result, Path(root) / "shanghaitech", job.shanghaitech_name)
    return {"name": job.name, "split": job.split, "frames": job.num_frames,
            "abnormal_frames": int(result.frame_labels.sum()), "types": meta["anomaly_types"],
            "targets": [(t["category"], t["mean_area_px"], t["visible_frames"], t["subtle"]) for t in targets],
            "abnormal": bool(targets), "scene": meta["scene"], "layout": meta["layout"]}


def _write_shanghaitech(result: VideoResult, base: Path, name: str) -> None:
    frames_dir = base / "frames" / name
    frames_dir.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(result.frames):
        cv2.imwrite(str(frames_dir / f"{i:03d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
    for sub in ("test_frame_mask", "test_pixel_mask", "meta"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    np.save(base / "test_frame_mask" / f"{name}.npy", result.frame_labels.astype(np.uint8))
    h, w = result.frames[0].shape[:2]
    pixels = result.labels if result.labels is not None else np.zeros((len(result.frames), h, w), np.uint8)
    np.save(base / "test_pixel_mask" / f"{name}.npy", pixels)
    meta = dict(result.meta, video=name, ubnormal_video=result.job.name)
    (base / "meta" / f"{name}.json").write_text(json.dumps(meta, indent=1))
