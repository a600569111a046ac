"""Heatmap node: camera images in; heatmaps, overlays, anomaly events and diagnostics out.

A lifecycle node (``rclpy.lifecycle``): **configure** loads the pipeline config and the engine
(a failure, e.g. a missing checkpoint, is logged with its reason and the node stays
unconfigured, ready to be configured again); **activate** subscribes the camera and starts the
processing thread; **deactivate** stops both; **cleanup** drops the engine.

Threads: the executor runs the image callback, which only converts the message and hands the
frame to the pipeline (cheap, never blocks on inference); a processing thread runs the engine
on the newest complete clip and publishes. A slow engine makes the pipeline skip frames
(counted as dropped), never queue them.

Topics (relative names; run it in a namespace or remap):
  in:  ``image_topic`` (sensor_msgs/Image, or CompressedImage with ``compressed``), its CameraInfo
  out: ``~/heatmap`` (32FC1), ``~/heatmap_overlay`` (bgr8), ``~/events`` (tvau_msgs/AnomalyEvent),
       ``~/anomaly_points`` (geometry_msgs/PointStamped), ``/diagnostics``
  scene models (behaviour engine, ``scene_control``): parameter ``scene``, topic ``~/scene``
       (std_msgs/String), service ``~/learn_normal`` (tvau_msgs/srv/LearnNormal)

Run: ``tvau node heatmap --ros-args -p image_topic:=/camera/image_raw -p autostart:=true``
"""
from __future__ import annotations

import math
import sys
import threading
from typing import TYPE_CHECKING, Any

import rclpy
from rclpy.executors import SingleThreadedExecutor
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.exceptions import ParameterUninitializedException
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.parameter import Parameter
from sensor_msgs.msg import CompressedImage, Image
from tvau_msgs.msg import AnomalyEvent

from tvau_ros.core.overlay import render_overlay
from tvau_ros.core.engine_registry import EngineLoadError
from tvau_ros.core.pipeline import AnomalyPipeline
from tvau_ros.core.pipeline_config import load_pipeline_config
from tvau_ros.core.types import NS_PER_S, Evidence
from tvau_ros.nodes import msg_conversion as conv
from tvau_ros.nodes.camera_model import CameraModel, camera_info_topic_for
from tvau_ros.nodes.qos import qos_profile
from tvau_ros.nodes.scene_control import SceneControl
from tvau_ros.nodes.shutdown import init_node_process, spin_until_stopped

if TYPE_CHECKING:
    from lifecycle_msgs.srv import ChangeState

NODE_NAME = "tvau_heatmap"
OK, WARN, ERROR = 0, 1, 2

# name -> (default, description); an empty / zero value means "take it from the pipeline config"
PARAMETERS = {
    "config": ("", "pipeline config YAML ('' = the packaged default)"),
    "engine": ("", "override the config's engine: behaviour | ahd | motion_baseline"),
    "scene": ("", "behaviour engine: the waypoint's scene model, a name in scene_dir or a path ('' = config; "
              "settable at run time, also through the ~/scene topic)"),
    "scene_dir": ("", "behaviour engine: folder of scene models, where ~/learn_normal saves ('' = config)"),
    "checkpoint": ("", "AHD checkpoint path (selects engine ahd unless engine is set)"),
    "backend": ("", "AHD backend: torch | onnxruntime"),
    "device": ("", "AHD device: cpu | cuda"),
    "clip_length": (0, "frames per clip T (0 = config / engine)"),
    "stride": (0, "process every S-th frame (0 = config)"),
    "max_side": (0, "resize larger frames to this long side before the engine (0 = config)"),
    "image_topic": ("/camera/image_raw", "camera topic"),
    "compressed": (False, "subscribe sensor_msgs/CompressedImage on image_topic (far fewer bytes for large "
                   "frames; still use qos_reliability reliable for them)"),
    "camera_info_topic": ("", "CameraInfo topic ('' = sibling camera_info of image_topic, 'none' = off)"),
    "qos_reliability": ("best_effort", "camera subscription: best_effort (matches any camera) | reliable. Large "
                        "frames (e.g. 4000x3000) mostly never arrive best effort: one lost DDS fragment drops "
                        "the frame, unseen and uncounted; use reliable (with a reliable camera)"),
    "qos_depth": (5, "camera subscription history depth"),
    "output_reliability": ("reliable", "heatmap / overlay / events publishers: reliable | best_effort"),
    "output_depth": (5, "output publishers history depth"),
    "heatmap_scale": (1.0, "published heatmap size relative to the input image"),
    "heatmap_max_side": (1280, "cap on the published heatmap's long side (0 = none)"),
    "publish_overlay": (True, "publish ~/heatmap_overlay"),
    "overlay_alpha": (0.5, "overlay blend weight"),
    "ground_frame": ("", "frame of ground points ('' = config ground.frame_id)"),
    "use_tf": (True, "camera pose from tf2 when tf2_ros is installed"),
    "diagnostics_period_s": (1.0, "period of /diagnostics"),
    "autostart": (False, "configure and activate at start-up"),
}


class HeatmapNode(LifecycleNode):
    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any):
        super().__init__(node_name, **kwargs)
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        self.declare_parameter("camera_pose", Parameter.Type.DOUBLE_ARRAY, ParameterDescriptor(
            description="camera optical frame in ground_frame [x, y, z, qx, qy, qz, qw] (unset = config)"))
        self.pipeline: AnomalyPipeline | None = None
        self.scenes: SceneControl | None = None
        self.camera: CameraModel | None = None
        self._subscription = None
        self._outputs = {}
        self._diag_pub = None
        self._diag_timer = None
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._last_diag = {}
        self.last_error = ""
        self.refused_transitions = 0
        self._refuse_invalid_transition_ids()

    def _refuse_invalid_transition_ids(self) -> None:
        """Answer a ChangeState request whose numeric id is not valid in the current state with
        success=False. rclpy 7.1 lets its RCLError escape spin and end the process
        (ros2/rclpy#1209); requests by label are already checked by rclpy."""
        service = getattr(self, "_service_change_state", None)
        if service is None:
            return
        change_state = service.callback

        def checked(request: ChangeState.Request, response: ChangeState.Response) -> ChangeState.Response:
            valid = {t[0] for t in self._state_machine.available_transitions}
            if request.transition.label or request.transition.id in valid:
                try:
                    return change_state(request, response)
                except _rclpy.RCLError as exc:  # not expected once the id is checked; never fatal
                    reason = str(exc).splitlines()[0]
            else:
                reason = f"transition id {request.transition.id} is not valid in state " \
                         f"'{self._state_machine.current_state[1]}' (valid: {sorted(valid)})"
            self.refused_transitions += 1
            if self.refused_transitions in (1, 10, 100, 1000) or self.refused_transitions % 10000 == 0:
                self.get_logger().warning(f"refused lifecycle request ({self.refused_transitions} so far): {reason}")
            response.success = False
            return response

        service.callback = checked

    def param(self, name: str) -> Any:
        try:
            return self.get_parameter(name).value
        except ParameterUninitializedException:  # declared by type only (camera_pose) and never set
            return None

    # ------------------------------------------------------------ lifecycle

    def _pipeline_config(self) -> dict:
        overrides: dict = {}
        if self.param("engine"):
            overrides["engine"] = self.param("engine")
        elif self.param("checkpoint"):
            overrides["engine"] = "ahd"  # a checkpoint means the AHD engine (as in `tvau run`)
        ahd = {k: self.param(k) for k in ("checkpoint", "backend", "device") if self.param(k)}
        if ahd:
            overrides["ahd"] = ahd
        clip = {k: v for k, v in (("length", self.param("clip_length")), ("stride", self.param("stride"))) if v}
        if clip:
            overrides["clip"] = clip
        if self.param("max_side"):
            overrides["input"] = {"max_side": self.param("max_side")}
        ground = {}
        if self.param("ground_frame"):
            ground["frame_id"] = self.param("ground_frame")
        pose = self.param("camera_pose")
        if pose is not None and len(pose):
            ground["camera_pose"] = list(pose)
        if ground:
            overrides["ground"] = ground
        if self.param("scene"):
            overrides["scene"] = self.param("scene")
        if self.param("scene_dir"):
            overrides["behaviour"] = {"scene_dir": self.param("scene_dir")}
        return load_pipeline_config(self.param("config") or None, overrides)

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            period = float(self.param("diagnostics_period_s"))
            if not (period > 0 and math.isfinite(period)):
                raise ValueError(f"diagnostics_period_s must be a positive number of seconds, got {period}")
            cfg = self._pipeline_config()
            self.pipeline = AnomalyPipeline.from_config(cfg=cfg)
            out_qos = qos_profile(self.param("output_reliability"), self.param("output_depth"))
            qos_profile(self.param("qos_reliability"), self.param("qos_depth"))  # validate now, not on activate
        except Exception as exc:  # noqa: BLE001 - any failure: stay unconfigured, say why, allow a retry
            if not isinstance(exc, (EngineLoadError, ValueError, OSError)):
                exc = f"{type(exc).__name__}: {exc}"
            self.last_error = str(exc)
            self.get_logger().error(f"configure failed: {exc}")
            self.pipeline = None
            return TransitionCallbackReturn.FAILURE
        self.last_error = ""
        self._outputs = {
            "heatmap": self.create_lifecycle_publisher(Image, "~/heatmap", out_qos),
            "overlay": self.create_lifecycle_publisher(Image, "~/heatmap_overlay", out_qos),
            "events": self.create_lifecycle_publisher(AnomalyEvent, "~/events", qos_profile("reliable", 50)),
            "points": self.create_lifecycle_publisher(PointStamped, "~/anomaly_points", qos_profile("reliable", 20)),
        }
        self._diag_pub = self.create_lifecycle_publisher(DiagnosticArray, "/diagnostics", qos_profile("reliable", 10))
        self._diag_timer = self.create_timer(period, self._publish_diagnostics)
        self.scenes = SceneControl(self, self.pipeline, cfg)
        p = self.pipeline
        self.get_logger().info(f"configured: engine {p.engine.model_id}, clip {p.buffer.length} frames, "
                               f"stride {p.buffer.stride}")
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._start_processing()
        except Exception as exc:  # noqa: BLE001 - rclpy would swallow it silently
            self.get_logger().error(f"activate failed: {exc}")
            self._stop_processing()
            return TransitionCallbackReturn.FAILURE
        return super().on_activate(state)

    def _start_processing(self) -> None:
        topic = self.param("image_topic")
        msg_type = CompressedImage if self.param("compressed") else Image
        qos = qos_profile(self.param("qos_reliability"), self.param("qos_depth"))
        self.pipeline.reset()  # frames from before a pause must not share a clip with new ones
        self._subscription = self.create_subscription(msg_type, topic, self._on_image, qos)
        info_topic = self.param("camera_info_topic")
        base = topic[: -len("/compressed")] if msg_type is CompressedImage and topic.endswith("/compressed") else topic
        info_topic = "" if info_topic == "none" else (info_topic or camera_info_topic_for(base))
        ground = self.pipeline.cfg.ground
        self.camera = CameraModel(self, self.pipeline, info_topic, qos, ground.frame_id if ground else "",
                                  bool(self.param("use_tf")) and ground is not None)
        self._stop.clear()
        self._worker = threading.Thread(target=self._process_loop, name="tvau_heatmap_processing", daemon=True)
        self._worker.start()
        self.get_logger().info(f"active: {msg_type.__name__} on {self.resolve_topic_name(topic)} "
                               f"({self.param('qos_reliability')}, depth {self.param('qos_depth')})")

    def _stop_processing(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout=30)
            self._worker = None
        if self._subscription is not None:
            self.destroy_subscription(self._subscription)
            self._subscription = None
        if self.camera is not None:
            self.camera.destroy()
            self.camera = None

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_processing()
        self.get_logger().info("inactive")
        return super().on_deactivate(state)

    def _release(self) -> None:
        self._stop_processing()
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
            self._diag_timer = None
        for pub in list(self._outputs.values()) + ([self._diag_pub] if self._diag_pub else []):
            self.destroy_lifecycle_publisher(pub)
        self._outputs, self._diag_pub = {}, None
        if self.scenes is not None:
            self.scenes.destroy()
            self.scenes = None
        self.pipeline = None

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_shutdown(state)

    # ------------------------------------------------------------ input

    def _log_bad(self, kind: str, message: str) -> None:
        count = self.pipeline.count_rejected(kind or "decode")
        if count in (1, 10, 100, 1000) or count % 10000 == 0:
            self.get_logger().warning(f"bad input ({kind}, {count} so far): {message}")  # capped by conv

    def _on_image(self, msg: Image | CompressedImage) -> None:
        pipeline = self.pipeline
        if pipeline is None:
            return
        try:
            image = conv.decode_image_msg(msg)
        except conv.BadImage as exc:
            self._log_bad(exc.kind, str(exc))
            return
        stamp_ns = conv.stamp_to_ns(msg.header.stamp)
        if stamp_ns == 0:  # an unset header: it would open a clip window in 1970
            self._log_bad("stamp_zero", "header stamp is 0 (unset); frame dropped")
            return
        intake = pipeline.submit(image, stamp_ns, msg.header.frame_id)
        if intake.event in ("resolution_change", "stamp_reset"):
            self.get_logger().warning(conv.for_log(intake.message))  # once per change, not per frame
        elif not intake.accepted:
            count = pipeline.bad_input_count(intake.event)
            if count in (1, 10, 100, 1000) or count % 10000 == 0:
                self.get_logger().warning(f"frame dropped ({intake.event}, {count} so far): "
                                          f"{conv.for_log(intake.message)}")
        if intake.clip_due:
            self._wake.set()

    # ------------------------------------------------------------ processing

    def _process_loop(self) -> None:
        pipeline = self.pipeline
        while not self._stop.is_set():
            self._wake.wait(timeout=0.1)
            self._wake.clear()
            clip = pipeline.next_clip()
            if clip is None:
                continue
            if self.camera is not None:
                self.camera.update_pose(clip.frames[-1].frame_id)
            try:
                evidence = pipeline.process(clip)
            except Exception as exc:  # noqa: BLE001 - a failing engine must not kill the node
                errors = pipeline.record_engine_error()
                if errors in (1, 10, 100) or errors % 1000 == 0:
                    self.get_logger().error(f"engine failed on a clip ({errors} so far): {exc}")
                continue
            if evidence is not None:
                try:
                    self._publish(evidence)
                except Exception as exc:  # noqa: BLE001 - e.g. the context shut down mid-publish
                    if self._stop.is_set() or not self.context.ok():
                        return
                    self.get_logger().error(f"publishing failed: {exc}")

    def _output_size(self, source_hw: tuple[int, int]) -> tuple[int, int]:
        h, w = source_hw
        scale = float(self.param("heatmap_scale")) or 1.0
        cap = int(self.param("heatmap_max_side"))
        if cap and max(h, w) * scale > cap:
            scale = cap / max(h, w)
        return max(1, round(h * scale)), max(1, round(w * scale))

    def _publish(self, evidence: Evidence) -> None:
        pubs = self._outputs
        if not pubs:
            return
        frame = evidence.newest_frame
        size = self._output_size(frame.source_hw)
        pubs["heatmap"].publish(conv.heatmap_msg(evidence.heatmap, size, evidence.stamp_ns, evidence.frame_id))
        if self.param("publish_overlay"):
            bgr = render_overlay(frame.image, evidence.heatmap, evidence.regions, frame.source_hw, size,
                                 evidence.frame_score, float(self.param("overlay_alpha")),
                                 self.pipeline.cfg.regions.threshold)
            pubs["overlay"].publish(conv.numpy_to_image(bgr, "bgr8", conv.header(evidence.stamp_ns, evidence.frame_id)))
        pubs["events"].publish(conv.evidence_to_event(evidence))
        for point in conv.ground_points(evidence):
            pubs["points"].publish(point)
        for track_id in evidence.started_track_ids:
            self.get_logger().info(f"anomaly episode started: track {track_id}")
        for track_id in evidence.ended_track_ids:
            self.get_logger().info(f"anomaly episode ended: track {track_id}")
        now_ns = self.get_clock().now().nanoseconds
        self.pipeline.record_latency((now_ns - evidence.stamp_ns) / NS_PER_S)

    # ------------------------------------------------------------ diagnostics

    def _publish_diagnostics(self) -> None:
        if self.pipeline is None or self._diag_pub is None:
            return
        values = {**self.pipeline.diagnostics(), "refused_transitions": self.refused_transitions}
        last = self._last_diag
        level, notes = OK, []
        if values["engine_errors"] > last.get("engine_errors", 0):
            level, notes = ERROR, notes + ["engine errors"]
        for key, what in (("dropped_frames", "dropping frames"), ("bad_inputs", "bad input")):
            if values[key] > last.get(key, 0):
                level = max(level, WARN)
                notes.append(what)
        if values["processed_fps"] == 0.0 and values["accepted"] == last.get("accepted", 0):
            notes.append("no input")
        for warning in ("engine_scene_warning", "engine_detector_warning"):
            if values.get(warning):
                level = max(level, WARN)
                notes.append(str(values[warning]))
        message = ", ".join(notes) or "ok"
        self._last_diag = values
        self._diag_pub.publish(conv.diagnostics_msg(f"{self.get_name()}: anomaly pipeline",
                                                    values["model_id"], level, message, values,
                                                    self.get_clock().now().nanoseconds))


def main(argv: list[str] | None = None) -> int:
    """Run the node until Ctrl-C (``argv``: ROS arguments, e.g. ``--ros-args -p autostart:=true``)."""
    stop = init_node_process(argv if argv is not None else sys.argv)
    node = HeatmapNode()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        if node.param("autostart"):
            if node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
                node.trigger_activate()
            else:  # like a failed `ros2 lifecycle set configure`: stay up, unconfigured, for a retry
                node.get_logger().error("autostart: not activated; the node stays unconfigured "
                                        "until it is configured again")
        print("READY", flush=True)  # endpoints exist (tests and bringup wait for this line)
        spin_until_stopped(executor, stop)
    finally:
        node._release()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0

if __name__ == "__main__":
    sys.exit(main())
