"""Test-side helpers for the node integration tests: start node processes, call lifecycle and
parameter services, collect messages. Synchronisation is by waiting on conditions (discovery,
message arrival, log lines) with generous timeouts, never by fixed sleeps.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import rclpy
import ros_helpers  # test/integration is on sys.path for these tests
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter

from tvau_ros.nodes.bringup import NodeProcess, node_command

TIMEOUT = 60.0


def start_node(kind: str, name: str, params: dict, ready_timeout: float = 90.0) -> NodeProcess:
    """Start ``python -m tvau_ros.nodes.<kind>_node`` named ``name``; wait for its READY line."""
    cmd = node_command(kind, None, params) + ["-r", f"__node:={name}"]
    proc = NodeProcess(name, cmd).start()
    if not proc.wait_ready(ready_timeout):
        proc.stop()
        raise RuntimeError(f"{kind} node {name} did not start:\n{''.join(proc.lines)}")
    return proc


@contextmanager
def observer_node(name: str) -> Iterator:
    """rclpy initialised for this test process with one node named ``name`` (the test's camera / observer)."""
    rclpy.init()
    node = rclpy.create_node(name)
    try:
        yield node
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def spin_until(node, predicate, timeout: float = TIMEOUT, period: float = 0.02) -> bool:
    """``ros_helpers.spin_until`` with this module's longer default timeout."""
    return ros_helpers.spin_until(node, predicate, timeout, period)


def spin_for(node, seconds: float) -> None:
    """Keep receiving for a while (to check that nothing arrives)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.02)


def call(node, srv_type, name: str, request, timeout: float = TIMEOUT):
    client = node.create_client(srv_type, name)
    try:
        assert client.wait_for_service(timeout_sec=timeout), f"service {name} not available"
        future = client.call_async(request)
        assert spin_until(node, future.done, timeout), f"no reply from {name}"
        return future.result()
    finally:
        node.destroy_client(client)


def set_params(node, target: str, **values) -> None:
    request = SetParameters.Request(parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in values.items()])
    results = call(node, SetParameters, f"/{target}/set_parameters", request).results
    failed = [(k, r.reason) for k, r in zip(values, results, strict=True) if not r.successful]
    assert not failed, f"setting parameters failed: {failed}"


TRANSITIONS = {
    "configure": Transition.TRANSITION_CONFIGURE, "activate": Transition.TRANSITION_ACTIVATE,
    "deactivate": Transition.TRANSITION_DEACTIVATE, "cleanup": Transition.TRANSITION_CLEANUP,
}


def change_state(node, target: str, transition: str) -> bool:
    request = ChangeState.Request(transition=Transition(id=TRANSITIONS[transition]))
    return call(node, ChangeState, f"/{target}/change_state", request).success


def get_state(node, target: str) -> str:
    return call(node, GetState, f"/{target}/get_state", GetState.Request()).current_state.label


class Collector:
    """Subscribe to topics and keep every message (``messages[topic]``) with its arrival time."""

    def __init__(self, node):
        self.node = node
        self.messages: dict[str, list] = {}
        self.arrivals: dict[str, list[float]] = {}
        self.subscriptions = {}

    def add(self, msg_type, topic: str, qos):
        self.messages[topic], self.arrivals[topic] = [], []

        def store(msg, topic=topic):
            self.messages[topic].append(msg)
            self.arrivals[topic].append(time.monotonic())

        self.subscriptions[topic] = self.node.create_subscription(msg_type, topic, store, qos)
        return self

    def matched(self) -> bool:
        return all(sub.get_publisher_count() > 0 for sub in self.subscriptions.values())

    def clear(self) -> None:
        for topic in self.messages:
            self.messages[topic].clear()
            self.arrivals[topic].clear()

    def close(self) -> None:
        for sub in self.subscriptions.values():
            self.node.destroy_subscription(sub)
        self.subscriptions.clear()
