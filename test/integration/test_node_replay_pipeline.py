"""Proof of life over DDS: replay process -> heatmap node process -> this test as subscriber.

Checks heatmap encoding / shape / stamps, that event regions lie on the bundled clip's ground
truth mask, ground points, diagnostics, the recorder's summary and video, and that ``tvau run``
on the same clip gives the same events as the node.
"""
import json

import cv2
import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped
from sensor_msgs.msg import Image
from tvau_msgs.msg import AnomalyEvent

from tvau_ros.cli import main as tvau
from tvau_ros.core.ground_projection import pose_from_height_pitch
from tvau_ros.io.bag_writer import write_image_bag
from tvau_ros.io.sample_clip import generate_sample_clip
from tvau_ros.io.sources import open_source
from tvau_ros.io.writers import read_events
from tvau_ros.nodes.image_conversion import image_to_numpy, image_to_rgb8
from tvau_ros.nodes.msg_conversion import diagnostics_to_dict, event_to_dict, stamp_to_ns
from tvau_ros.nodes.qos import qos_profile

from peers.node_client import Collector, spin_for, spin_until, start_node

NODE = "tvau_heatmap_it"
CAMERA = "/tvau_it/camera/image_raw"
OUT = f"/{NODE}"
POSE = pose_from_height_pitch(2.0, 25.0, x=1.0)
CAMERA_POSE = [*POSE.translation, *POSE.rotation]  # the static pose parameter (no tf here)
STREAM_START_NS = 1_000 * 1_000_000_000  # the bag's first camera stamp
FPS = 15.0  # the clip's rate: the replay's camera stamps and `tvau run`'s (speeds are measured in time)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return generate_sample_clip(tmp_path_factory.mktemp("it") / "sample.mp4", frames=90, anomaly_start=10)


@pytest.fixture(scope="module")
def run(clip, plaza_scene, tmp_path_factory):
    """Run node + recorder + replay once (the behaviour engine with the plaza's learnt scene model, as
    `make demo` runs it); return what the test subscriber received."""
    scene_dir, scene = plaza_scene
    rclpy.init()
    node = rclpy.create_node("tvau_it_observer")
    heatmap = start_node("heatmap", NODE, {
        "autostart": True, "image_topic": CAMERA, "qos_reliability": "reliable", "qos_depth": 100,
        "diagnostics_period_s": 0.5, "ground_frame": "map", "camera_pose": CAMERA_POSE,
        "scene_dir": str(scene_dir), "scene": scene,
    })
    replay = recorder = None
    record = tmp_path_factory.mktemp("record")
    try:
        recorder = start_node("recorder", "tvau_recorder_it", {
            "out_dir": str(record), "overlay_topic": f"{OUT}/heatmap_overlay", "events_topic": f"{OUT}/events"})
        reliable = qos_profile("reliable", 200)
        col = Collector(node)
        col.add(Image, CAMERA, reliable).add(Image, f"{OUT}/heatmap", reliable)
        col.add(Image, f"{OUT}/heatmap_overlay", reliable).add(AnomalyEvent, f"{OUT}/events", reliable)
        col.add(PointStamped, f"{OUT}/anomaly_points", reliable).add(DiagnosticArray, "/diagnostics", reliable)
        outputs = [sub for topic, sub in col.subscriptions.items() if topic != CAMERA]
        # the node's outputs are matched, and diagnostics already flow from the node to us
        assert spin_until(node, lambda: all(s.get_publisher_count() for s in outputs)
                          and len(col.messages["/diagnostics"]) > 0)
        # the clip as a bag with camera stamps at 15 fps, replayed at half speed: the node keeps up
        # on a loaded 2-core CI machine, so what it publishes does not depend on frames it dropped
        # (the engine tracks across frames; drops under load are counted, measured by bench_node.py)
        frames = [f.image for f in open_source(clip.path)]
        bag = write_image_bag(tmp_path_factory.mktemp("bag") / "clip", frames, fps=FPS, start_ns=STREAM_START_NS,
                              topic=CAMERA)
        replay = start_node("replay", "tvau_replay_it", {
            "source": str(bag), "topic": CAMERA, "wait_for_subscribers": 2, "stamps": "original", "rate": 0.5,
        })
        assert spin_until(node, lambda: any("REPLAY_DONE" in line for line in replay.lines), timeout=120)
        assert spin_until(node, lambda: len(col.messages[CAMERA]) == 90, timeout=30)

        def last():
            return diagnostics_to_dict(col.messages["/diagnostics"][-1])[f"{NODE}: anomaly pipeline"]

        # drain: wait until the node has processed everything it received
        # stride 1: every accepted frame gets a heatmap or is counted dropped
        assert spin_until(node, lambda: int(last()["accepted"]) == 90 and
                          int(last()["processed_frames"]) + int(last()["dropped_frames"]) == 90, timeout=30), last()
        spin_for(node, 1.0)
        assert recorder.stop() == 0, "".join(recorder.lines)
        yield col, last(), heatmap, (record, recorder.lines)
    finally:
        if replay is not None:
            replay.stop()
        if recorder is not None:
            recorder.stop()
        heatmap.stop()
        node.destroy_node()
        rclpy.shutdown()


def test_heatmaps_are_32fc1_input_sized_in_range_and_stamped_like_the_camera(run):
    col, diag, *_ = run
    camera = col.messages[CAMERA]
    stamps = {stamp_to_ns(m.header.stamp) for m in camera}
    heatmaps = col.messages[f"{OUT}/heatmap"]
    assert len(heatmaps) >= 15
    for msg in heatmaps:
        assert (msg.encoding, msg.height, msg.width, msg.step) == ("32FC1", 240, 320, 320 * 4)
        assert stamp_to_ns(msg.header.stamp) in stamps and msg.header.frame_id == "camera_optical_frame"
        values = image_to_numpy(msg)
        assert values.min() >= 0.0 and values.max() <= 1.0
    overlays = col.messages[f"{OUT}/heatmap_overlay"]
    assert overlays and all((m.encoding, m.height, m.width) == ("bgr8", 240, 320) for m in overlays)
    assert [m.header.stamp for m in overlays] == [m.header.stamp for m in heatmaps]


def test_event_regions_lie_on_the_ground_truth_and_one_episode_starts(run, clip):
    col, diag, *_ = run
    index = {stamp_to_ns(m.header.stamp): i for i, m in enumerate(col.messages[CAMERA])}
    events = col.messages[f"{OUT}/events"]
    with_regions = [e for e in events if e.regions]
    assert len(with_regions) >= 5
    hits = []
    for event in with_regions:
        mask = clip.masks[index[stamp_to_ns(event.header.stamp)]]
        for r in event.regions:
            b = r.box
            hits.append(bool(mask[b.y_offset:b.y_offset + b.height, b.x_offset:b.x_offset + b.width].any()))
    assert np.mean(hits) >= 0.9
    started = [i for e in events for i in e.started_track_ids]
    ended = [i for e in events for i in e.ended_track_ids]
    # the runner leaves: its episode ends, once (a heavily loaded machine may split it in two)
    assert len(started) == 1 if int(diag["dropped_frames"]) < 30 else 1 <= len(started) <= 2
    assert set(ended) <= set(started) and started[0] in ended
    tracked = [r for e in events for r in e.regions if r.track_id == started[0]]
    assert tracked and all(r.has_ground_point and r.ground_point.header.frame_id == "map" for r in tracked)
    assert all(1.5 < r.ground_point.point.x < 20 for r in tracked)  # in front of a camera at x = 1 m
    points = col.messages[f"{OUT}/anomaly_points"]
    assert len(points) == len(tracked)


def test_diagnostics_report_rates_latency_and_counters(run):
    col, diag, *_ = run
    assert int(diag["received"]) == 90 and int(diag["bad_inputs"]) == 0
    assert int(diag["processed"]) >= 15 and float(diag["latency_ms_p50"]) > 0
    for key in ("processed_fps", "latency_ms_p95", "dropped_frames", "episodes_started", "evidence_bytes"):
        assert key in diag
    assert diag["model_id"] == "behaviour/plaza"


def test_tvau_run_gives_the_same_events_as_the_node(run, clip, plaza_scene, tmp_path):
    """`tvau run` on exactly the frames the node processed, with their camera stamps, publishes the
    same events (the behaviour engine keeps state across frames, so a frame the node dropped under
    load must be missing offline too)."""
    col, diag, *_ = run
    scene_dir, scene = plaza_scene
    camera = col.messages[CAMERA]
    node = [event_to_dict(m) for m in col.messages[f"{OUT}/events"]]
    assert len(node) >= 15
    processed = {e["stamp_ns"] for e in node}
    kept = [m for m in camera if stamp_to_ns(m.header.stamp) in processed]
    bag = write_image_bag(tmp_path / "processed", [image_to_rgb8(m) for m in kept],
                          stamps_ns=[stamp_to_ns(m.header.stamp) for m in kept])
    config = tmp_path / "pipeline.yaml"  # the node's ground parameters, as a pipeline config
    config.write_text(f"ground: {{frame_id: map, camera_pose: {CAMERA_POSE}}}\n")
    assert tvau(["run", "--bag", str(bag), "--config", str(config), "--scene", scene, "--scene-dir", str(scene_dir),
                 "--out", str(tmp_path / "out"), "--no-video"]) == 0
    offline = {e["stamp_ns"]: e for e in read_events(tmp_path / "out" / "events.jsonl")}
    print(f"node events {len(node)} of {len(camera)} frames ({diag['dropped_frames']} dropped), offline {len(offline)}")
    assert sorted(offline) == sorted(processed)
    assert sum(e["is_anomalous"] for e in node) >= 5
    for event in node:
        ref = offline[event["stamp_ns"]]
        assert event["frame_score"] == pytest.approx(ref["frame_score"], abs=1e-5)
        assert event["is_anomalous"] == ref["is_anomalous"]
        assert (event["started_track_ids"], event["ended_track_ids"]) == (ref["started_track_ids"],
                                                                         ref["ended_track_ids"])
        assert [(r["box"], r["track_id"], r["label"]) for r in event["regions"]] == \
            [(r["box"], r["track_id"], r["label"]) for r in ref["regions"]]
        for got, want in zip(event["regions"], ref["regions"], strict=True):
            assert got["peak_score"] == pytest.approx(want["peak_score"], abs=1e-5)
            if got["ground_point"] or want["ground_point"]:
                assert got["ground_point"]["frame_id"] == want["ground_point"]["frame_id"] == "map"
                for axis in "xyz":
                    assert got["ground_point"][axis] == pytest.approx(want["ground_point"][axis], abs=1e-3)


def test_recorder_summary_counts_received_and_processed_frames_and_the_video_runs_at_the_clip_rate(run):
    col, diag, _, (record, lines) = run
    summary = json.loads((record / "summary.json").read_text())
    assert summary["received_frames"] == int(diag["received"]) == 90
    assert summary["frames"] == summary["processed_frames"] == int(diag["processed_frames"]) >= 15
    assert summary["dropped_frames"] == int(diag["dropped_frames"])
    assert summary["events"] == len(col.messages[f"{OUT}/events"])
    assert summary["fps"] == pytest.approx(summary["processed_frames"] / summary["wall_s"], rel=0.01)
    assert any(f"tvau recorder: {summary['frames']} frames in" in line for line in lines), "".join(lines)
    # one video frame per overlay (= per processed clip), timed like the overlays' camera stamps
    overlays = col.messages[f"{OUT}/heatmap_overlay"]
    video = cv2.VideoCapture(str(record / "annotated.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == summary["overlay_frames"] == len(overlays)
    assert video.get(cv2.CAP_PROP_FPS) == pytest.approx(summary["video_fps"], rel=0.01)
    span_s = (stamp_to_ns(overlays[-1].header.stamp) - stamp_to_ns(overlays[0].header.stamp)) / 1e9
    assert (len(overlays) - 1) / summary["video_fps"] == pytest.approx(span_s, rel=0.25)
