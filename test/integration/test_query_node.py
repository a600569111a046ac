"""The query service over DDS: a replayed clip, the heatmap + query nodes in one process, a
query node of its own fed by topics (with a slow plug-in answerer), and this test as client.

Asks a multi-turn dialogue and gets grounded answers (service and action), then every bad
input of issue 17: empty, 100 kB, non-UTF-8 (from a C client) and non-English questions,
unknown and expired sessions, windows with no frames / in the future / reversed, a query
before any frame arrived and while the answerer loads, concurrent queries on one session, a
full queue, a timeout and a cancelled action; each gets success: false with a clear message
and the service keeps giving the same answers afterwards.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import rclpy
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.action import ActionClient
from sensor_msgs.msg import Image
from tvau_msgs.action import QueryAnomaly as QueryAction
from tvau_msgs.srv import QueryAnomaly

from tvau_ros.core.ground_projection import pose_from_height_pitch
from tvau_ros.io.sample_clip import generate_sample_clip
from tvau_ros.nodes.bringup import NodeProcess, ros_value
from tvau_ros.nodes.msg_conversion import diagnostics_to_dict, stamp_to_ns
from tvau_ros.nodes.qos import qos_profile

from peers.node_client import Collector, call, spin_until, start_node

PEERS = Path(__file__).parent / "peers"
CAMERA = "/tvau_qit/camera/image_raw"
SHARED = "/tvau_query/query"            # the query node inside the heatmap node's process
ALONE = "/tvau_query_alone/query"       # the query node of its own, fed by topics
POSE = pose_from_height_pitch(2.0, 25.0, x=1.0)
YES, NO, UNKNOWN = (QueryAnomaly.Response.JUDGMENT_YES, QueryAnomaly.Response.JUDGMENT_NO,
                    QueryAnomaly.Response.JUDGMENT_UNKNOWN)


def _process(name: str, code: str, params: dict, remap: str | None = None) -> NodeProcess:
    cmd = [sys.executable, "-c", code, "--ros-args"]
    for key, value in params.items():
        cmd += ["-p", f"{key}:={ros_value(value)}"]
    if remap:
        cmd += ["-r", f"__node:={remap}"]
    proc = NodeProcess(name, cmd).start()
    if not proc.wait_ready(90):
        proc.stop()
        raise RuntimeError(f"{name} did not start:\n{''.join(proc.lines)}")
    return proc


def ask(node, service: str, question: str, session: str = "", reset: bool = False, window=(0, 0)):
    request = QueryAnomaly.Request(question=question, session_id=session, reset=reset,
                                   window_start=Time(sec=window[0] // 10**9, nanosec=window[0] % 10**9),
                                   window_end=Time(sec=window[1] // 10**9, nanosec=window[1] % 10**9))
    return call(node, QueryAnomaly, service, request)


def ask_async(node, service: str, question: str, session: str):
    client = node.create_client(QueryAnomaly, service)
    assert client.wait_for_service(timeout_sec=30)
    return client.call_async(QueryAnomaly.Request(question=question, session_id=session))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    clip = generate_sample_clip(tmp_path_factory.mktemp("qit") / "sample.mp4", frames=90, anomaly_start=10)
    rclpy.init()
    node = rclpy.create_node("tvau_query_it_client")
    procs, early = [], {}
    try:
        alone = _process("query_alone", f"import sys; sys.path.insert(0, {str(PEERS)!r}); "
                         "from tvau_ros.nodes.query_node import main; sys.exit(main())", {
                             "answerer": "slow_answerer:make", "image_topic": CAMERA, "qos_reliability": "reliable",
                             "qos_depth": 100,
                             "answerer_options": json.dumps({"load_s": 4.0, "word_s": 0.02, "slow_word_s": 0.6}),
                             "session_ttl_s": 3.0, "workers": 1, "max_queue": 1, "timeout_s": 4.0,
                             "diagnostics_period_s": 0.5}, remap="tvau_query_alone")
        procs.append(alone)
        early["loading"] = ask(node, ALONE, "Is there any anomaly?")
        stack = _process("stack", "import sys; from tvau_ros.nodes.heatmap_and_query import main; sys.exit(main())", {
            # the motion baseline: this file tests the query service; the behaviour engine's own
            # end-to-end test with a learnt scene is test_node_scene_models.py
            "autostart": True, "engine": "motion_baseline", "image_topic": CAMERA, "qos_reliability": "reliable",
            "qos_depth": 100, "output_depth": 50,
            "diagnostics_period_s": 0.5, "ground_frame": "map", "camera_pose": [*POSE.translation, *POSE.rotation]})
        procs.append(stack)
        deadline = time.monotonic() + 60
        while "loading" in (early.setdefault("before_frames", ask(node, ALONE, "Is there any anomaly?")).error_message):
            assert time.monotonic() < deadline, "the slow answerer never finished loading"
            time.sleep(0.5)
            early["before_frames"] = ask(node, ALONE, "Is there any anomaly?")
        col = Collector(node)
        col.add(Image, CAMERA, qos_profile("reliable", 200))
        col.add(DiagnosticArray, "/diagnostics", qos_profile("reliable", 50))
        replay = start_node("replay", "tvau_replay_qit", {"source": str(clip.path), "topic": CAMERA,
                                                          "wait_for_subscribers": 3, "fps": 9.0})
        procs.append(replay)
        assert spin_until(node, lambda: any("REPLAY_DONE" in line for line in replay.lines), timeout=120)

        def status(name):
            found = [diagnostics_to_dict(m).get(name) for m in col.messages["/diagnostics"]]
            return next((s for s in reversed(found) if s), {})
        heat = lambda: status("tvau_heatmap: anomaly pipeline")  # noqa: E731
        assert spin_until(node, lambda: heat().get("accepted") == "90" and int(heat()["processed_frames"])
                          + int(heat()["dropped_frames"]) == 90, timeout=60), heat()
        mirror = lambda: status("tvau_query_alone: query service")  # noqa: E731
        assert spin_until(node, lambda: int(mirror().get("events_assembled", 0)) >= int(heat()["processed"]) - 2,
                          timeout=30), json.dumps({"query_alone": mirror(), "heatmap": heat()})
        camera = [stamp_to_ns(m.header.stamp) for m in col.messages[CAMERA]]
        yield node, camera, early, status, clip
    finally:
        for proc in reversed(procs):
            proc.stop()
        node.destroy_node()
        rclpy.shutdown()


def test_multi_turn_dialogue_gets_grounded_answers(stack):
    node, camera, *_ = stack
    first = ask(node, SHARED, "Is there any anomaly in the video?", "op", reset=True,
                window=(camera[0], camera[-1]))
    assert first.success and first.judgment == YES and first.confidence > 0.5, first.error_message
    assert first.answer.startswith("Yes, an anomaly occurs from")
    assert camera[0] <= stamp_to_ns(first.window_start) <= stamp_to_ns(first.window_end) <= camera[-1]
    look = ask(node, SHARED, "What does it look like?", "op")
    assert look.success and "red top" in look.answer and look.track_id > 0, look
    went = ask(node, SHARED, "and where did it go?", "op")   # a follow-up: the same target, its whole path
    assert went.success and went.track_id == look.track_id
    # the runner leaves on the right; the motion baseline may first see it just inside the left border
    assert "exits on the right" in went.answer and ("enters from the left" in went.answer
                                                   or "already inside" in went.answer), went.answer
    where = ask(node, SHARED, "Where is it now?", "op")
    assert where.success and "of the image" in where.answer and "in map" in where.answer, where.answer
    assert where.regions and where.regions[0].track_id == look.track_id and where.regions[0].has_ground_point
    for answer in (first, look, went, where):
        assert list(answer.flagged_claims) == []


def test_action_streams_partial_answers_as_feedback(stack):
    node, *_ = stack
    client = ActionClient(node, QueryAction, SHARED)
    assert client.wait_for_server(timeout_sec=30)
    feedback = []
    goal = client.send_goal_async(QueryAction.Goal(question="Where did it come from and where did it go?"),
                                  feedback_callback=lambda msg: feedback.append(msg.feedback.partial_answer))
    assert spin_until(node, goal.done) and goal.result().accepted
    result = goal.result().get_result_async()
    assert spin_until(node, result.done)
    answer = result.result().result
    assert answer.success and "exits on the right" in answer.answer
    assert feedback and feedback[-1] == answer.answer and all(answer.answer.startswith(f) for f in feedback)


def test_query_node_of_its_own_answers_from_the_topics(stack):
    node, camera, *_ = stack
    judged = ask(node, ALONE, "Is there any anomaly?", window=(camera[0], camera[-1]))
    assert judged.success and judged.judgment == YES, judged.error_message
    look = ask(node, ALONE, "What does the abnormal target look like?", window=(camera[0], camera[-1]))
    assert look.success and "red top" in look.answer, look.answer
    went = ask(node, ALONE, "From where to where does the abnormal target move?", window=(camera[0], camera[-1]))
    assert "exits on the right" in went.answer and list(went.flagged_claims) == [], went


def test_a_query_while_the_answerer_loads_and_before_any_frame_is_refused_clearly(stack):
    *_, early, _, _ = stack
    assert not early["loading"].success and "still loading" in early["loading"].error_message
    assert not early["before_frames"].success
    assert "no frame has been processed yet" in early["before_frames"].error_message
    assert early["loading"].judgment == UNKNOWN


@pytest.fixture(scope="module")
def raw_client(tmp_path_factory):
    """The C client (rcl), compiled against the venv's ROS headers."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler to build the raw-bytes client")
    import sysconfig

    prefix, libpython = Path(sys.prefix), sysconfig.get_config_var("LIBDIR")
    out = tmp_path_factory.mktemp("c") / "raw_query_client"
    includes = [f"-I{d}" for d in sorted((prefix / "include").iterdir()) if d.is_dir()]
    subprocess.run([compiler, "-o", str(out), str(PEERS / "raw_query_client.c"), *includes, f"-L{prefix / 'lib'}",
                    "-lrcl", "-lrcutils", "-lrmw", "-lrosidl_runtime_c", "-ltvau_msgs__rosidl_generator_c",
                    "-ltvau_msgs__rosidl_typesupport_c", f"-L{libpython}", "-Wl,--no-as-needed", "-lpython3.11",
                    f"-Wl,-rpath,{libpython}",
                    "-Wl,--allow-shlib-undefined"], check=True)
    return out


def test_bad_questions_are_refused_and_the_service_keeps_serving(stack, raw_client):
    node, camera, *_ = stack
    window = (camera[0], camera[-1])
    before = ask(node, SHARED, "What does the abnormal target look like?", window=window)
    cases = {"": "empty", "Is there an anomaly? " * 5000: "characters long",
             "¿Hay alguna anomalía en el vídeo?": "only English", "视频里有异常吗？": "only English"}
    for question, expected in cases.items():
        reply = ask(node, SHARED, question)
        assert not reply.success and expected in reply.error_message, (question[:40], reply.error_message)
        assert reply.judgment == UNKNOWN and reply.answer == ""
    raw = subprocess.run([str(raw_client), SHARED, b"Is there \xff\xfe an anomaly?".hex()], capture_output=True,
                         text=True, timeout=60, env=os.environ.copy())
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout.startswith("success=0") and "not valid UTF-8" in raw.stdout, raw.stdout
    after = ask(node, SHARED, "What does the abnormal target look like?", window=window)
    assert after.success and (after.answer, after.window_start, after.track_id) == (before.answer, before.window_start,
                                                                                    before.track_id)


def test_unknown_and_expired_sessions(stack):
    node, *_ = stack
    unknown = ask(node, SHARED, "What does it look like?", "never-opened")
    assert not unknown.success and "unknown session 'never-opened'" in unknown.error_message
    opened = ask(node, ALONE, "Is there any anomaly?", "short", reset=True)
    assert opened.success, opened.error_message
    time.sleep(4.0)   # session_ttl_s is 3 on this node
    expired = ask(node, ALONE, "and where did it go?", "short")
    assert not expired.success and "expired" in expired.error_message and "reset" in expired.error_message


def test_windows_with_no_frames_in_the_future_or_reversed(stack):
    node, camera, *_ = stack
    s = 10**9
    cases = {(camera[0] - 100 * s, camera[0] - 90 * s): "no processed frames between",
             (camera[-1] + 60 * s, camera[-1] + 70 * s): "after the newest processed frame",
             (camera[-1], camera[0]): "reversed"}
    for window, expected in cases.items():
        reply = ask(node, SHARED, "Is there any anomaly?", window=window)
        assert not reply.success and expected in reply.error_message, (window, reply.error_message)


def test_concurrent_queries_on_one_session_and_a_full_queue(stack):
    node, *_ = stack
    assert ask(node, ALONE, "Is there any anomaly?", "busy", reset=True).success
    first = ask_async(node, ALONE, "Is there any anomaly? slowly please", "busy")
    time.sleep(0.5)
    second = ask_async(node, ALONE, "What does it look like?", "busy")
    assert spin_until(node, second.done, timeout=30)
    assert not second.result().success and "answering another question" in second.result().error_message
    # workers 1 + max_queue 1: with the slow one still running, two more on other sessions overflow
    more = [ask_async(node, ALONE, "Is there any anomaly? slowly please", "") for _ in range(2)]
    assert spin_until(node, lambda: first.done() and all(f.done() for f in more), timeout=60)
    replies = [f.result() for f in more]
    refused = [r for r in replies if not r.success and r.error_message.startswith("busy:")]
    assert refused, [r.error_message for r in replies]
    slow = [r for r in [first.result()] + replies if not r.error_message.startswith("busy:")]
    assert all(not r.success and "timeout_s" in r.error_message for r in slow), [r.error_message for r in slow]


def test_a_cancelled_action_reports_it_and_the_node_keeps_serving(stack):
    node, *_ = stack
    time.sleep(1.0)  # let the timed-out answers of the previous test finish their last word
    client = ActionClient(node, QueryAction, ALONE)
    assert client.wait_for_server(timeout_sec=30)
    feedback = []
    goal = client.send_goal_async(QueryAction.Goal(question="Is there any anomaly? slowly please"),
                                  feedback_callback=lambda msg: feedback.append(msg.feedback.partial_answer))
    assert spin_until(node, goal.done) and goal.result().accepted
    handle = goal.result()
    assert spin_until(node, lambda: len(feedback) >= 1, timeout=30)
    cancel = handle.cancel_goal_async()
    assert spin_until(node, cancel.done)
    result = handle.get_result_async()
    assert spin_until(node, result.done, timeout=30)
    outcome = result.result()
    assert outcome.status == 5 and not outcome.result.success  # GoalStatus.STATUS_CANCELED
    assert "cancelled" in outcome.result.error_message
    time.sleep(1.0)
    assert ask(node, ALONE, "Is there any anomaly?").success


def test_diagnostics_count_answers_errors_and_checked_claims(stack):
    node, *_, status, _ = stack
    time.sleep(1.2)
    shared, alone = status("tvau_query: query service"), status("tvau_query_alone: query service")
    assert int(shared["answers"]) >= 6 and int(shared["errors_bad_question"]) >= 5
    assert int(shared["errors_unknown_session"]) >= 1 and int(shared["errors_bad_window"]) >= 2
    assert int(shared["claims_checked"]) > 0 and shared["answerer_state"] == "ready"
    assert int(alone["errors_busy"]) >= 1 and int(alone["errors_timeout"]) >= 1 and int(alone["errors_cancelled"]) >= 1
