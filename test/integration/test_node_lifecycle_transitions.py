"""Lifecycle requests by numeric id that are invalid in the current state are refused, for real.

rclpy 7.1.x lets ``RCLError: Transition is not registered`` escape ``spin`` for such a request
(ros2/rclpy#1209) and the node process exits. This test sends, over the node's ``~/change_state``
service, every transition id that is invalid in each primary state (unconfigured, inactive,
active) to one heatmap node process, and checks after each that the answer is ``success=False``,
the node still answers ``get_state`` with the same state and the process is alive; then it
checks that the refusals are logged (first occurrences) and counted in the diagnostics.
"""
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState

from tvau_ros.nodes.msg_conversion import diagnostics_to_dict
from tvau_ros.nodes.qos import qos_profile

from peers.node_client import Collector, call, change_state, get_state, spin_until, start_node

NODE = "tvau_heatmap_transitions"
IDS = sorted({getattr(Transition, n) for n in dir(Transition) if n.startswith("TRANSITION_")} | {9, 13, 100, 255})
VALID = {  # primary state -> ids valid there (rcl's default lifecycle state machine)
    "unconfigured": {Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_UNCONFIGURED_SHUTDOWN},
    "inactive": {Transition.TRANSITION_CLEANUP, Transition.TRANSITION_ACTIVATE,
                 Transition.TRANSITION_INACTIVE_SHUTDOWN},
    "active": {Transition.TRANSITION_DEACTIVATE, Transition.TRANSITION_ACTIVE_SHUTDOWN},
}
REACH = {"unconfigured": [], "inactive": ["configure"], "active": ["activate"]}  # from the previous state


@pytest.fixture(scope="module")
def env():
    rclpy.init()
    node = rclpy.create_node("tvau_transitions_test")
    heatmap = start_node("heatmap", NODE, {"autostart": False, "image_topic": "/tvau_transitions/image",
                                           "diagnostics_period_s": 0.3})
    yield node, heatmap
    heatmap.stop()
    node.destroy_node()
    rclpy.try_shutdown()


@pytest.mark.parametrize("state", ["unconfigured", "inactive", "active"])  # in this order, on one process
def test_every_invalid_transition_id_is_refused_and_the_node_keeps_running(env, state):
    node, heatmap = env
    for transition in REACH[state]:
        assert change_state(node, NODE, transition)
    assert get_state(node, NODE) == state
    invalid = [i for i in IDS if i not in VALID[state]]
    assert len(invalid) >= 25
    for transition_id in invalid:
        request = ChangeState.Request(transition=Transition(id=transition_id))
        assert call(node, ChangeState, f"/{NODE}/change_state", request).success is False, transition_id
        assert heatmap.proc.poll() is None, f"id {transition_id} in {state} ended the node:\n{''.join(heatmap.lines)}"
        assert get_state(node, NODE) == state, transition_id


def test_refusals_are_logged_and_counted_in_diagnostics(env):
    node, heatmap = env
    refused = [line for line in heatmap.lines if "refused lifecycle request" in line]
    total = sum(len([i for i in IDS if i not in VALID[s]]) for s in VALID)
    assert total > 10 and len(refused) == 2  # the 1st and the 10th: a flood of requests cannot flood the log
    assert "(1 so far): transition id 0 is not valid in state 'unconfigured' (valid: [1, 5])" in refused[0]
    collector = Collector(node).add(DiagnosticArray, "/diagnostics", qos_profile("reliable", 10))
    status = f"{NODE}: anomaly pipeline"
    assert spin_until(node, lambda: any(status in diagnostics_to_dict(m) for m in collector.messages["/diagnostics"]))
    last = [diagnostics_to_dict(m)[status] for m in collector.messages["/diagnostics"]
            if status in diagnostics_to_dict(m)][-1]
    assert int(last["refused_transitions"]) == total
    # valid requests still work: by id and by label
    assert change_state(node, NODE, "deactivate") and get_state(node, NODE) == "inactive"
    by_label = ChangeState.Request(transition=Transition(label="cleanup"))
    assert call(node, ChangeState, f"/{NODE}/change_state", by_label).success
    assert get_state(node, NODE) == "unconfigured" and heatmap.proc.poll() is None
