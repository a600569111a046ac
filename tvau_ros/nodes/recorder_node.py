"""Recorder node: the heatmap node's outputs -> an annotated video, an events file, a summary.

Subscribes ``overlay_topic`` (bgr8) and ``events_topic`` (tvau_msgs/AnomalyEvent) and writes
``out_dir/annotated.mp4`` (H.264), ``out_dir/events.jsonl`` (the keys of ``tvau run``'s
events) and, when it stops, ``out_dir/summary.json``, printing a summary like ``tvau run``'s.
It stops on Ctrl-C / SIGTERM, or after ``idle_exit_s`` seconds without a message once
something arrived (how ``tvau bringup`` ends a replay demo).
Prints ``READY`` once both topics have a publisher (or after ``wait_timeout_s``).

The node publishes one overlay and one event per processed clip, so ``annotated.mp4`` holds one
frame per processed clip (the clip's newest frame), played at the rate the overlays' camera
stamps advance. Frame counts come from the heatmap node's last /diagnostics (the node named in
``events_topic``; counted since it was configured): ``received_frames`` it received,
``processed_frames`` that got a heatmap (``frames`` and ``fps`` count these), ``dropped_frames``.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import Image
from tvau_msgs.msg import AnomalyEvent

from tvau_ros.io.summary import build_summary, format_summary
from tvau_ros.io.writers import EventsWriter, Mp4Writer
from tvau_ros.nodes import msg_conversion as conv
from tvau_ros.nodes.image_conversion import image_to_numpy
from tvau_ros.nodes.qos import qos_profile
from tvau_ros.nodes.shutdown import init_node_process, spin_until_stopped

NODE_NAME = "tvau_recorder"
PARAMETERS = {
    "out_dir": ("tvau_output", "output folder"),
    "overlay_topic": ("/tvau_heatmap/heatmap_overlay", "overlay images to record ('' = none)"),
    "events_topic": ("/tvau_heatmap/events", "anomaly events to record"),
    "video_fps": (0.0, "frame rate of the MP4 (0 = estimated from the first stamps)"),
    "idle_exit_s": (0.0, "exit this long after the last message (0 = never)"),
    "wait_timeout_s": (30.0, "how long to wait for publishers before printing READY anyway"),
    "print_summary": (True, "print the summary when stopping"),
}
FPS_PROBE = 10  # overlay frames buffered to estimate the frame rate


class RecorderNode(Node):
    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any):
        super().__init__(node_name, **kwargs)
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        self.out_dir = Path(self.get_parameter("out_dir").value)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.events_writer = EventsWriter(self.out_dir / "events.jsonl")
        self.events: list[dict] = []
        self.video: Mp4Writer | None = None
        self._probe: list[tuple[int, np.ndarray]] = []
        self.frames = 0
        self.first_rx = self.last_rx = None
        qos = qos_profile("reliable", 50)
        events_topic = self.get_parameter("events_topic").value
        self.subs = [self.create_subscription(AnomalyEvent, events_topic, self._on_event, qos)]
        parts = events_topic.strip("/").split("/")
        self.status_name = f"{parts[-2] if len(parts) > 1 else 'tvau_heatmap'}: anomaly pipeline"
        self.node_counts: dict[str, str] = {}
        self.diag_sub = self.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics,
                                                 qos_profile("reliable", 10))
        overlay = self.get_parameter("overlay_topic").value
        if overlay:
            self.subs.append(self.create_subscription(Image, overlay, self._on_overlay, qos_profile("reliable", 20)))

    def _touch(self) -> None:
        now = time.monotonic()
        self.first_rx = self.first_rx or now
        self.last_rx = now

    def _on_event(self, msg: AnomalyEvent) -> None:
        self._touch()
        record = conv.event_to_dict(msg)
        self.events.append(record)
        self.events_writer.write(record)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        # not a _touch(): the node publishes diagnostics while idle too
        for status in msg.status:
            if status.name == self.status_name:
                self.node_counts = {kv.key: kv.value for kv in status.values}

    def _on_overlay(self, msg: Image) -> None:
        self._touch()
        rgb = np.ascontiguousarray(image_to_numpy(msg)[:, :, ::-1]) if msg.encoding == "bgr8" else image_to_numpy(msg)
        stamp = conv.stamp_to_ns(msg.header.stamp)
        if self.video is None:
            self._probe.append((stamp, rgb))
            if len(self._probe) < FPS_PROBE:
                return
            self._open_video()
        else:
            self.video.write(rgb)
            self.frames += 1

    def _open_video(self) -> None:
        fps = float(self.get_parameter("video_fps").value)
        stamps = [s for s, _ in self._probe]
        if not fps:
            gaps = np.diff(stamps)
            gaps = gaps[gaps > 0]
            fps = float(1e9 / np.median(gaps)) if gaps.size else 10.0
        self.video = Mp4Writer(self.out_dir / "annotated.mp4", fps=min(max(fps, 0.1), 120.0))
        for _, rgb in self._probe:
            self.video.write(rgb)
            self.frames += 1
        self._probe = []

    def idle(self) -> bool:
        limit = float(self.get_parameter("idle_exit_s").value)
        return bool(limit and self.last_rx is not None and time.monotonic() - self.last_rx > limit)

    def publishers_matched(self) -> bool:
        return all(sub.get_publisher_count() > 0 for sub in self.subs)

    def finish(self) -> dict:
        if self.video is None and self._probe:
            self._open_video()
        if self.video is not None:
            self.video.close()
        self.events_writer.close()
        wall = (self.last_rx - self.first_rx) if self.first_rx is not None else 0.0
        outputs = {"events": str(self.events_writer.path), "summary": str(self.out_dir / "summary.json")}
        if self.video is not None:
            outputs["video"] = str(self.video.path)
        counts = {key: int(self.node_counts[key]) if key in self.node_counts else None
                  for key in ("received", "processed_frames", "dropped_frames")}
        if counts["received"] is None:
            self.get_logger().warning(f"no /diagnostics from '{self.status_name}': frame counts unknown (0)")
        summary = build_summary(self.events, counts["processed_frames"] or 0, wall,
                                received_frames=counts["received"], processed_frames=counts["processed_frames"],
                                dropped_frames=counts["dropped_frames"], overlay_frames=self.frames,
                                video_fps=round(self.video.fps, 3) if self.video is not None else None,
                                outputs=outputs)
        (self.out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        return summary


def main(argv: list[str] | None = None) -> int:
    stop = init_node_process(argv if argv is not None else sys.argv)
    node = RecorderNode()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    show = bool(node.get_parameter("print_summary").value)
    try:
        deadline = time.monotonic() + float(node.get_parameter("wait_timeout_s").value)
        spin_until_stopped(executor, stop, lambda: node.publishers_matched() or time.monotonic() >= deadline,
                           period=0.05)
        print("READY", flush=True)
        spin_until_stopped(executor, stop, node.idle)
    finally:
        summary = node.finish()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    if show:
        print(format_summary(summary, title="tvau recorder"), flush=True)
    return 0

if __name__ == "__main__":
    sys.exit(main())
