"""Two OS processes exchange images, events and a service call over real DDS (Fast DDS)."""
import numpy as np
import pytest
import rclpy
from builtin_interfaces.msg import Time
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, RegionOfInterest
from tvau_msgs.msg import AnomalyEvent, AnomalyRegion
from tvau_msgs.srv import QueryAnomaly

from tvau_ros.nodes.image_conversion import image_to_numpy, numpy_to_image

from ros_helpers import PEERS, peer_process, spin_until

PREFIX = "/tvau_test"


@pytest.fixture(scope="module")
def node():
    rclpy.init()
    node = rclpy.create_node("tvau_roundtrip_test")
    with peer_process([str(PEERS / "echo_peer.py"), "--prefix", PREFIX, "--seconds", "120"]):
        yield node
    node.destroy_node()
    rclpy.shutdown()


def _event() -> AnomalyEvent:
    event = AnomalyEvent()
    event.header.stamp = Time(sec=1700000000, nanosec=123456789)
    event.header.frame_id = "front_camera_optical"
    event.frame_score = 0.875
    event.is_anomalous = True
    region = AnomalyRegion(
        track_id=7,
        box=RegionOfInterest(x_offset=10, y_offset=20, width=30, height=40),
        peak_score=0.875, mean_score=0.625, area_fraction=0.015625, label="anomaly",
        has_ground_point=True,
    )
    region.ground_point.header.frame_id = "map"
    region.ground_point.point.x, region.ground_point.point.y = 3.5, -1.25
    event.regions = [region, AnomalyRegion(track_id=8, label="second")]
    event.window_start = Time(sec=1699999999, nanosec=5)
    event.window_end = event.header.stamp
    event.model_id = "tvau_ahd_test@0.1.0"
    event.started_track_ids = [7]
    event.ended_track_ids = [3, 4]
    return event


def _plain(value):
    """Message -> nested dict/list of plain values (arrays of numbers arrive as array.array)."""
    if hasattr(value, "get_fields_and_field_types"):
        return {name: _plain(getattr(value, name)) for name in value.get_fields_and_field_types()}
    if isinstance(value, (list, tuple)) or type(value).__name__ in ("array", "ndarray"):
        return [_plain(v) for v in value]
    return value


def _exchange(node, msg_type, topic_in, topic_out, msg):
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    received = []
    sub = node.create_subscription(msg_type, f"{PREFIX}/{topic_out}", received.append, qos)
    pub = node.create_publisher(msg_type, f"{PREFIX}/{topic_in}", qos)
    try:
        assert spin_until(node, lambda: pub.get_subscription_count() > 0 and sub.get_publisher_count() > 0)
        deadline_tries = 0
        while not received and deadline_tries < 20:
            pub.publish(msg)
            spin_until(node, lambda: bool(received), timeout=1.0)
            deadline_tries += 1
        assert received, f"nothing came back on {topic_out}"
        return received[0]
    finally:
        node.destroy_publisher(pub)
        node.destroy_subscription(sub)


def test_image_640x480_rgb8_round_trips_between_processes(node):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
    msg = numpy_to_image(pixels, "rgb8")
    msg.header.stamp = Time(sec=42, nanosec=7)
    msg.header.frame_id = "cam"
    back = _exchange(node, Image, "image_in", "image_out", msg)
    assert (back.height, back.width, back.encoding, back.step) == (480, 640, "rgb8", 1920)
    assert back.header.stamp == msg.header.stamp and back.header.frame_id == "cam"
    np.testing.assert_array_equal(image_to_numpy(back), pixels)


def test_anomaly_event_round_trips_every_field(node):
    sent = _event()
    back = _exchange(node, AnomalyEvent, "event_in", "event_out", sent)
    assert _plain(back) == _plain(sent)
    assert back.regions[0].box.width == 30 and back.regions[0].ground_point.point.y == -1.25


def test_query_service_call_across_processes(node):
    client = node.create_client(QueryAnomaly, f"{PREFIX}/query")
    try:
        assert client.wait_for_service(timeout_sec=20.0)
        request = QueryAnomaly.Request(question="Is anything abnormal?", session_id="s1", reset=True)
        request.window_start = Time(sec=10)
        request.window_end = Time(sec=12, nanosec=500)
        future = client.call_async(request)
        assert spin_until(node, future.done, timeout=20.0)
        response = future.result()
        assert response.success
        assert response.answer == "s1: Is anything abnormal?"
        assert response.judgment == QueryAnomaly.Response.JUDGMENT_YES
        assert response.confidence == pytest.approx(0.75)
        assert response.window_start == request.window_start and response.window_end == request.window_end
    finally:
        node.destroy_client(client)
