"""``tvau bringup``: start the tvau nodes from ``launch/params.yaml`` without ``ros2 launch``.

What ``launch/tvau.launch.py`` does on a real ROS install, for machines where the launch
system is not installable: one OS process per node, each given ``--ros-args --params-file
params.yaml`` plus the overrides, output passed through. Nodes:

- the heatmap node (always);
- the recorder, with ``record`` (a folder): annotated video + events + summary;
- the replay node, with ``source``: it waits until the heatmap node subscribes.

With a source and ``exit_when_done``, the run ends by itself: when the replay has published
everything, the recorder stops once the outputs go quiet, then the heatmap node is stopped.
Otherwise it runs until Ctrl-C. Returns non-zero when a node fails.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

NODE_MODULES = {
    "heatmap": "tvau_ros.nodes.heatmap_node",
    "replay": "tvau_ros.nodes.replay_node",
    "recorder": "tvau_ros.nodes.recorder_node",
}


def default_params_file() -> Path:
    """launch/params.yaml of a source checkout, else the installed share/tvau_ros/launch copy."""
    candidates = [Path(__file__).resolve().parents[2] / "launch" / "params.yaml",
                  Path(sys.prefix) / "share" / "tvau_ros" / "launch" / "params.yaml"]
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory("tvau_ros")) / "launch" / "params.yaml")
    except Exception:  # noqa: BLE001 - not installed as a ROS package
        pass
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError("launch/params.yaml not found (looked in: " + ", ".join(map(str, candidates)) + ")")


def ros_value(value) -> str:
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


def node_command(node: str, params_file: Path | None, overrides: dict | None = None) -> list[str]:
    cmd = [sys.executable, "-m", NODE_MODULES[node], "--ros-args"]
    if params_file is not None:
        cmd += ["--params-file", str(params_file)]
    for name, value in (overrides or {}).items():
        cmd += ["-p", f"{name}:={ros_value(value)}"]
    return cmd


@dataclass
class NodeProcess:
    """A child process whose output is passed through with a prefix and watched for lines."""

    name: str
    cmd: list[str]
    proc: subprocess.Popen | None = None
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)

    def start(self) -> "NodeProcess":
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


def _print_summary(path: Path) -> None:
    import json

    from tvau_ros.io.summary import format_summary

    if path.is_file():
        print(format_summary(json.loads(path.read_text(encoding="utf-8")), title="tvau bringup"), flush=True)
    else:
        print(f"tvau bringup: no summary written ({path} missing)", file=sys.stderr)


def bringup(params_file: Path | None = None, *, source: str | None = None, camera_topic: str | None = None,
            record: str | None = None, heatmap_overrides: dict | None = None, replay_overrides: dict | None = None,
            exit_when_done: bool = True, idle_exit_s: float = 3.0, ready_timeout: float = 120.0) -> int:
    """Start the nodes; return 0 on a clean run, 1 when a node failed to start or failed."""
    params_file = Path(params_file) if params_file else default_params_file()
    heat = {"autostart": True, **(heatmap_overrides or {})}
    replay = dict(replay_overrides or {})
    if camera_topic:
        heat["image_topic"] = camera_topic
        replay["topic"] = camera_topic
    procs: list[NodeProcess] = []
    try:
        heatmap = NodeProcess("heatmap", node_command("heatmap", params_file, heat)).start()
        procs.append(heatmap)
        recorder = None
        if record:
            rec = {"out_dir": str(Path(record).resolve()), "print_summary": False}
            if source and exit_when_done:
                rec["idle_exit_s"] = idle_exit_s
            recorder = NodeProcess("recorder", node_command("recorder", params_file, rec)).start()
            procs.append(recorder)
        for proc in procs:
            if not proc.wait_ready(ready_timeout):
                print(f"tvau bringup: error: the {proc.name} node did not start (exit code {proc.proc.poll()})",
                      file=sys.stderr)
                return 1
        failed = next((line for line in heatmap.lines if "configure failed:" in line), None)
        if failed:  # autostart could not load the engine: say why instead of replaying into nothing
            print(f"tvau bringup: error: {failed.split('configure failed:', 1)[1].strip()}", file=sys.stderr)
            return 1
        if not source:
            heatmap.proc.wait()
            return 0 if heatmap.proc.returncode in (0, None) else 1
        replay_proc = NodeProcess("replay", node_command("replay", params_file, {"source": source, **replay})).start()
        procs.append(replay_proc)
        code = replay_proc.proc.wait()
        if code != 0:
            print(f"tvau bringup: error: replay of {source} failed (exit code {code})", file=sys.stderr)
            return 1
        if not exit_when_done:
            heatmap.proc.wait()
            return 0
        if recorder is not None:
            recorder.proc.wait()  # it exits idle_exit_s after the last output
            _print_summary(Path(record) / "summary.json")
        return 0 if heatmap.proc.poll() is None else 1
    except KeyboardInterrupt:
        return 130
    finally:
        for proc in reversed(procs):
            if proc.proc is not None:
                proc.stop()
