"""Ctrl-C / SIGTERM stop a node cleanly (exit code 0, outputs written) while messages pour in.

rclpy's default handlers raise KeyboardInterrupt wherever the main thread is; inside rclpy's
message conversion that became ``RuntimeError: Unable to convert call argument '0'`` and exit
code 1 (a CI run of the replay proof-of-life test). The nodes now only set a flag on a signal
(tvau_ros/nodes/shutdown.py); this floods a recorder with overlays and events and stops it.
"""
import json
import signal
import threading
import time

import numpy as np
import pytest
from sensor_msgs.msg import Image
from tvau_msgs.msg import AnomalyEvent, AnomalyRegion

from tvau_ros.nodes.image_conversion import numpy_to_image
from tvau_ros.nodes.msg_conversion import ns_to_stamp
from tvau_ros.nodes.qos import qos_profile

from peers.node_client import observer_node, spin_until, start_node

OVERLAY = "/tvau_shutdown/heatmap_overlay"
EVENTS = "/tvau_shutdown/events"


@pytest.fixture(scope="module")
def node():
    with observer_node("tvau_shutdown_it") as node:
        yield node


class Flood:
    """Publish overlays and events as fast as DDS takes them, from a thread, until stopped."""

    def __init__(self, node):
        qos = qos_profile("reliable", 50)
        self.overlay = node.create_publisher(Image, OVERLAY, qos)
        self.events = node.create_publisher(AnomalyEvent, EVENTS, qos)
        self.image = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        stamp = 1_000_000_000_000
        while not self.stop.is_set():
            stamp += 66_666_667
            msg = numpy_to_image(self.image, "bgr8")
            msg.header.stamp = ns_to_stamp(stamp)
            self.overlay.publish(msg)
            regions = [AnomalyRegion(track_id=i, label="fast", peak_score=0.9) for i in range(8)]
            event = AnomalyEvent(frame_score=0.9, is_anomalous=True, regions=regions, model_id="flood")
            event.header.stamp = event.window_start = event.window_end = ns_to_stamp(stamp)
            self.events.publish(event)
            self.sent += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5.0)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_recorder_stops_cleanly_while_messages_arrive(node, tmp_path, sig):
    codes = []
    for attempt in range(3):  # the old failure needed a signal landing inside a message conversion
        out = tmp_path / f"run{attempt}"
        recorder = start_node("recorder", f"tvau_recorder_shutdown_{attempt}", {
            "out_dir": str(out), "overlay_topic": OVERLAY, "events_topic": EVENTS, "wait_timeout_s": 5.0})
        try:
            with Flood(node) as flood:
                assert spin_until(node, lambda: flood.sent > 20, timeout=30)
                time.sleep(0.3 + 0.2 * attempt)
                recorder.proc.send_signal(sig)
                recorder.proc.wait(timeout=30)
        finally:
            code = recorder.stop()
        codes.append(code)
        assert code == 0, "".join(recorder.lines)
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        assert summary["overlay_frames"] > 0 and (out / "events.jsonl").stat().st_size > 0
    assert codes == [0, 0, 0]
