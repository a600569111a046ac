"""The heatmap node's scene models, for real: learn a waypoint's normal over ~/learn_normal from
frames this test publishes as the camera, switch scenes by topic and parameter, and survive
missing or corrupt models (the node stays up on the generic model and says so in /diagnostics)."""
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image
from std_msgs.msg import String
from tvau_msgs.srv import LearnNormal

from tvau_ros.core.types import NS_PER_S
from tvau_ros.io.sample_clip import render_sample_clip
from tvau_ros.nodes.image_conversion import numpy_to_image
from tvau_ros.nodes.msg_conversion import diagnostics_to_dict, ns_to_stamp
from tvau_ros.nodes.qos import qos_profile

from peers.node_client import Collector, call, set_params, spin_for, spin_until, start_node

NODE = "tvau_heatmap_scenes"
TOPIC = "/tvau_scenes/image_raw"
STATUS = f"{NODE}: anomaly pipeline"
FRAMES, _ = render_sample_clip(frames=150, anomaly_start=10_000, walkers=4, seed=3)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    scene_dir = tmp_path_factory.mktemp("scenes")
    rclpy.init()
    node = rclpy.create_node("tvau_scenes_test")
    proc = start_node("heatmap", NODE, {"image_topic": TOPIC, "engine": "behaviour", "scene_dir": str(scene_dir),
                                        "autostart": True, "qos_depth": 30, "diagnostics_period_s": 0.3})
    col = Collector(node).add(DiagnosticArray, "/diagnostics", qos_profile("reliable", 50))
    camera = node.create_publisher(Image, TOPIC, qos_profile("reliable", 30))
    scene_pub = node.create_publisher(String, f"/{NODE}/scene", qos_profile("reliable", 5))
    assert spin_until(node, lambda: camera.get_subscription_count() > 0 and col.matched())
    state = {"stamp": 1_000 * NS_PER_S, "i": 0}

    def stream(count: int) -> None:
        for _ in range(count):
            msg = numpy_to_image(FRAMES[state["i"] % len(FRAMES)], "rgb8")
            state["stamp"] += NS_PER_S // 15
            state["i"] += 1
            msg.header.stamp, msg.header.frame_id = ns_to_stamp(state["stamp"]), "cam"
            camera.publish(msg)
            spin_for(node, 1 / 15)

    try:
        yield node, proc, col, stream, scene_pub, scene_dir
    finally:
        col.close()
        proc.stop()
        node.destroy_node()
        rclpy.try_shutdown()


def learn(node, command, scene="", duration_s=0.0, activate=False):
    request = LearnNormal.Request(command=command, scene=scene, duration_s=duration_s, activate=activate)
    return call(node, LearnNormal, f"/{NODE}/learn_normal", request)


def status(col) -> dict:
    for msg in reversed(col.messages["/diagnostics"]):
        found = diagnostics_to_dict(msg).get(STATUS)
        if found:
            return found
    return {}


def wait_status(node, col, **expected) -> dict:
    col.clear()
    ok = spin_until(node, lambda: all(status(col).get(k) == v for k, v in expected.items()), timeout=30)
    assert ok, f"diagnostics never showed {expected}: {status(col)}"
    return status(col)


def test_learn_a_waypoint_over_the_service_and_switch_to_it(env):
    node, proc, col, stream, _, scene_dir = env
    wait_status(node, col, engine_scene="generic")
    started = learn(node, LearnNormal.Request.START, "dock_3", activate=True)
    assert started.success, started.message
    assert "learning scene 'dock_3' until STOP" in started.message
    busy = learn(node, LearnNormal.Request.START, "dock_4")
    assert not busy.success and "already learning scene 'dock_3'" in busy.message
    stream(140)
    wait_status(node, col, engine_learning="True")
    stopped = learn(node, LearnNormal.Request.STOP)
    assert stopped.success, stopped.message
    assert stopped.model_path == str(scene_dir / "dock_3.safetensors") and stopped.frames_used >= 100
    assert stopped.tracks_used >= 3 and (scene_dir / "dock_3.yaml").is_file()
    wait_status(node, col, engine_scene="dock_3", engine_learning="False")


def test_scene_by_topic_and_parameter_and_a_missing_model_keeps_the_generic_one(env):
    node, proc, col, stream, scene_pub, _ = env
    scene_pub.publish(String(data="nowhere"))
    found = wait_status(node, col, engine_scene="generic")
    assert "nowhere.safetensors" in found["engine_scene_warning"] and found["_level"] == "1"
    stream(5)
    set_params(node, NODE, scene="dock_3")
    found = wait_status(node, col, engine_scene="dock_3")
    assert found["engine_scene_warning"] == ""
    assert proc.proc.poll() is None


def test_a_corrupt_model_and_bad_requests_are_refused_and_the_node_keeps_running(env):
    node, proc, col, stream, scene_pub, scene_dir = env
    (scene_dir / "broken.safetensors").write_bytes(b"\x00garbage")
    scene_pub.publish(String(data="broken"))
    found = wait_status(node, col, engine_scene="generic")
    assert "broken.safetensors cannot be read" in found["engine_scene_warning"]
    for request, message in (((LearnNormal.Request.STOP,), "not learning"),
                             ((LearnNormal.Request.CANCEL,), "nothing to cancel"),
                             ((LearnNormal.Request.START, "../etc"), "scene name must be"),
                             ((7,), "unknown command 7")):
        reply = learn(node, *request)
        assert not reply.success and message in reply.message
    assert learn(node, LearnNormal.Request.START, "short", duration_s=0.5).success
    spin_for(node, 1.5)  # the timed session ends by itself: too few frames arrived, logged, nothing saved
    assert not (scene_dir / "short.safetensors").exists()
    assert learn(node, LearnNormal.Request.START, "again").success  # the session ended: a new one can start
    assert learn(node, LearnNormal.Request.CANCEL).success
    assert proc.proc.poll() is None
