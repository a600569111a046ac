"""A separate OS process for the DDS round-trip tests.

Echoes ``sensor_msgs/Image`` from ``image_in`` to ``image_out`` and ``tvau_msgs/AnomalyEvent``
from ``event_in`` to ``event_out``, and serves ``query`` (tvau_msgs/QueryAnomaly) with a reply
derived from the request, so the test can check every field went through DDS both ways.
Prints READY once its endpoints exist; exits after --seconds.
"""
import argparse
import time

import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from tvau_msgs.msg import AnomalyEvent
from tvau_msgs.srv import QueryAnomaly


class EchoPeer(Node):
    def __init__(self, prefix: str):
        super().__init__("tvau_echo_peer")
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.create_publisher(Image, f"{prefix}/image_out", qos)
        self.event_pub = self.create_publisher(AnomalyEvent, f"{prefix}/event_out", qos)
        self.create_subscription(Image, f"{prefix}/image_in", self.image_pub.publish, qos)
        self.create_subscription(AnomalyEvent, f"{prefix}/event_in", self.event_pub.publish, qos)
        self.create_service(QueryAnomaly, f"{prefix}/query", self.answer)

    def answer(self, request, response):
        response.success = True
        response.answer = f"{request.session_id}: {request.question}"
        response.judgment = QueryAnomaly.Response.JUDGMENT_YES if request.reset else QueryAnomaly.Response.JUDGMENT_NO
        response.confidence = 0.75
        response.window_start = request.window_start
        response.window_end = request.window_end
        return response


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--prefix", default="/tvau_test")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    rclpy.init()
    node = EchoPeer(args.prefix)
    print("READY", flush=True)
    deadline = time.monotonic() + args.seconds
    while rclpy.ok() and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
