"""Pose probe: do the pretrained person and pose models that install offline see the targets?

Issue 16 names two pretrained sources of objects and behaviour that install without a model
hub: OpenCV 4.x's HOG people detector and MediaPipe 0.10.14's BlazePose (33 keypoints, a
single-person model run on person crops). Pose keypoints would be the natural input for falls,
lying, limping and dancing. Before building either into the engine this probe measures, on the
abnormal targets' ground-truth boxes of the synthetic test split and of the real-footage check
set (vtest.avi frames 0-399, composited targets):

* HOG: the share of target boxes that some HOG detection overlaps with IoU >= 0.5 (and 0.3),
  the frame upscaled by ``--hog-scale`` (its window is 64 x 128 px), and the time per frame;
* BlazePose on the ground-truth crop (the best case: a perfect box, padded 25 %, resized so its
  longer side is 256 px): the share of crops with a pose, its mean keypoint visibility, and
  whether the pose fits the box (hips and shoulders inside the padded crop's central 80 %);
  all by target height (small < 20, medium 20-40, large >= 40 px, the benchmark's size classes).

It needs OpenCV 4.x (5.x has no HOG) and mediapipe, which the package does not install (they
clash with its OpenCV 5 and numpy 2), so it runs from a venv of its own:

    python3 -m venv /tmp/mpenv
    /tmp/mpenv/bin/pip install --no-deps mediapipe==0.10.14
    /tmp/mpenv/bin/pip install "numpy<2" "opencv-python-headless<5" "protobuf>=4.25.3,<5" absl-py attrs \
        flatbuffers matplotlib pyyaml
    /tmp/mpenv/bin/python -m research.pose_probe --benchmark data/default/ubnormal \
        --realcheck outputs/realcheck --out outputs/pose_probe     # about 10 min on 2 cores

Every ``--every``-th target frame is used (4: about 1,300 benchmark and 500 real-footage boxes).
"""
from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from tvau_ros.data.dataset import VideoSample, load_dataset
from tvau_ros.evaluation.pipeline_eval import size_class, target_boxes
from tvau_ros.metrics.boxes import box_iou

PAD = 0.25
CROP_SIDE = 256
TORSO = (11, 12, 23, 24)   # BlazePose shoulders and hips


def target_frames(video: VideoSample, every: int) -> list[tuple[int, tuple]]:
    """(frame, ground-truth box x1, y1, x2, y2) of the video's abnormal targets, every ``every``-th frame."""
    sampled = {(span.object_id, frame) for span in video.tracks for frame in range(span.start, span.end + 1, every)}
    return [(frame, tuple(float(v) for v in box)) for target, frames in target_boxes(video).items()
            for frame, box in sorted(frames.items()) if (target, frame) in sampled and box[3] - box[1] >= 4]


def hog_boxes(hog, frame_rgb: np.ndarray, scale: float) -> list[tuple]:
    import cv2

    image = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2GRAY)
    if scale != 1.0:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    rects, _ = hog.detectMultiScale(image, winStride=(8, 8), padding=(8, 8), scale=1.05)
    return [(x / scale, y / scale, (x + w) / scale - 1, (y + h) / scale - 1) for x, y, w, h in rects]


def pose_on_crop(pose, frame_rgb: np.ndarray, box: tuple) -> dict:
    import cv2

    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * (1 + 2 * PAD)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    h, w = frame_rgb.shape[:2]
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    n = int(round(side))
    padded = cv2.copyMakeBorder(frame_rgb, n, n, n, n, cv2.BORDER_REPLICATE)
    crop = padded[y0 + n:y0 + 2 * n, x0 + n:x0 + 2 * n]
    crop = cv2.resize(crop, (CROP_SIDE, CROP_SIDE), interpolation=cv2.INTER_CUBIC)
    result = pose.process(crop)
    if result.pose_landmarks is None:
        return {"found": False}
    marks = result.pose_landmarks.landmark
    visibility = float(np.mean([m.visibility for m in marks]))
    torso = [(marks[i].x, marks[i].y) for i in TORSO]
    fits = all(0.1 <= x <= 0.9 and 0.1 <= y <= 0.9 for x, y in torso)
    return {"found": True, "visibility": visibility, "fits": fits}


def probe(videos: list[VideoSample], every: int, hog_scale: float, label: str) -> dict:
    import cv2
    import mediapipe as mp

    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1)
    rows, hog_seconds, pose_seconds = [], [], []
    for video in videos:
        wanted = target_frames(video, every)
        if not wanted:
            continue
        frames = video.read_frames()
        for frame_index, box in wanted:
            frame = frames[frame_index]
            started = time.perf_counter()
            detections = hog_boxes(hog, frame, hog_scale)
            hog_seconds.append(time.perf_counter() - started)
            best = max([box_iou(box, d) for d in detections] or [0.0])
            started = time.perf_counter()
            found = pose_on_crop(pose, frame, box)
            pose_seconds.append(time.perf_counter() - started)
            kinds = (video.meta or {}).get("anomaly_types") or [(video.meta or {}).get("kind", "abnormal")]
            rows.append({"video": video.name, "kind": kinds[0], "size": size_class(box[3] - box[1] + 1),
                         "hog_iou": best, "hog_count": len(detections), **found})
        print(f"{label}: {video.name} {len(wanted)} boxes", flush=True)
    return {"rows": rows, "hog_ms_per_frame": 1000 * float(np.median(hog_seconds)),
            "pose_ms_per_crop": 1000 * float(np.median(pose_seconds))}


def summarise(result: dict) -> dict:
    def rates(rows: list[dict]) -> dict:
        found = [r for r in rows if r["found"]]
        return {"boxes": len(rows),
                "hog_recall_iou50": 100 * np.mean([r["hog_iou"] >= 0.5 for r in rows]),
                "hog_recall_iou30": 100 * np.mean([r["hog_iou"] >= 0.3 for r in rows]),
                "pose_found": 100 * len(found) / len(rows),
                "pose_fits_box": 100 * np.mean([r["fits"] for r in found]) if found else 0.0,
                "pose_visibility": float(np.mean([r["visibility"] for r in found])) if found else 0.0}

    groups: dict[str, list] = defaultdict(list)
    for row in result["rows"]:
        groups[f"size/{row['size']}"].append(row)
        groups[f"kind/{row['kind']}"].append(row)
    return {"all": rates(result["rows"]), **{k: rates(v) for k, v in sorted(groups.items())},
            "hog_ms_per_frame": result["hog_ms_per_frame"], "pose_ms_per_crop": result["pose_ms_per_crop"],
            "hog_detections_per_frame": float(np.mean([r["hog_count"] for r in result["rows"]]))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmark", help="benchmark root (its test split is probed)")
    parser.add_argument("--realcheck", help="real-footage check set (tvau data realcheck; both folds' test clips)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--every", type=int, default=4, help="use every N-th target frame")
    parser.add_argument("--hog-scale-benchmark", type=float, default=2.0, help="upscale 320x240 frames for HOG")
    parser.add_argument("--hog-scale-real", type=float, default=1.0, help="upscale 768x576 frames for HOG")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {}
    if args.benchmark:
        videos = [v for v in load_dataset(args.benchmark, "test") if v.is_abnormal]
        summary["benchmark_test"] = summarise(probe(videos, args.every, args.hog_scale_benchmark, "test"))
    if args.realcheck:
        videos = [v for fold in ("fold_a", "fold_b") for v in load_dataset(Path(args.realcheck) / fold, "test")
                  if v.is_abnormal]
        summary["real_footage"] = summarise(probe(videos, args.every, args.hog_scale_real, "real"))
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
