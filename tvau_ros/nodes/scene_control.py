"""The heatmap node's scene controls (behaviour engine): which waypoint's scene model scores the
stream, and learning a new one on the spot.

* parameter ``scene`` (settable at run time) and topic ``~/scene`` (std_msgs/String, e.g. from
  the robot's mission planner on arrival at a waypoint): switch to ``<scene_dir>/<name>``; an
  empty name means the generic model. A model that cannot be loaded leaves the generic model
  in use; /diagnostics says so (``engine_scene_warning``).
* service ``~/learn_normal`` (tvau_msgs/srv/LearnNormal): START learns from the frames to come
  (for ``duration_s`` or until STOP), STOP fits and saves the model (and switches to it with
  ``activate``), CANCEL drops the session. Fitting runs in the service call: a few seconds
  for two minutes of footage, during which new camera frames wait.

Only the thin ROS side lives here; ``tvau_ros.core.behaviour.scenes.SceneManager`` does the work.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from rcl_interfaces.msg import SetParametersResult
from std_msgs.msg import String
from tvau_msgs.srv import LearnNormal

from tvau_ros.core.behaviour.engine import BehaviourEngine
from tvau_ros.core.behaviour.scenes import SceneManager, SceneRequestError
from tvau_ros.core.engine_registry import scene_dir
from tvau_ros.nodes.msg_conversion import for_log
from tvau_ros.nodes.qos import qos_profile

if TYPE_CHECKING:
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from tvau_ros.core.pipeline import AnomalyPipeline

NOT_BEHAVIOUR = "scene models need the behaviour engine (engine: behaviour); this node runs {model}"


class SceneControl:
    def __init__(self, node: Node, pipeline: AnomalyPipeline, cfg: dict):
        self.node = node
        engine = pipeline.engine
        self.manager = SceneManager(engine, scene_dir(cfg)) if isinstance(engine, BehaviourEngine) else None
        self.model_id = engine.model_id
        self._service = node.create_service(LearnNormal, "~/learn_normal", self._on_learn)
        self._topic = node.create_subscription(String, "~/scene", self._on_scene_topic, qos_profile("reliable", 5))
        self._timer = node.create_timer(0.5, self._finish_timed_learning)
        node.add_on_set_parameters_callback(self._on_parameters)

    def destroy(self) -> None:
        self.node.destroy_service(self._service)
        self.node.destroy_subscription(self._topic)
        self.node.destroy_timer(self._timer)
        self.node.remove_on_set_parameters_callback(self._on_parameters)

    def _now_s(self) -> float:
        return self.node.get_clock().now().nanoseconds / 1e9

    def _switch(self, name: str) -> tuple[bool, str]:
        if self.manager is None:
            return False, NOT_BEHAVIOUR.format(model=self.model_id)
        message = self.manager.switch(name)
        ok = not message.endswith("using the generic model") or not name
        if ok:
            self.node.get_logger().info(f"scene: {for_log(message)}")
        else:  # rclpy forbids two severities at one call site
            self.node.get_logger().warning(f"scene: {for_log(message)}")
        return ok, message

    def _on_scene_topic(self, msg: String) -> None:
        self._switch(msg.data.strip())

    def _on_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        for parameter in parameters:
            if parameter.name == "scene":
                if not isinstance(parameter.value, str):
                    return SetParametersResult(successful=False, reason="scene must be a string")
                _, message = self._switch(parameter.value.strip())
                if self.manager is None:
                    return SetParametersResult(successful=False, reason=message)
        return SetParametersResult(successful=True)

    def _on_learn(self, request: LearnNormal.Request, response: LearnNormal.Response) -> LearnNormal.Response:
        response.success = False
        if self.manager is None:
            response.message = NOT_BEHAVIOUR.format(model=self.model_id)
            return response
        try:
            if request.command == LearnNormal.Request.START:
                response.message = self.manager.start_learning(request.scene.strip(), float(request.duration_s),
                                                               bool(request.activate), self._now_s())
            elif request.command == LearnNormal.Request.STOP:
                learned = self.manager.stop()
                response.model_path, response.frames_used, response.tracks_used = (
                    str(learned.path), learned.frames, learned.tracks)
                response.message = "saved " + str(learned.path) + "".join(f"; warning: {w}" for w in learned.warnings)
            elif request.command == LearnNormal.Request.CANCEL:
                response.message = self.manager.cancel()
            else:
                raise SceneRequestError(f"unknown command {request.command} (START=0, STOP=1, CANCEL=2)")
        except SceneRequestError as exc:
            response.message = str(exc)
            self.node.get_logger().warning(f"learn_normal: {for_log(response.message)}")
            return response
        except OSError as exc:
            response.message = f"cannot save the scene model: {exc}"
            self.node.get_logger().error(f"learn_normal: {for_log(response.message)}")
            return response
        response.success = True
        self.node.get_logger().info(f"learn_normal: {for_log(response.message)}")
        return response

    def _finish_timed_learning(self) -> None:
        if self.manager is None or not self.manager.due(self._now_s()):
            return
        try:
            learned = self.manager.stop()
            self.node.get_logger().info(f"learn_normal: saved {learned.path} ({learned.frames} frames, "
                                        f"{learned.tracks} tracks)"
                                        + "".join(f"; warning: {w}" for w in learned.warnings))
        except (SceneRequestError, OSError) as exc:
            self.node.get_logger().error(f"learn_normal: {for_log(str(exc))}")
