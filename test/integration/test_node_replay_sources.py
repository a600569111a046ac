"""The replay node publishes bags, videos and folders with correct stamps; bad sources fail fast;
``tvau bringup`` runs the whole demo (replay -> heatmap node -> recorder) from params.yaml."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image

from tvau_ros.core.types import NS_PER_S
from tvau_ros.io.bag_writer import write_image_bag
from tvau_ros.io.sample_clip import generate_sample_clip
from tvau_ros.io.writers import Mp4Writer, read_events
from tvau_ros.nodes.image_conversion import image_to_rgb8
from tvau_ros.nodes.msg_conversion import stamp_to_ns
from tvau_ros.nodes.qos import qos_profile

from peers.node_client import Collector, observer_node, spin_until, start_node



def bag_frames(n, h=48, w=64):
    out = np.zeros((n, h, w, 3), np.uint8)
    for i in range(n):
        out[i, :, :, 0] = 20 * i
        out[i, 10:20, 5 * i:5 * i + 10] = (0, 255, 0)
    return out


@pytest.fixture(scope="module")
def node():
    with observer_node("tvau_replay_test") as node:
        yield node


def replay_and_collect(node, topic, params, expected):
    col = Collector(node)
    col.add(Image, topic, qos_profile("reliable", 100)).add(CameraInfo, topic.rsplit("/", 1)[0] + "/camera_info",
                                                            qos_profile("reliable", 100))
    proc = start_node("replay", f"tvau_replay_{abs(hash(topic)) % 1000}",
                      {"topic": topic, "wait_for_subscribers": 1, **params})
    try:
        assert spin_until(node, lambda: len(col.messages[topic]) >= expected, timeout=60), proc.lines
        assert spin_until(node, lambda: any("REPLAY_DONE" in line for line in proc.lines), timeout=30)
        assert proc.proc.wait(timeout=30) == 0
        return col.messages[topic], list(col.messages.values())[1]
    finally:
        proc.stop()
        col.close()


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_bag_is_replayed_with_its_recorded_stamps_and_frame_id(node, tmp_path, storage):
    images = bag_frames(5)
    bag = write_image_bag(tmp_path / "bag", images, fps=10, start_ns=50 * NS_PER_S, frame_id="bag_cam",
                          storage=storage)
    msgs, infos = replay_and_collect(node, "/tvau_rs/bag/image", {"source": str(bag), "stamps": "original",
                                                                  "frame_id": "", "rate": 0.0}, 5)
    assert [stamp_to_ns(m.header.stamp) for m in msgs] == [50 * NS_PER_S + i * NS_PER_S // 10 for i in range(5)]
    assert {m.header.frame_id for m in msgs} == {"bag_cam"}
    np.testing.assert_array_equal(np.stack([image_to_rgb8(m) for m in msgs]), images)
    assert [i.header.stamp for i in infos] == [m.header.stamp for m in msgs]
    assert (infos[0].width, infos[0].height) == (64, 48) and infos[0].k[0] > 0


def test_looped_video_keeps_stamps_increasing_at_the_requested_rate(node, tmp_path):
    path = tmp_path / "v.mp4"
    with Mp4Writer(path, fps=10) as writer:
        for image in bag_frames(4):
            writer.write(image)
    msgs, _ = replay_and_collect(node, "/tvau_rs/video/image", {
        "source": str(path), "loop": True, "max_frames": 10, "rate": 2.0, "encoding": "bgr8"}, 10)
    stamps = np.array([stamp_to_ns(m.header.stamp) for m in msgs[:10]])
    gaps = np.diff(stamps) / NS_PER_S
    assert np.all(gaps > 0) and gaps == pytest.approx(0.05, abs=1e-6)  # 10 fps x 2, across the loop
    assert msgs[0].encoding == "bgr8" and msgs[0].header.frame_id == "camera_optical_frame"


def test_interrupting_a_looping_replay_mid_publish_exits_cleanly(node, tmp_path):
    # Seen in scripts/bench_node.py: SIGINT while the publishing thread was inside publish() raised
    # InvalidHandle in that thread (the node was destroyed under it).
    path = tmp_path / "v.mp4"
    with Mp4Writer(path, fps=10) as writer:
        for image in bag_frames(4):
            writer.write(image)
    col = Collector(node)
    col.add(Image, "/tvau_rs/stop/image", qos_profile("best_effort", 10))
    proc = start_node("replay", "tvau_replay_stop", {"topic": "/tvau_rs/stop/image", "source": str(path),
                                                     "loop": True, "rate": 0.0, "wait_for_subscribers": 1})
    try:
        assert spin_until(node, lambda: len(col.messages["/tvau_rs/stop/image"]) >= 20, timeout=60), proc.lines
        assert proc.stop() == 0, "".join(proc.lines)
        assert not any("Traceback" in line or "Exception" in line for line in proc.lines), "".join(proc.lines)
    finally:
        proc.stop()
        col.close()


def test_image_folder_replay(node, tmp_path):
    for i, image in enumerate(bag_frames(3)):
        cv2.imwrite(str(tmp_path / f"{i}.png"), image[:, :, ::-1])
    msgs, _ = replay_and_collect(node, "/tvau_rs/frames/image", {"source": str(tmp_path), "fps": 30.0,
                                                                 "rate": 0.0}, 3)
    np.testing.assert_array_equal(image_to_rgb8(msgs[2]), bag_frames(3)[2])


def _replay_cli(source):
    return subprocess.run([sys.executable, "-m", "tvau_ros.nodes.replay_node", "--ros-args", "-p",
                           f"source:={source}"], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name,content,message", [
    ("missing.mp4", None, "no such file or folder"),
    ("corrupt.mp4", b"\x00junk" * 100, "cannot read video"),
    ("corrupt.db3", b"\x00junk" * 100, "cannot read bag"),
])
def test_bad_source_exits_2_with_one_line(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = _replay_cli(path)
    assert result.returncode == 2
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tvau node replay: error: ") and message in lines[0], lines


def test_bringup_runs_the_demo_from_params_yaml(tmp_path, plaza_scene):
    scene_dir, scene = plaza_scene
    clip = generate_sample_clip(tmp_path / "demo.mp4", frames=90, anomaly_start=10)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from tvau_ros.cli import main; sys.exit(main(sys.argv[1:]))",
         "bringup", "--source", str(clip.path), "--record", str(out), "--camera-topic", "/tvau_bu/image",
         "--scene", scene, "--scene-dir", str(scene_dir)],
        capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["events"] >= 20 and summary["anomalies"], summary
    assert "tvau bringup:" in result.stdout and "anomalies:" in result.stdout
    events = read_events(out / "events.jsonl")
    assert len(events) == summary["events"] and any(e["regions"] for e in events)
    video = cv2.VideoCapture(str(out / "annotated.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == summary["overlay_frames"] >= 20
