"""Helpers for integration tests that run real rclpy nodes in separate processes."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import rclpy

PEERS = Path(__file__).parent / "peers"


@contextmanager
def peer_process(args: list[str], ready_line: str = "READY", timeout: float = 60.0):
    """Start ``python args...`` and wait until it prints ``ready_line``; kill it on exit."""
    proc = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=os.environ.copy(),
    )
    lines = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                if proc.poll() is not None:
                    raise RuntimeError(f"peer exited with {proc.returncode}:\n{''.join(lines)}")
                continue
            lines.append(line)
            if line.strip() == ready_line:
                break
        else:
            raise TimeoutError(f"peer not ready after {timeout} s:\n{''.join(lines)}")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def spin_until(node, predicate, timeout: float = 20.0, period: float = 0.05) -> bool:
    """Spin ``node`` until ``predicate()`` is true or ``timeout`` passes; return the predicate."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        rclpy.spin_once(node, timeout_sec=period)
    return bool(predicate())
