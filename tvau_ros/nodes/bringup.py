"""``tvau bringup``: the node graph of ``tvau_ros.nodes.graph`` as processes, without ``ros2 launch``.

The second reader of the graph description (the first is ``launch/tvau.launch.py``): the same
arguments, nodes, parameters (``--params-file params.yaml`` plus the same overrides), remappings
and lifecycle transitions (sent to each lifecycle node's ``change_state`` service once it is up).
One OS process per node, output passed through with the node's name as prefix.

With a source and ``exit_when_done``, the run ends by itself: when the replay has published
everything, the recorder stops once the outputs go quiet, then the other nodes are stopped.
Otherwise it runs until Ctrl-C (or SIGTERM). Every node is stopped with SIGINT and its exit code
reported; the return code is 0 for a clean run, 130 when interrupted, 1 when a node failed.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tvau_ros.nodes.graph import (EXECUTABLES, NodeSpec, node_arguments, node_overrides, resolve_arguments,
                                  selected_nodes)

NODE_MODULES = {key: module for key, (_, module) in EXECUTABLES.items()}
ENTRY = "tvau_ros.nodes.entry"


class BringupError(Exception):
    """A reason the graph cannot start (one line)."""


def share_dir() -> Path:
    """The folder holding launch/ and models/: a source checkout, or the installed share/tvau_ros."""
    candidates = [Path(__file__).resolve().parents[2], Path(sys.prefix) / "share" / "tvau_ros"]
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory("tvau_ros")))
    except Exception:  # noqa: BLE001 - not installed as a ROS package
        pass
    for path in candidates:
        if (path / "launch" / "params.yaml").is_file():
            return path
    raise FileNotFoundError("launch/params.yaml not found (looked in: " + ", ".join(map(str, candidates)) + ")")


def default_params_file() -> Path:
    """launch/params.yaml of a source checkout, else the installed share/tvau_ros/launch copy."""
    return share_dir() / "launch" / "params.yaml"


def ros_value(value: object) -> str:
    """A Python value as a ``-p name:=value`` literal (YAML syntax; strings stay strings).

    >>> ros_value(True), ros_value([1.0, 2]), ros_value(""), ros_value("1.5"), ros_value("/cam/image")
    ('true', '[1.0, 2]', "''", "'1.5'", '/cam/image')
    """
    import yaml

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(ros_value(v) for v in value) + "]"
    if isinstance(value, str):
        try:
            plain = yaml.safe_load(value) == value
        except yaml.YAMLError:
            plain = False
        return value if plain else "'" + value.replace("'", "''") + "'"
    return str(value)


def node_command(node: str, params_file: Path | None, overrides: dict | None = None,
                 remappings: tuple[tuple[str, str], ...] = ()) -> list[str]:
    """``python -m tvau_ros.nodes.entry <node> --ros-args [--params-file P] [-p k:=v ...] [-r a:=b ...]``."""
    if node not in NODE_MODULES:
        raise KeyError(f"no node {node!r} (known: {', '.join(NODE_MODULES)})")
    cmd = [sys.executable, "-m", ENTRY, node, "--ros-args"]
    if params_file is not None:
        cmd += ["--params-file", str(params_file)]
    for name, value in (overrides or {}).items():
        cmd += ["-p", f"{name}:={ros_value(value)}"]
    for source, target in remappings:
        cmd += ["-r", f"{source}:={target}"]
    return cmd


def spec_command(spec: NodeSpec, resolved: Mapping[str, object], extra: dict | None = None) -> list[str]:
    """The process of ``spec``: the description's parameters, remappings, node name and arguments."""
    if spec.module is None:
        path = shutil.which(spec.executable)
        if path is None:
            raise BringupError(f"{spec.executable} ({spec.package}) is not installed; it is needed for {spec.when}")
        return [path, *node_arguments(spec, str(share_dir())), "--ros-args", "-r", f"__node:={spec.name}"]
    overrides = {**node_overrides(spec, resolved), **(extra or {})}
    remappings = (*spec.remappings, ("__node", spec.name))
    return node_command(spec.key, Path(str(resolved["params"])) if spec.uses_params else None, overrides,
                        remappings) + node_arguments(spec, str(share_dir()))


@dataclass
class NodeProcess:
    """A child process whose output is passed through with a prefix and watched for lines."""

    name: str
    cmd: list[str]
    proc: subprocess.Popen | None = None
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)

    def start(self) -> NodeProcess:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=os.environ.copy(), bufsize=1)
        threading.Thread(target=self._pump, daemon=True).start()
        return self

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.strip() == "READY":
                self.ready.set()
                continue
            sys.stdout.write(f"[{self.name}] {line}")
            sys.stdout.flush()

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready.wait(0.1):
                return True
            if self.proc.poll() is not None:
                return False
        return False

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def change_states(node_name: str, transitions: tuple[str, ...], timeout: float = 60.0) -> str | None:
    """Send ``transitions`` in order to ``/<node_name>/change_state``; None, or the one that failed."""
    import rclpy
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    context = rclpy.Context()
    rclpy.init(args=[], context=context, signal_handler_options=SignalHandlerOptions.NO)  # Ctrl-C stays ours
    client_node = rclpy.create_node(f"tvau_bringup_{os.getpid()}", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(client_node)
    try:
        client = client_node.create_client(ChangeState, f"/{node_name}/change_state")
        if not client.wait_for_service(timeout_sec=timeout):
            return f"{transitions[0]} (no /{node_name}/change_state service after {timeout:.0f} s)"
        for name in transitions:
            request = ChangeState.Request(transition=Transition(id=getattr(Transition, f"TRANSITION_{name.upper()}")))
            future = client.call_async(request)
            executor.spin_until_future_complete(future, timeout_sec=timeout)
            if not future.done() or not future.result().success:
                return name
        return None
    finally:
        executor.shutdown()
        client_node.destroy_node()
        rclpy.try_shutdown(context=context)


def _failure_reason(proc: NodeProcess, transition: str) -> str:
    marker = f"{transition} failed:"
    line = next((line for line in reversed(proc.lines) if marker in line), None)
    return line.split(marker, 1)[1].strip() if line else "see its log above"


def _print_summary(path: Path) -> None:
    import json

    from tvau_ros.io.summary import format_summary

    if path.is_file():
        print(format_summary(json.loads(path.read_text(encoding="utf-8")), title="tvau bringup"), flush=True)
    else:
        print(f"tvau bringup: no summary written ({path} missing)", file=sys.stderr)


def _raise_interrupt(signum: int, frame: object) -> None:  # SIGTERM stops the graph like Ctrl-C does
    raise KeyboardInterrupt


def check_interfaces() -> None:
    """BringupError when tvau_msgs cannot be found (the nodes would fail to start one by one)."""
    from tvau_ros.nodes.entry import BUILD_HINT

    if importlib.util.find_spec("tvau_msgs") is None:
        raise BringupError(f"the ROS interface package tvau_msgs is not built or not on the path; {BUILD_HINT}")


def bringup(values: Mapping[str, str] | None = None, *, exit_when_done: bool = True, idle_exit_s: float = 3.0,
            ready_timeout: float = 120.0) -> int:
    """Start the graph for launch-argument ``values`` (``{"source": "clip.mp4", ...}``); see the module doc.

    Raises GraphArgumentError / BringupError (one line) before anything starts.
    """
    resolved = resolve_arguments(dict(values or {}), default_params=str(default_params_file()))
    specs = selected_nodes(resolved)
    check_interfaces()
    commands = {}
    for spec in specs:
        extra = {}
        if spec.key == "recorder":  # bringup prints the summary itself; with a source it ends the run
            extra["print_summary"] = False
            if exit_when_done and resolved["source"]:
                extra["idle_exit_s"] = idle_exit_s
        commands[spec.key] = spec_command(spec, resolved, extra)
    finite = "replay" if resolved["source"] and exit_when_done and not resolved["loop"] else None
    procs: dict[str, NodeProcess] = {}
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if on_main_thread else None
    code = 0
    try:
        for spec in specs:
            proc = procs[spec.key] = NodeProcess(spec.name, commands[spec.key]).start()
            if spec.module is not None and not proc.wait_ready(ready_timeout):
                print(f"tvau bringup: error: the {spec.name} node did not start (exit code {proc.proc.poll()})",
                      file=sys.stderr)
                return 1
            if spec.lifecycle:
                failed = change_states(spec.name, spec.lifecycle)
                if failed:
                    print(f"tvau bringup: error: {spec.name} did not {failed}: {_failure_reason(proc, failed)}",
                          file=sys.stderr)
                    return 1
        if finite is None:
            while all(p.proc.poll() is None for p in procs.values()):
                time.sleep(0.2)
            failed_node = next(p for p in procs.values() if p.proc.poll() is not None)
            print(f"tvau bringup: error: {failed_node.name} exited (code {failed_node.proc.returncode})",
                  file=sys.stderr)
            return 1
        replay_code = procs[finite].proc.wait()
        if replay_code != 0:
            print(f"tvau bringup: error: replay of {resolved['source']} failed (exit code {replay_code})",
                  file=sys.stderr)
            return 1
        if "recorder" in procs:
            procs["recorder"].proc.wait()  # it exits idle_exit_s after the last output
            _print_summary(Path(str(resolved["record"])) / "summary.json")
        code = 0
    except KeyboardInterrupt:
        code = 130
    finally:
        stopped = [(p.name, p.stop()) for p in reversed(list(procs.values())) if p.proc is not None]
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if stopped:
            print("tvau bringup: stopped " + ", ".join(f"{name} (exit code {rc})" for name, rc in stopped), flush=True)
        if code == 0 and any(rc != 0 for _, rc in stopped):
            code = 1
    return code
