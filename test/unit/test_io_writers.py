"""MP4 / heatmap archive / events writers produce files the rest of the project reads."""
import cv2
import numpy as np

from tvau_ros.io.summary import build_summary, format_summary
from tvau_ros.io.writers import EventsWriter, HeatmapArchive, Mp4Writer, read_events
from tvau_ros.metrics.predictions import load_predictions


def test_mp4_is_h264_with_all_frames_and_odd_sizes_padded(tmp_path):
    path = tmp_path / "a.mp4"
    with Mp4Writer(path, fps=10) as writer:
        for i in range(7):
            writer.write(np.full((31, 45, 3), 30 * i, np.uint8))
    cap = cv2.VideoCapture(str(path))
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
    assert fourcc in ("avc1", "h264", "H264")
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 7 and cap.get(cv2.CAP_PROP_FPS) == 10
    ok, frame = cap.read()
    assert ok and frame.shape == (32, 46, 3)


def test_heatmap_archive_is_readable_by_eval_predictions(tmp_path):
    archive = HeatmapArchive("clip_a", max_side=16)
    for i in range(4):
        archive.add(i, np.full((48, 64), i / 4, np.float32), i / 4)
    path = archive.save(tmp_path / "heatmaps.npz", num_frames=5)
    predictions = load_predictions(path)
    assert predictions.heatmaps["clip_a"].shape == (5, 12, 16)
    np.testing.assert_allclose(predictions.frame_scores["clip_a"], [0, 0.25, 0.5, 0.75, 0])
    assert archive.missing(5) == [4]


def test_events_round_trip_and_summary(tmp_path):
    events = [
        {"stamp_ns": 2_000_000_000, "window_start_ns": 1_000_000_000, "is_anomalous": True, "model_id": "m",
         "regions": [{"track_id": 3, "peak_score": 0.8, "label": "anomaly",
                      "ground_point": {"x": 1.0, "y": 2.0, "z": 0.0, "frame_id": "map"}}]},
        {"stamp_ns": 3_500_000_000, "window_start_ns": 2_500_000_000, "is_anomalous": False, "model_id": "m",
         "regions": []},
    ]
    with EventsWriter(tmp_path / "events.jsonl") as writer:
        for event in events:
            writer.write(event)
    assert read_events(tmp_path / "events.jsonl") == events
    summary = build_summary(events, frames=30, wall_s=2.0)
    assert (summary["fps"], summary["events"], summary["anomalous_events"]) == (15.0, 2, 1)
    assert summary["anomalies"] == [{"track_id": 3, "label": "anomaly", "peak_score": 0.8, "events": 1,
                                     "ground_point": events[0]["regions"][0]["ground_point"],
                                     "start_s": 1.0, "end_s": 1.0, "duration_s": 0.0}]
    text = format_summary(summary, "t")
    assert "30 frames" in text and "#3 anomaly: 1.00 s - 1.00 s" in text and "(1.00, 2.00) m in map" in text
