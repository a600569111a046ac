"""Untrusted message fields reach the heatmap node's log capped, for real.

A camera publishes images whose encoding is 5,000 characters long (with a newline in it) to a
running heatmap node process; the node must count and drop them, keep running, and log a line of
bounded length with the newline escaped.
"""
import re

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image

from tvau_ros.nodes.msg_conversion import LOG_FIELD_MAX, diagnostics_to_dict, ns_to_stamp
from tvau_ros.nodes.qos import qos_profile

from peers.node_client import Collector, get_state, spin_until, start_node

NODE = "tvau_heatmap_logcap"
TOPIC = "/tvau_logcap/image_raw"
ENCODING = "evil\n[FATAL] forged line " + "x" * 5000


def test_a_5000_character_encoding_is_counted_and_logged_capped():
    rclpy.init()
    node = rclpy.create_node("tvau_logcap_camera")
    heatmap = start_node("heatmap", NODE, {"autostart": True, "image_topic": TOPIC, "qos_reliability": "reliable",
                                           "diagnostics_period_s": 0.3})
    try:
        pub = node.create_publisher(Image, TOPIC, qos_profile("reliable", 10))
        collector = Collector(node).add(DiagnosticArray, "/diagnostics", qos_profile("reliable", 10))
        assert spin_until(node, lambda: pub.get_subscription_count() > 0)
        status = f"{NODE}: anomaly pipeline"

        def bad_inputs() -> int:
            found = [diagnostics_to_dict(m)[status] for m in collector.messages["/diagnostics"]
                     if status in diagnostics_to_dict(m)]
            return int(found[-1]["bad_inputs"]) if found else 0

        for i in range(3):
            msg = Image(height=2, width=2, encoding=ENCODING, step=6, data=np.zeros(12, np.uint8).tobytes())
            msg.header.stamp = ns_to_stamp(1_000_000_000 * (i + 1))
            pub.publish(msg)
        assert spin_until(node, lambda: bad_inputs() == 3), heatmap.lines[-5:]
        logged = [line for line in heatmap.lines if "bad input (encoding" in line]
        assert len(logged) == 1  # the first occurrence
        line = logged[0]
        assert "evil\\n[FATAL] forged line xxx" in line and re.search(r"\.\.\. \(5\d{3} characters, cut\)$", line)
        assert len(line) < LOG_FIELD_MAX + 200, len(line)
        assert not any(line.startswith("[FATAL] forged") for line in heatmap.lines)
        assert heatmap.proc.poll() is None and get_state(node, NODE) == "active"
    finally:
        heatmap.stop()
        node.destroy_node()
        rclpy.try_shutdown()
