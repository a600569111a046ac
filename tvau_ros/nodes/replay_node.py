"""Replay node: publish a video file, an image folder or a rosbag2 as a camera.

Publishes ``sensor_msgs/Image`` (rgb8 or bgr8) on ``topic`` and a matching
``sensor_msgs/CameraInfo`` (pinhole from ``hfov_deg``) on its sibling ``camera_info`` topic,
at the source's native rate times ``rate`` (``rate: 0`` = as fast as possible), optionally
looping. Stamps (``stamps``):

- ``now`` (default): the replay start time plus the frame's media time / rate, i.e. when the
  frame would have been captured by a live camera; they keep increasing across loops;
- ``original``: the recorded stamps (bag header stamps; media time for videos), which jump
  back when a loop restarts (the heatmap node then resets its stream).

A missing or corrupt source ends the process at once with one line and exit code 2.
Prints ``READY`` when its publishers exist and ``REPLAY_DONE frames=N`` at the end.

Run: ``tvau node replay --ros-args -p source:=clip.mp4 -p topic:=/camera/image_raw``
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Any

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from tvau_ros.core.ground_projection import CameraIntrinsics
from tvau_ros.core.types import NS_PER_S
from tvau_ros.io.sources import SourceError, SourceFrame, open_source
from tvau_ros.nodes import msg_conversion as conv
from tvau_ros.nodes.camera_model import camera_info_topic_for
from tvau_ros.nodes.qos import qos_profile
from tvau_ros.nodes.shutdown import init_node_process, spin_until_stopped

NODE_NAME = "tvau_replay"

PARAMETERS = {
    "source": ("", "video file, image folder, or rosbag2 (.mcap / .db3 / bag folder)"),
    "kind": ("", "video | frames | bag ('' = from the path)"),
    "bag_topic": ("", "image topic inside the bag ('' = the first image topic)"),
    "topic": ("/camera/image_raw", "published image topic"),
    "frame_id": ("camera_optical_frame", "header.frame_id ('' = the bag's)"),
    "encoding": ("rgb8", "rgb8 | bgr8"),
    "fps": (0.0, "source frame rate override (0 = native; image folders default to 30)"),
    "rate": (1.0, "speed factor over the native rate (0 = as fast as possible)"),
    "loop": (False, "start again at the end"),
    "stamps": ("now", "now (capture time of a live camera) | original (recorded stamps)"),
    "reliability": ("reliable", "publisher QoS: reliable | best_effort"),
    "depth": (10, "publisher history depth"),
    "camera_info": (True, "also publish CameraInfo on the sibling camera_info topic"),
    "hfov_deg": (60.0, "horizontal field of view of the published CameraInfo"),
    "wait_for_subscribers": (0, "wait until this many subscriptions match the image topic"),
    "wait_timeout_s": (30.0, "give up waiting for subscribers after this long (then publish anyway)"),
    "max_frames": (0, "stop after this many frames (0 = all)"),
}


class ReplayNode(Node):
    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any):
        super().__init__(node_name, **kwargs)
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        p = self.param
        if p("encoding") not in ("rgb8", "bgr8"):
            raise ValueError(f"encoding must be rgb8 or bgr8, got {p('encoding')!r}")
        if p("stamps") not in ("now", "original"):
            raise ValueError(f"stamps must be now or original, got {p('stamps')!r}")
        if float(p("rate")) < 0:
            raise ValueError(f"rate must be >= 0, got {p('rate')}")
        if not p("source"):
            raise SourceError("parameter 'source' is empty: give a video, image folder or bag")
        self.source_args = (p("source"), p("kind") or None, p("bag_topic") or None, float(p("fps")) or None)
        self.source = open_source(self.source_args[0], self.source_args[1], topic=self.source_args[2],
                                  fps=self.source_args[3])  # fails here, before anything is published
        qos = qos_profile(p("reliability"), p("depth"))
        self.image_pub = self.create_publisher(Image, p("topic"), qos)
        self.info_pub = (self.create_publisher(CameraInfo, camera_info_topic_for(p("topic")), qos)
                         if p("camera_info") else None)
        self.published = 0
        self.done = threading.Event()
        self.stop = threading.Event()   # set before the node is destroyed: the loop must not publish after
        self.error: str | None = None
        self._camera: CameraIntrinsics | None = None

    def param(self, name: str) -> Any:
        return self.get_parameter(name).value

    def _camera_info(self, height: int, width: int, stamp_ns: int, frame_id: str) -> CameraInfo:
        if self._camera is None or (self._camera.width, self._camera.height) != (width, height):
            self._camera = CameraIntrinsics.from_hfov(width, height, float(self.param("hfov_deg")))
        c = self._camera
        return CameraInfo(header=conv.header(stamp_ns, frame_id), width=width, height=height,
                          distortion_model="plumb_bob", d=[0.0] * 5,
                          k=[c.fx, 0.0, c.cx, 0.0, c.fy, c.cy, 0.0, 0.0, 1.0],
                          r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                          p=[c.fx, 0.0, c.cx, 0.0, 0.0, c.fy, c.cy, 0.0, 0.0, 0.0, 1.0, 0.0])

    def _wait_for_subscribers(self) -> None:
        wanted = int(self.param("wait_for_subscribers"))
        deadline = time.monotonic() + float(self.param("wait_timeout_s"))
        while wanted and self.image_pub.get_subscription_count() < wanted and time.monotonic() < deadline:
            if self.stop.wait(0.05):
                return
        if wanted and self.image_pub.get_subscription_count() < wanted:
            self.get_logger().warning(f"only {self.image_pub.get_subscription_count()} of {wanted} subscribers "
                                      "after the timeout; publishing anyway")

    def run(self) -> None:
        """Publishing loop (a thread); sets ``done`` at the end."""
        try:
            self._wait_for_subscribers()
            self._publish_all()
        except SourceError as exc:
            self.error = str(exc)
        finally:
            self.done.set()

    def _publish_all(self) -> None:
        rate, loop = float(self.param("rate")), bool(self.param("loop"))
        max_frames = int(self.param("max_frames"))
        encoding, original = self.param("encoding"), self.param("stamps") == "original"
        start_wall = time.monotonic()
        start_ros = self.get_clock().now().nanoseconds
        offset_ns = 0  # media time of the current loop's start on the replay timeline
        source = self.source
        while rclpy.ok() and not self.stop.is_set():
            first = last = None
            for frame in source:
                if max_frames and self.published >= max_frames:
                    return
                first = frame.time_ns if first is None else first
                last = frame.time_ns
                media = offset_ns + frame.time_ns - first
                if rate > 0:
                    delay = start_wall + media / NS_PER_S / rate - time.monotonic()
                    if delay > 0 and self.stop.wait(delay):
                        return
                    stamp = frame.time_ns if original else start_ros + int(media / rate)
                else:
                    stamp = frame.time_ns if original else self.get_clock().now().nanoseconds
                if self.stop.is_set() or not rclpy.ok():
                    return
                self._publish(frame, stamp, encoding)
            if not loop or first is None:
                return
            offset_ns += (last - first) + int(NS_PER_S / source.fps)
            source = open_source(self.source_args[0], self.source_args[1], topic=self.source_args[2],
                                 fps=self.source_args[3])

    def flush(self, timeout_s: float = 3.0) -> None:
        """Give reliable subscribers the time to receive the last frames before the process exits."""
        from rclpy.duration import Duration

        for pub in (self.image_pub, self.info_pub):
            if pub is not None and hasattr(pub, "wait_for_all_acked"):
                pub.wait_for_all_acked(Duration(seconds=timeout_s))

    def _publish(self, frame: SourceFrame, stamp_ns: int, encoding: str) -> None:
        frame_id = self.param("frame_id") or frame.frame_id
        image = frame.image if encoding == "rgb8" else frame.image[:, :, ::-1]
        msg = conv.numpy_to_image(image, encoding, conv.header(stamp_ns, frame_id))
        if self.info_pub is not None:
            self.info_pub.publish(self._camera_info(msg.height, msg.width, stamp_ns, frame_id))
        self.image_pub.publish(msg)
        self.published += 1


def main(argv: list[str] | None = None) -> int:
    stop = init_node_process(argv if argv is not None else sys.argv)
    try:
        node = ReplayNode()
    except (SourceError, ValueError) as exc:
        print(f"tvau node replay: error: {exc}", file=sys.stderr, flush=True)
        rclpy.try_shutdown()
        return 2
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    worker = threading.Thread(target=node.run, name="tvau_replay_publisher", daemon=True)
    print("READY", flush=True)
    worker.start()
    code = 0
    try:
        spin_until_stopped(executor, stop, node.done.is_set)
        if node.done.is_set():
            if node.error:
                print(f"tvau node replay: error: {node.error}", file=sys.stderr, flush=True)
                code = 2
            node.flush()
            print(f"REPLAY_DONE frames={node.published}", flush=True)
    finally:
        node.stop.set()
        worker.join(timeout=5.0)   # a publish racing destroy_node raises InvalidHandle in the thread
        if worker.is_alive():
            print("tvau node replay: warning: the source did not stop within 5 s; exiting anyway",
                  file=sys.stderr, flush=True)
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return code

if __name__ == "__main__":
    sys.exit(main())
