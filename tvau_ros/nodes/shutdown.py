"""Stopping a node process on Ctrl-C / SIGTERM without raising inside rclpy.

rclpy's own signal handlers let Python raise KeyboardInterrupt on whatever line the main thread is
running. Raised while rclpy converts a received message into Python, it surfaces from
``take_message`` as ``RuntimeError: Unable to convert call argument '0' to Python object`` and the
node exits 1 instead of stopping cleanly (seen on CI: the recorder, stopped while overlays still
arrived). So every node executable initialises rclpy without those handlers; a signal only sets a
flag, which the spin loop checks between two ``spin_once`` calls (at most ``period`` seconds later).
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence

import rclpy
from rclpy.executors import Executor, ExternalShutdownException
from rclpy.signals import SignalHandlerOptions

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Set by SIGINT / SIGTERM (or :meth:`set`); nothing is raised.

    >>> stop = StopRequest()
    >>> stop.requested
    False
    >>> stop.set(); stop.requested
    True
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal: int | None = None

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def set(self, signum: int | None = None, frame: object = None) -> None:
        self.signal = signum
        self._event.set()

    def install(self) -> StopRequest:
        """Route SIGINT and SIGTERM here (only the main thread may install handlers)."""
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                signal.signal(sig, self.set)
        return self


def init_node_process(argv: Sequence[str] | None) -> StopRequest:
    """``rclpy.init`` without rclpy's signal handlers; returns the flag that SIGINT / SIGTERM set."""
    rclpy.init(args=list(argv) if argv is not None else None, signal_handler_options=SignalHandlerOptions.NO)
    return StopRequest().install()


def spin_until_stopped(executor: Executor, stop: StopRequest, done: Callable[[], bool] = lambda: False,
                       period: float = 0.1) -> None:
    """Spin ``executor`` until a stop is requested, ``done()`` is true or the context shuts down."""
    try:
        while executor.context.ok() and not stop.requested and not done():
            executor.spin_once(timeout_sec=period)
    except ExternalShutdownException:
        pass
