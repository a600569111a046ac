"""A signal stops the spin loop through a flag: nothing is raised inside rclpy."""
import os
import signal
import time

import pytest

rclpy = pytest.importorskip("rclpy")
from rclpy.executors import SingleThreadedExecutor  # noqa: E402

from tvau_ros.nodes.shutdown import STOP_SIGNALS, StopRequest, spin_until_stopped  # noqa: E402


@pytest.fixture
def restore_handlers():
    saved = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.fixture
def executor():
    context = rclpy.Context()
    rclpy.init(args=[], context=context, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    node = rclpy.create_node("tvau_shutdown_unit", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    yield executor, node
    executor.shutdown()
    node.destroy_node()
    rclpy.try_shutdown(context=context)


@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=["ctrl-c", "sigterm"])
def test_a_signal_ends_the_spin_loop_without_an_exception(executor, restore_handlers, sig):
    executor, node = executor
    stop = StopRequest().install()
    ticks = []

    def tick():
        ticks.append(1)
        if len(ticks) == 5:
            os.kill(os.getpid(), sig)

    node.create_timer(0.02, tick)
    start = time.monotonic()
    spin_until_stopped(executor, stop, period=0.05)
    assert stop.requested and stop.signal == sig
    assert 5 <= len(ticks) < 50 and time.monotonic() - start < 5.0


def test_spin_loop_ends_when_done_or_the_context_shuts_down(executor):
    executor, node = executor
    ticks = []
    node.create_timer(0.01, lambda: ticks.append(1))
    spin_until_stopped(executor, StopRequest(), done=lambda: len(ticks) >= 3, period=0.05)
    assert len(ticks) == 3
    rclpy.try_shutdown(context=executor.context)
    spin_until_stopped(executor, StopRequest(), period=0.05)  # returns at once, raises nothing
