"""Proof of life of the whole graph through ``tvau bringup`` (the graph description, for real).

``tvau bringup`` starts the description's nodes as processes and sends the heatmap node's
lifecycle transitions; this test subscribes to what the graph publishes (~/heatmap,
~/heatmap_overlay, ~/events, /diagnostics), then checks that every node is stopped with exit
code 0 and no process is left, after a replay that ends by itself and after Ctrl-C / SIGTERM.
"""
import re
import signal
import subprocess
import sys
import time

import psutil
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image
from tvau_msgs.msg import AnomalyEvent

from tvau_ros.io.sample_clip import generate_sample_clip
from tvau_ros.nodes import graph
from tvau_ros.nodes.msg_conversion import diagnostics_to_dict
from tvau_ros.nodes.qos import qos_profile

from peers.node_client import Collector, spin_until

HEATMAP = "/" + graph.node_spec("heatmap_query").name
OUTPUTS = {f"{HEATMAP}/heatmap": Image, f"{HEATMAP}/heatmap_overlay": Image, f"{HEATMAP}/events": AnomalyEvent,
           "/diagnostics": DiagnosticArray}
CLI = [sys.executable, "-c", "import sys; from tvau_ros.cli import main; sys.exit(main(sys.argv[1:]))", "bringup"]


@pytest.fixture
def observer():
    rclpy.init()
    node = rclpy.create_node("tvau_bringup_observer")
    collector = Collector(node)
    for topic, msg_type in OUTPUTS.items():
        collector.add(msg_type, topic, qos_profile("reliable", 50))
    yield node, collector
    collector.close()
    node.destroy_node()
    rclpy.try_shutdown()


class Bringup:
    """``tvau bringup ...`` as a process; remembers every descendant process it ever had."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.descendants: set[psutil.Process] = set()

    def watch(self) -> bool:
        try:
            self.descendants |= set(psutil.Process(self.proc.pid).children(recursive=True))
        except psutil.NoSuchProcess:
            pass
        return self.proc.poll() is None

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        out, _ = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out

    def leftovers(self) -> list[psutil.Process]:
        return [p for p in self.descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def stopped_codes(output: str) -> dict[str, int]:
    line = next(line for line in output.splitlines() if line.startswith("tvau bringup: stopped "))
    return {name: int(code) for name, code in re.findall(r"(\w+) \(exit code (-?\d+)\)", line)}


def every_output_seen(collector) -> bool:
    status = [diagnostics_to_dict(m) for m in collector.messages["/diagnostics"]]
    from_heatmap = any(f"{HEATMAP[1:]}: anomaly pipeline" in s for s in status)
    return from_heatmap and all(collector.messages[t] for t in OUTPUTS if t != "/diagnostics")


def test_replay_graph_publishes_every_output_and_shuts_down_cleanly(observer, tmp_path):
    node, collector = observer
    clip = generate_sample_clip(tmp_path / "clip.mp4", frames=60, anomaly_start=8)
    run = Bringup("--source", str(clip.path), "--record", str(tmp_path / "out"), "--camera-topic", "/tvau_graph/image")
    try:
        assert spin_until(node, lambda: every_output_seen(collector) or not run.watch(), timeout=150)
        assert every_output_seen(collector), {t: len(m) for t, m in collector.messages.items()}
        assert all(m.encoding == "32FC1" for m in collector.messages[f"{HEATMAP}/heatmap"])
        while run.watch():  # the replay ends, the recorder goes quiet, bringup stops the rest
            rclpy.spin_once(node, timeout_sec=0.1)
        code, output = run.finish()
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
    assert code == 0, output
    expected = [s.name for s in reversed(graph.selected_nodes({"source": "x", "record": "y"}))]
    assert list(stopped_codes(output)) == expected and set(stopped_codes(output).values()) == {0}, output
    assert len(run.descendants) >= len(expected)
    assert not run.leftovers()
    assert (tmp_path / "out" / "summary.json").is_file()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_live_graph_stops_every_node_on_a_signal(observer, sig):
    node, collector = observer
    run = Bringup("--camera-topic", "/tvau_graph/live")
    try:
        # the heatmap node is up and active: its diagnostics flow (no camera: "no input")
        assert spin_until(node, lambda: bool(collector.messages["/diagnostics"]) or not run.watch(), timeout=120)
        assert run.watch(), run.finish()[1]
        time.sleep(0.5)
        run.watch()
        run.proc.send_signal(sig)
        code, output = run.finish()
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
    assert code == 130, output
    assert stopped_codes(output) == {"tvau_heatmap": 0}, output
    assert run.descendants and not run.leftovers()


@pytest.mark.parametrize("args,message", [
    (["--params", "/nonexistent/params.yaml"], "bringup: params: no such file: /nonexistent/params.yaml"),
    (["--config", "/nonexistent/pipeline.yaml"], "bringup: config: no such file: /nonexistent/pipeline.yaml"),
    (["--source", "/nonexistent/clip.mp4"], "bringup: source: no such file or folder: /nonexistent/clip.mp4"),
])
def test_a_missing_file_argument_is_one_line_and_exit_2_before_any_node_starts(args, message):
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stdout == "" and result.stderr.strip().splitlines() == [f"tvau: error: {message}"]
