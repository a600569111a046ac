"""The heatmap node as a separate process: lifecycle, camera QoS, and bad input, for real.

This test process is the camera: it publishes images and watches the node's heatmaps,
diagnostics and log. Tests run in file order on one node process; each brings the node to
the state it needs.
"""
import cv2
import numpy as np
import psutil
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import CompressedImage, Image

from tvau_ros.core.types import NS_PER_S
from tvau_ros.io.sample_clip import render_sample_clip
from tvau_ros.nodes.image_conversion import image_to_numpy, numpy_to_image
from tvau_ros.nodes.msg_conversion import diagnostics_to_dict, ns_to_stamp, stamp_to_ns
from tvau_ros.nodes.qos import qos_profile

from peers.node_client import Collector, change_state, get_state, set_params, spin_for, spin_until, start_node

NODE = "tvau_heatmap_lc"
TOPIC = "/tvau_lc/image_raw"
HEATMAP = f"/{NODE}/heatmap"
STATUS = f"{NODE}: anomaly pipeline"
FRAMES, _ = render_sample_clip(width=160, height=120, frames=40, anomaly_start=5)


class Camera:
    """Publishes frames with increasing stamps (``jump`` moves the clock on purpose)."""

    def __init__(self, node, topic=TOPIC, reliability="best_effort", msg_type=Image):
        self.node = node
        self.pub = node.create_publisher(msg_type, topic, qos_profile(reliability, 10))
        self.stamp = 1_000 * NS_PER_S
        self.i = 0

    def next_stamp(self) -> int:
        self.stamp += NS_PER_S // 30
        return self.stamp

    def publish(self, msg, stamp_ns=None):
        msg.header.stamp = ns_to_stamp(self.next_stamp() if stamp_ns is None else stamp_ns)
        msg.header.frame_id = "cam"
        self.pub.publish(msg)
        return stamp_to_ns(msg.header.stamp)

    def frame(self, image=None):
        image = FRAMES[self.i % len(FRAMES)] if image is None else image
        self.i += 1
        return self.publish(numpy_to_image(image, "rgb8"))

    def stream(self, count, image=None, period=1 / 30):
        stamps = []
        for _ in range(count):
            stamps.append(self.frame(image))
            spin_for(self.node, period)
        return stamps

    def destroy(self):
        self.node.destroy_publisher(self.pub)


@pytest.fixture(scope="module")
def env():
    rclpy.init()
    node = rclpy.create_node("tvau_lc_test")
    proc = start_node("heatmap", NODE, {"image_topic": TOPIC, "clip_length": 3, "qos_depth": 20,
                                        "heatmap_max_side": 640, "diagnostics_period_s": 0.3})
    col = Collector(node)
    col.add(Image, HEATMAP, qos_profile("reliable", 50)).add(DiagnosticArray, "/diagnostics",
                                                             qos_profile("reliable", 50))
    camera = Camera(node)
    try:
        yield node, proc, col, camera
    finally:
        camera.destroy()
        col.close()
        proc.stop()
        node.destroy_node()
        rclpy.shutdown()


def diag(col):
    for msg in reversed(col.messages["/diagnostics"]):
        status = diagnostics_to_dict(msg).get(STATUS)
        if status:
            return status
    return {}


def counter(col, key):
    return int(diag(col).get(key, 0))


def wait_counter(node, col, key, at_least, timeout=20.0):
    assert spin_until(node, lambda: counter(col, key) >= at_least, timeout), (
        f"{key} stayed at {counter(col, key)} (< {at_least}): {diag(col)}")


def heatmaps_for(col, stamps):
    return [m for m in col.messages[HEATMAP] if stamp_to_ns(m.header.stamp) in set(stamps)]


def ensure(node, state):
    """Bring the node to 'inactive' or 'active' from wherever it is."""
    current = get_state(node, NODE)
    if current == "unconfigured":
        set_params(node, NODE, engine="motion_baseline", checkpoint="")
        assert change_state(node, NODE, "configure")
        current = "inactive"
    if current == "inactive" and state == "active":
        assert change_state(node, NODE, "activate")
    if current == "active" and state == "inactive":
        assert change_state(node, NODE, "deactivate")
    assert get_state(node, NODE) == state


def stream_until_heatmap(node, col, camera, count=12, image=None, tries=3):
    """Publish frames until the node answers with a heatmap of one of them; return that heatmap."""
    for _ in range(tries):
        stamps = camera.stream(count, image)
        if spin_until(node, lambda stamps=stamps: heatmaps_for(col, stamps), timeout=10):
            return heatmaps_for(col, stamps)[-1]
    raise AssertionError(f"no heatmap for the published frames; diagnostics {diag(col)}")


def test_missing_model_fails_configure_with_a_reason_and_a_retry_succeeds(env):
    node, proc, col, _ = env
    assert get_state(node, NODE) == "unconfigured"
    set_params(node, NODE, engine="ahd", checkpoint="/nonexistent/tvau_ahd.safetensors")
    assert change_state(node, NODE, "configure") is False
    assert get_state(node, NODE) == "unconfigured"
    assert spin_until(node, lambda: any("configure failed: engine 'ahd': checkpoint not found: "
                                        "/nonexistent/tvau_ahd.safetensors" in line for line in proc.lines), 10)
    set_params(node, NODE, engine="motion_baseline", checkpoint="")
    assert change_state(node, NODE, "configure") is True
    assert get_state(node, NODE) == "inactive"


def test_inactive_node_ignores_the_camera_and_activation_starts_processing(env):
    node, _, col, camera = env
    ensure(node, "inactive")
    stamps = camera.stream(10)
    spin_for(node, 1.0)
    assert camera.pub.get_subscription_count() == 0 and not heatmaps_for(col, stamps)
    assert change_state(node, NODE, "activate") and get_state(node, NODE) == "active"
    assert spin_until(node, lambda: camera.pub.get_subscription_count() == 1)
    stream_until_heatmap(node, col, camera)
    assert change_state(node, NODE, "deactivate") and get_state(node, NODE) == "inactive"
    assert spin_until(node, lambda: camera.pub.get_subscription_count() == 0)
    before = len(col.messages[HEATMAP])
    camera.stream(10)
    spin_for(node, 1.0)
    assert len(col.messages[HEATMAP]) == before
    ensure(node, "active")
    assert spin_until(node, lambda: camera.pub.get_subscription_count() == 1)
    stream_until_heatmap(node, col, camera)


@pytest.mark.parametrize("reliability", ["best_effort", "reliable"])
def test_default_subscription_receives_best_effort_and_reliable_cameras(env, reliability):
    node, _, col, camera = env
    ensure(node, "active")
    other = Camera(node, reliability=reliability)
    other.stamp = camera.stamp
    try:
        assert spin_until(node, lambda: other.pub.get_subscription_count() == 1)
        msg = stream_until_heatmap(node, col, other)
        camera.stamp = other.stamp
    finally:
        other.destroy()
    assert (msg.encoding, msg.height, msg.width) == ("32FC1", 120, 160) and msg.header.frame_id == "cam"
    values = image_to_numpy(msg)
    assert values.dtype == np.float32 and 0.0 <= values.min() <= values.max() <= 1.0


def test_undecodable_images_are_counted_logged_and_survived(env):
    node, proc, col, camera = env
    ensure(node, "active")
    stream_until_heatmap(node, col, camera)
    base = {k: counter(col, f"bad_input_{k}") for k in ("encoding", "layout", "size")}
    bad = {
        "encoding": Image(height=2, width=2, encoding="nv21", step=2, data=bytes(4)),
        "layout": Image(height=120, width=160, encoding="rgb8", step=480, data=bytes(480 * 100)),
        "size": Image(height=0, width=0, encoding="rgb8", step=0, data=b""),
    }
    for kind, msg in bad.items():
        for _ in range(3):  # best effort: repeat until it got through
            camera.publish(msg)
            if spin_until(node, lambda kind=kind: counter(col, f"bad_input_{kind}") > base[kind], timeout=3):
                break
        wait_counter(node, col, f"bad_input_{kind}", base[kind] + 1)
    assert any("bad input (encoding" in line and "nv21" in line for line in proc.lines)
    assert any("bad input (layout" in line and "data length" in line for line in proc.lines)
    stream_until_heatmap(node, col, camera)  # still alive and processing


def test_repeated_backward_and_jumping_stamps(env):
    node, _, col, camera = env
    ensure(node, "active")
    stream_until_heatmap(node, col, camera)
    last = camera.stamp
    for kind, stamp in (("bad_input_stamp_repeated", last), ("bad_input_stamp_backwards", last - NS_PER_S // 10)):
        before = counter(col, kind)
        for _ in range(3):
            camera.publish(numpy_to_image(FRAMES[0], "rgb8"), stamp)
            if spin_until(node, lambda kind=kind, before=before: counter(col, kind) > before, timeout=3):
                break
        wait_counter(node, col, kind, before + 1)
    resets = counter(col, "stamp_resets")
    camera.stamp -= 100 * NS_PER_S  # e.g. a bag restarting from the beginning
    stream_until_heatmap(node, col, camera)
    wait_counter(node, col, "stamp_resets", resets + 1)


def test_resolution_change_resets_the_buffer_and_is_logged_once(env):
    node, proc, col, camera = env
    ensure(node, "active")
    stream_until_heatmap(node, col, camera)
    changes = counter(col, "resolution_changes")
    bigger = cv2.resize(FRAMES[10], (200, 150))
    msg = stream_until_heatmap(node, col, camera, image=bigger)
    assert (msg.height, msg.width) == (150, 200)
    wait_counter(node, col, "resolution_changes", changes + 1)
    logged = [line for line in proc.lines if "resolution changed from 160x120 to 200x150" in line]
    assert len(logged) == 1


def test_4k_frames_are_resized_for_the_engine(env):
    node, _, col, camera = env
    # 25 MB samples need a reliable path end to end (best effort loses a fragment, and the frame)
    ensure(node, "inactive")
    set_params(node, NODE, qos_reliability="reliable")
    ensure(node, "active")
    uhd_camera = Camera(node, reliability="reliable")
    uhd_camera.stamp = camera.stamp
    try:
        assert spin_until(node, lambda: uhd_camera.pub.get_subscription_count() == 1)
        resized = counter(col, "resized_frames")
        uhd = cv2.resize(FRAMES[20], (3840, 2160), interpolation=cv2.INTER_NEAREST)
        msg = stream_until_heatmap(node, col, uhd_camera, count=4, image=uhd)
        assert (msg.height, msg.width) == (360, 640)  # heatmap_max_side caps the published size
        wait_counter(node, col, "resized_frames", resized + 1)
        camera.stamp = uhd_camera.stamp
    finally:
        uhd_camera.destroy()
        ensure(node, "inactive")
        set_params(node, NODE, qos_reliability="best_effort")
        ensure(node, "active")
    assert spin_until(node, lambda: camera.pub.get_subscription_count() == 1)
    stream_until_heatmap(node, col, camera)  # back to the normal camera


def test_burst_at_10x_rate_accounts_for_every_frame_with_bounded_memory(env):
    node, proc, col, camera = env
    ensure(node, "active")
    image = cv2.resize(FRAMES[15], (320, 240))
    stream_until_heatmap(node, col, camera, image=image)
    process = psutil.Process(proc.proc.pid)
    camera.stream(60, image)  # warm up at 30 Hz (allocator pools settle)
    spin_for(node, 1.0)  # the warm-up frames are all processed
    before = {k: counter(col, k) for k in ("accepted", "processed_frames", "dropped_frames")}
    rss_before = process.memory_info().rss
    camera.stream(600, image, period=1 / 300)  # 2 s at 300 Hz, 10x the camera rate

    def delta(k):
        return counter(col, k) - before[k]

    # every frame accepted in the burst got a heatmap or left the clip ring uncovered (dropped)
    assert spin_until(node, lambda: delta("accepted") > 0 and
                      delta("processed_frames") + delta("dropped_frames") == delta("accepted"), 30), diag(col)
    rss_after = process.memory_info().rss
    assert rss_after - rss_before < 80 * 2**20, f"RSS grew by {(rss_after - rss_before) / 2**20:.0f} MiB"
    assert int(diag(col)["evidence_bytes"]) <= 256 * 2**20
    stream_until_heatmap(node, col, camera, image=image)


def test_compressed_camera_by_parameter(env):
    node, _, col, camera = env
    ensure(node, "inactive")
    set_params(node, NODE, compressed=True, image_topic=f"{TOPIC}/compressed")
    ensure(node, "active")
    jpeg = Camera(node, topic=f"{TOPIC}/compressed", msg_type=CompressedImage)
    jpeg.stamp = camera.stamp
    try:
        assert spin_until(node, lambda: jpeg.pub.get_subscription_count() == 1)
        stamps = []
        for _ in range(3):
            for i in range(12):
                ok, data = cv2.imencode(".jpg", FRAMES[i][:, :, ::-1])
                stamps.append(jpeg.publish(CompressedImage(format="jpeg", data=data.tobytes())))
                spin_for(node, 1 / 30)
            if spin_until(node, lambda: heatmaps_for(col, stamps), timeout=10):
                break
        assert heatmaps_for(col, stamps)
        before = counter(col, "bad_input_compressed")
        jpeg.publish(CompressedImage(format="jpeg", data=b"\xff\xd8 not really a jpeg"))
        wait_counter(node, col, "bad_input_compressed", before + 1)
        camera.stamp = jpeg.stamp
    finally:
        jpeg.destroy()
        ensure(node, "inactive")
        set_params(node, NODE, compressed=False, image_topic=TOPIC)


def test_cleanup_returns_to_unconfigured_and_configures_again(env):
    node, _, _, _ = env
    ensure(node, "inactive")
    assert change_state(node, NODE, "cleanup") and get_state(node, NODE) == "unconfigured"
    assert change_state(node, NODE, "configure") and get_state(node, NODE) == "inactive"


@pytest.mark.parametrize("period", [-1.0, 0.0])
def test_bad_diagnostics_period_fails_autostart_configure_and_the_node_stays_up(env, period):
    node, _, col, _ = env
    name = "tvau_heatmap_bad_period"
    proc = start_node("heatmap", name, {"image_topic": TOPIC, "autostart": True, "diagnostics_period_s": period})
    try:
        assert spin_until(node, lambda: any(
            f"configure failed: diagnostics_period_s must be a positive number of seconds, got {period}" in line
            for line in proc.lines), 10), "".join(proc.lines)
        assert get_state(node, name) == "unconfigured"
        # 0.0 used to publish /diagnostics in a busy loop: nothing comes from an unconfigured node
        spin_for(node, 1.0)
        assert not [m for m in col.messages["/diagnostics"] if f"{name}: anomaly pipeline" in diagnostics_to_dict(m)]
        assert proc.proc.poll() is None and not any("Traceback" in line for line in proc.lines), "".join(proc.lines)
        set_params(node, name, diagnostics_period_s=0.5)
        assert change_state(node, name, "configure") and get_state(node, name) == "inactive"
    finally:
        proc.stop()
