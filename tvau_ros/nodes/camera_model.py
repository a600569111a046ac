"""Where the camera is: CameraInfo intrinsics and the camera pose for ground projection.

The pose of the image frame in the ground frame comes from tf2 when a real ROS install has
``tf2_ros`` (``use_tf``), otherwise (or until tf has the transform) from the static
``camera_pose`` of the pipeline config. Intrinsics come from the camera's CameraInfo topic,
otherwise from the config's horizontal field of view.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sensor_msgs.msg import CameraInfo

from tvau_ros.core.ground_projection import Pose
from tvau_ros.core.pipeline import AnomalyPipeline
from tvau_ros.nodes.msg_conversion import camera_info_to_intrinsics, for_log

if TYPE_CHECKING:
    from rclpy.node import Node
    from rclpy.qos import QoSProfile

try:  # tf2_ros exists in real ROS installs only (not on PyPI)
    import tf2_ros  # type: ignore
except Exception:  # noqa: BLE001 - any import/ABI failure means "no tf"
    tf2_ros = None


def camera_info_topic_for(image_topic: str) -> str:
    """The image_transport convention: /ns/image_raw -> /ns/camera_info.

    >>> camera_info_topic_for("/front/image_raw"), camera_info_topic_for("image")
    ('/front/camera_info', 'camera_info')
    """
    head, _, _ = image_topic.rpartition("/")
    return f"{head}/camera_info" if head or image_topic.startswith("/") else "camera_info"


class CameraModel:
    """Feeds CameraInfo and tf poses of one camera into a pipeline; created on activate."""

    LOOKUP_PERIOD_S = 1.0

    def __init__(self, node: Node, pipeline: AnomalyPipeline, info_topic: str, qos: QoSProfile, ground_frame: str,
                 use_tf: bool):
        self.node, self.pipeline, self.ground_frame = node, pipeline, ground_frame
        self._info = None
        self._last_lookup = 0.0
        self._tf_warned = False
        self.subscription = node.create_subscription(CameraInfo, info_topic, self._on_info, qos) if info_topic else None
        self.tf_buffer = None
        if use_tf and tf2_ros is not None and ground_frame:
            self.tf_buffer = tf2_ros.Buffer()
            self._tf_listener = tf2_ros.TransformListener(self.tf_buffer, node)

    @property
    def uses_tf(self) -> bool:
        return self.tf_buffer is not None

    def _on_info(self, msg: CameraInfo) -> None:
        key = (tuple(msg.k), tuple(msg.d), msg.width, msg.height)
        if key == self._info:
            return
        try:
            camera = camera_info_to_intrinsics(msg)
        except ValueError as exc:
            self.node.get_logger().warning(f"ignoring CameraInfo: {for_log(exc)}")
            self._info = key
            return
        self._info = key
        self.pipeline.set_camera(camera)
        self.node.get_logger().info(f"camera intrinsics from CameraInfo: fx={camera.fx:.1f} fy={camera.fy:.1f} "
                                    f"({camera.width}x{camera.height})")

    def update_pose(self, camera_frame: str) -> None:
        """Refresh the camera pose from tf (at most once per second); keeps the last one on failure."""
        if self.tf_buffer is None or not camera_frame:
            return
        now = time.monotonic()
        if now - self._last_lookup < self.LOOKUP_PERIOD_S:
            return
        self._last_lookup = now
        try:
            from rclpy.time import Time

            tf = self.tf_buffer.lookup_transform(self.ground_frame, camera_frame, Time())
        except Exception as exc:  # noqa: BLE001 - tf2 raises several lookup exceptions
            if not self._tf_warned:
                self._tf_warned = True
                self.node.get_logger().warning(f"no tf {self.ground_frame} <- {for_log(camera_frame)} yet "
                                               f"({for_log(exc)}); "
                                               "using the static camera_pose")
            return
        t, q = tf.transform.translation, tf.transform.rotation
        self.pipeline.set_camera_pose(Pose.from_list([t.x, t.y, t.z, q.x, q.y, q.z, q.w]))

    def destroy(self) -> None:
        if self.subscription is not None:
            self.node.destroy_subscription(self.subscription)
            self.subscription = None
        self.tf_buffer = None
