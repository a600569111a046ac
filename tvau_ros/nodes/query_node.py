"""Query node: questions about the anomaly evidence, answered as a service and as an action.

Serves ``~/query`` (tvau_msgs/srv/QueryAnomaly) and the ``~/query`` action
(tvau_msgs/action/QueryAnomaly: the answer so far as feedback, cancel honoured) with the
dialogue of ``tvau_ros.core.dialogue`` (sessions, windows, grounded answers, checked claims).

Where the evidence comes from:
- in the heatmap node's process (``tvau_ros.nodes.heatmap_and_query``, the default
  deployment): the heatmap node's own pipeline and evidence store, shared;
- on its own (``tvau node query`` / ``query_node``): rebuilt from the heatmap node's topics
  (``events_topic``, ``heatmap_topic``) and the camera (``image_topic``) for the pixels.

Threads: callbacks run in a reentrant group of a multi-threaded executor and hand each question
to a bounded worker pool (``workers`` + ``max_queue``); a full pool answers "busy" at once, an
answer that takes longer than ``timeout_s`` is cancelled and reported. Errors are
``success: false`` with a message; they are counted in ``/diagnostics`` and nothing stored
is touched. The answerer (``answerer``: ``grounded``, ``qwen2_5_vl`` or ``package.module:callable``)
loads in the background; questions meanwhile get "still loading".

Run: ``tvau node query --ros-args -p image_topic:=/camera/image_raw``
"""
from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image
from tvau_msgs.action import QueryAnomaly as QueryAction
from tvau_msgs.msg import AnomalyEvent
from tvau_msgs.srv import QueryAnomaly

from tvau_ros.core.dialogue.answerers import ANSWERERS, AnswererSlot, build_answerer
from tvau_ros.core.dialogue.dialogue import Answer, Dialogue, DialogueConfig, QueryError
from tvau_ros.core.dialogue.evidence_view import EvidenceSource
from tvau_ros.core.dialogue.mirror import EvidenceMirror
from tvau_ros.core.dialogue.worker import Busy, QueryWorker
from tvau_ros.nodes import msg_conversion as conv
from tvau_ros.nodes.qos import qos_profile
from tvau_ros.nodes.shutdown import StopRequest, init_node_process, spin_until_stopped

if TYPE_CHECKING:
    from rclpy.action.server import ServerGoalHandle

NODE_NAME = "tvau_query"
OK, WARN, ERROR = 0, 1, 2

PARAMETERS = {
    "answerer": ("grounded", "grounded | qwen2_5_vl | package.module:callable"),
    "answerer_options": ("", "JSON object of keyword options for the answerer (e.g. model folder)"),
    "timeout_s": (10.0, "an answer taking longer is cancelled and reported as timed out"),
    "workers": (1, "questions answered at the same time"),
    "max_queue": (4, "questions that may wait for a worker; more are refused as busy"),
    "max_sessions": (64, "open sessions kept (the least recently used is closed first)"),
    "session_ttl_s": (600.0, "a session without a question for this long expires"),
    "history_turns": (8, "question/answer pairs kept per session"),
    "max_question_chars": (2000, "longer questions are refused"),
    "anchors": ("time", "times in answers: time (seconds / time of day) | frames (frame numbers)"),
    "diagnostics_period_s": (1.0, "period of /diagnostics"),
    "prefetch_period_s": (0.5, "measure new anomalous frames this often while idle, so answers only "
                               "aggregate (0 = measure when asked)"),
    # on its own: the heatmap node's outputs and the camera
    "events_topic": ("/tvau_heatmap/events", "AnomalyEvent topic of the heatmap node (own process only)"),
    "heatmap_topic": ("/tvau_heatmap/heatmap", "32FC1 heatmap topic of the heatmap node (own process only)"),
    "image_topic": ("/camera/image_raw", "camera topic, for the pixels (own process only)"),
    "compressed": (False, "the camera topic is sensor_msgs/CompressedImage (own process only)"),
    "qos_reliability": ("best_effort", "camera subscription reliability (own process only)"),
    "qos_depth": (10, "camera subscription history depth; the heatmap and events subscriptions keep "
                      "at least 50 (own process only)"),
    "config": ("", "pipeline config YAML: threshold, smoothing, max_side, evidence limits (own process only)"),
    "buffer_frames": (300, "camera frames kept to rebuild clips (own process only)"),
}


class QueryNode(Node):
    def __init__(self, source: EvidenceSource | None = None, node_name: str = NODE_NAME, **kwargs: Any):
        super().__init__(node_name, **kwargs)
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        p = {name: self.get_parameter(name).value for name in PARAMETERS}
        timeout = float(p["timeout_s"])
        if not (timeout > 0 and math.isfinite(timeout)):
            raise ValueError(f"timeout_s must be a positive number of seconds, got {p['timeout_s']}")
        self.timeout_s = timeout
        try:
            options = json.loads(p["answerer_options"]) if p["answerer_options"] else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"answerer_options is not JSON: {exc}") from None
        if not isinstance(options, dict):
            raise ValueError(f"answerer_options must be a JSON object, got {p['answerer_options']!r}")
        config = DialogueConfig(history_turns=p["history_turns"], max_sessions=p["max_sessions"],
                                session_ttl_s=float(p["session_ttl_s"]), max_question_chars=p["max_question_chars"],
                                anchors=p["anchors"])
        self.worker = QueryWorker(p["workers"], p["max_queue"])
        self.mirror = None
        if source is None:
            self.mirror = source = self._mirror(p)
        name = p["answerer"]
        if ":" not in name and name not in ANSWERERS:
            raise ValueError(f"unknown answerer {name!r}; choose one of {', '.join(sorted(ANSWERERS))} "
                             "or give package.module:callable")
        self.answerer = AnswererSlot(lambda: build_answerer(name, **options), name).start()
        self.dialogue = Dialogue(source, self.answerer, config)
        group = ReentrantCallbackGroup()
        self.create_service(QueryAnomaly, "~/query", self._on_service, callback_group=group)
        self._action = ActionServer(self, QueryAction, "~/query", execute_callback=self._on_goal,
                                    goal_callback=lambda _goal: GoalResponse.ACCEPT,
                                    cancel_callback=lambda _handle: CancelResponse.ACCEPT, callback_group=group)
        period = float(p["diagnostics_period_s"])
        if not (period > 0 and math.isfinite(period)):
            raise ValueError(f"diagnostics_period_s must be a positive number of seconds, got {period}")
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", qos_profile("reliable", 10))
        self.create_timer(period, self._publish_diagnostics)
        prefetch = float(p["prefetch_period_s"])
        if not (prefetch >= 0 and math.isfinite(prefetch)):
            raise ValueError(f"prefetch_period_s must be >= 0 seconds, got {prefetch}")
        if prefetch:
            self.create_timer(prefetch, self._prefetch)
        self.get_logger().info(f"serving {self.resolve_service_name('~/query')} (service and action), "
                               f"answerer {name}, evidence {'from topics' if self.mirror else 'shared'}")

    # ------------------------------------------------------------ evidence from topics

    def _mirror(self, p: dict) -> EvidenceMirror:
        from tvau_ros.core.pipeline_config import PipelineConfig, load_pipeline_config

        cfg = PipelineConfig.from_dict(load_pipeline_config(p["config"] or None))
        mirror = EvidenceMirror(max_side=cfg.max_side, buffer_frames=int(p["buffer_frames"]),
                                max_items=cfg.evidence_max_items, max_bytes=cfg.evidence_max_bytes,
                                threshold=cfg.regions.threshold, smoothing_sigma=cfg.regions.smoothing_sigma)
        inputs = MutuallyExclusiveCallbackGroup()
        camera_type = CompressedImage if p["compressed"] else Image
        # an event is mirrored only once its image, heatmap and event all arrived: a query node
        # starved of CPU for a second must not lose one of the three to a short history
        depth = int(p["qos_depth"])
        self.create_subscription(camera_type, p["image_topic"], self._on_image,
                                 qos_profile(p["qos_reliability"], depth), callback_group=inputs)
        self.create_subscription(Image, p["heatmap_topic"], self._on_heatmap,
                                 qos_profile("reliable", max(50, depth)), callback_group=inputs)
        self.create_subscription(AnomalyEvent, p["events_topic"], self._on_event,
                                 qos_profile("reliable", max(50, depth)), callback_group=inputs)
        return mirror

    def _on_image(self, msg: Image | CompressedImage) -> None:
        try:
            image = conv.decode_image_msg(msg)
        except conv.BadImage as exc:
            self.get_logger().warning(f"camera image skipped ({exc.kind}): {exc}", throttle_duration_sec=10.0)
            return
        self.mirror.add_image(conv.stamp_to_ns(msg.header.stamp), msg.header.frame_id, image)

    def _on_heatmap(self, msg: Image) -> None:
        from tvau_ros.nodes.image_conversion import image_to_numpy

        try:
            heatmap = image_to_numpy(msg)
        except ValueError as exc:
            self.get_logger().warning(f"heatmap skipped: {exc}", throttle_duration_sec=10.0)
            return
        self.mirror.add_heatmap(conv.stamp_to_ns(msg.header.stamp), heatmap)

    def _on_event(self, msg: AnomalyEvent) -> None:
        event = conv.event_to_dict(msg)
        self.mirror.add_event(event, [conv.region_from_msg(r) for r in msg.regions])

    # ------------------------------------------------------------ answering

    def _run(self, request: QueryAnomaly.Request | QueryAction.Goal, on_text: Callable[[str], None] | None = None,
             cancelled: Callable[[], bool] = lambda: False) -> tuple[Answer | None, str]:
        """Check on this thread, answer on a worker; (answer, "") or (None, the error message)."""
        cancel = threading.Event()
        window = (conv.stamp_to_ns(request.window_start), conv.stamp_to_ns(request.window_end))
        try:
            pending = self.dialogue.open_turn(request.question, request.session_id, request.reset)
        except QueryError as exc:
            return None, str(exc)
        try:
            future = self.worker.submit(lambda: self.dialogue.answer(pending, window, on_text, cancel))
        except Busy as exc:
            pending.release()
            self.dialogue.stats.error("busy")
            return None, str(exc)
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                return future.result(timeout=0.05), ""
            except FutureTimeout:
                if cancelled():
                    cancel.set()
                    self.dialogue.stats.error("cancelled")
                    return None, "cancelled by the client"
                if time.monotonic() > deadline:
                    cancel.set()
                    self.dialogue.stats.error("timeout")
                    return None, f"no answer within timeout_s = {self.timeout_s:g} s; the question was cancelled"
            except QueryError as exc:
                return None, str(exc)
            except Exception as exc:  # noqa: BLE001 - an answerer bug must not take the service down
                self.dialogue.stats.error("internal")
                self.get_logger().error(f"answering failed: {type(exc).__name__}: {exc}")
                return None, f"internal error while answering: {type(exc).__name__}: {exc}"

    @staticmethod
    def _fill(out: QueryAnomaly.Response | QueryAction.Result, answer: Answer | None,
              error: str) -> QueryAnomaly.Response | QueryAction.Result:
        out.success = answer is not None
        out.error_message = error
        if answer is None:
            out.judgment = QueryAnomaly.Response.JUDGMENT_UNKNOWN
            return out
        out.answer = answer.text
        out.judgment = (QueryAnomaly.Response.JUDGMENT_YES if answer.judgment == "yes"
                        else QueryAnomaly.Response.JUDGMENT_NO)
        out.confidence = float(answer.confidence)
        out.regions = [conv.region_msg(r, answer.window_end_ns) for r in answer.regions]
        out.track_id = int(answer.track_id)
        out.window_start = conv.ns_to_stamp(answer.window_start_ns)
        out.window_end = conv.ns_to_stamp(answer.window_end_ns)
        out.flagged_claims = list(answer.flagged_claims)
        return out

    def _log(self, request: QueryAnomaly.Request | QueryAction.Goal, answer: Answer | None, error: str) -> None:
        if answer is None:
            self.get_logger().warning(f"query refused: {error} (question {request.question[:80]!r})")
        elif answer.flagged_claims:
            self.get_logger().warning(f"answer has claims the evidence contradicts: {answer.flagged_claims}")

    def _on_service(self, request: QueryAnomaly.Request, response: QueryAnomaly.Response) -> QueryAnomaly.Response:
        answer, error = self._run(request)
        self._log(request, answer, error)
        return self._fill(response, answer, error)

    def _on_goal(self, goal_handle: ServerGoalHandle) -> QueryAction.Result:
        request = goal_handle.request

        def feedback(text: str) -> None:
            goal_handle.publish_feedback(QueryAction.Feedback(partial_answer=text))

        answer, error = self._run(request, on_text=feedback, cancelled=lambda: goal_handle.is_cancel_requested)
        self._log(request, answer, error)
        result = self._fill(QueryAction.Result(), answer, error)
        if answer is not None:
            goal_handle.succeed()
        elif goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        return result

    def _prefetch(self) -> None:
        """Measure new anomalous frames on the worker while no question is waiting."""
        if self.worker.in_flight:
            return

        def job() -> None:
            try:
                self.dialogue.prefetch()
            except Exception as exc:  # noqa: BLE001 - a failed prefetch only costs the next answer time
                self.get_logger().warning(f"prefetch failed: {exc}", throttle_duration_sec=30.0)
        try:
            self.worker.submit(job)
        except Busy:
            pass

    # ------------------------------------------------------------ diagnostics

    def diagnostics_values(self) -> dict:
        values = self.dialogue.stats.snapshot()
        values.update(answerer=self.answerer.name, answerer_state=self.answerer.state,
                      sessions=len(self.dialogue.sessions()), in_flight=self.worker.in_flight,
                      cached_frames=len(self.dialogue.cache))
        if self.mirror is not None:
            values.update(evidence_items=len(self.mirror.store), events_assembled=self.mirror.assembled,
                          events_incomplete=self.mirror.incomplete)
        return values

    def _publish_diagnostics(self) -> None:
        values = self.diagnostics_values()
        level = ERROR if values["answerer_state"] == "failed" else (WARN if values["claims_flagged"] else OK)
        message = {"loading": "answerer loading",
                   "failed": "answerer failed to load"}.get(values["answerer_state"], "ok")
        self._diag_pub.publish(conv.diagnostics_msg(f"{self.get_name()}: query service", values["answerer"],
                                                    level, message, values, self.get_clock().now().nanoseconds))

    def destroy_node(self) -> None:
        self.worker.shutdown()
        return super().destroy_node()


def executor_for(node: QueryNode, extra_threads: int = 2) -> MultiThreadedExecutor:
    """Enough threads for every admitted question to wait on its answer and still serve the rest."""
    return MultiThreadedExecutor(num_threads=node.worker.workers + node.worker.max_queue + 2 + extra_threads)


def spin_nodes(executor: MultiThreadedExecutor, nodes: list, stop: StopRequest,
               on_start: Callable[[], None] | None = None, on_stop: Callable[[], None] | None = None) -> int:
    """Spin ``nodes`` until Ctrl-C / SIGTERM, printing READY once they exist (tests and bringup wait for it)."""
    for node in nodes:
        executor.add_node(node)
    try:
        if on_start is not None:
            on_start()
        print("READY", flush=True)
        spin_until_stopped(executor, stop)
    finally:
        executor.shutdown()
        if on_stop is not None:
            on_stop()
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the query node on its own, fed by the heatmap node's topics, until Ctrl-C."""
    stop = init_node_process(argv if argv is not None else sys.argv)
    try:
        node = QueryNode()
    except Exception as exc:  # noqa: BLE001 - a bad parameter (value or type): one line, exit 2
        print(f"tvau query node: error: {exc}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    return spin_nodes(executor_for(node), [node], stop)

if __name__ == "__main__":
    sys.exit(main())
