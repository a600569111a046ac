#!/usr/bin/env python3
"""Latency of the query service while the heatmap node runs (issue 17 targets: grounded answer
p95 <= 300 ms on 2 CPU cores; the DDS service round trip adds <= 20 ms).

Starts the heatmap and query nodes in one process (``tvau_ros.nodes.heatmap_and_query``, motion
baseline engine) and a looping replay of the generated sample clip at its own 15 fps, so the
heatmap node processes frames the whole time; then asks ``--dialogues`` multi-turn dialogues
(judgment, appearance, motion, trajectory, where, when; window = now) over the service and
prints:

* the grounded answer time inside the node (its ``/diagnostics``: answer_ms_p50 / p95);
* the service round trip seen by this client, per question kind;
* the round trip of a question the node refuses at once (empty): DDS + service overhead.

Run from the repository root (inside the venv, DDS kept on this machine):
    ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST python scripts/bench_query.py [--dialogues 20] [--no-prefetch]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

QUESTIONS = [("judgment", "Is there any anomaly?"), ("appearance", "What does it look like?"),
             ("motion", "How is it moving?"), ("trajectory", "and where did it go?"),
             ("where", "Where is it now?"), ("when", "When did it start?")]


def percentiles(values: list[float]) -> str:
    return f"p50 {np.percentile(values, 50):6.1f} ms, p95 {np.percentile(values, 95):6.1f} ms (n={len(values)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dialogues", type=int, default=20, help="multi-turn dialogues to ask (default 20)")
    parser.add_argument("--warmup-s", type=float, default=8.0, help="replay this long before asking (default 8)")
    parser.add_argument("--no-prefetch", action="store_true", help="measure frames when asked, not ahead")
    args = parser.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="tvau_bench_log_"))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from tvau_msgs.srv import QueryAnomaly

    from tvau_ros.io.sample_clip import generate_sample_clip
    from tvau_ros.nodes.bringup import NodeProcess, node_command
    from tvau_ros.nodes.msg_conversion import diagnostics_to_dict
    from tvau_ros.nodes.qos import qos_profile

    clip = generate_sample_clip(Path(tempfile.mkdtemp(prefix="tvau_bench_")) / "sample.mp4", frames=90,
                                anomaly_start=10)
    camera = "/tvau_bench/camera/image_raw"
    stack_cmd = [sys.executable, "-m", "tvau_ros.nodes.heatmap_and_query", "--ros-args", "-p", "autostart:=true",
                 "-p", f"image_topic:={camera}", "-p", "diagnostics_period_s:=0.5",
                 "-p", f"prefetch_period_s:={0.0 if args.no_prefetch else 0.5}"]
    procs = [NodeProcess("stack", stack_cmd).start()]
    rclpy.init()
    node = rclpy.create_node("tvau_bench_client")
    diagnostics = {}
    node.create_subscription(DiagnosticArray, "/diagnostics",
                             lambda m: diagnostics.update(diagnostics_to_dict(m)), qos_profile("reliable", 20))
    try:
        if not procs[0].wait_ready(120):
            print("the heatmap + query process did not start:\n" + "".join(procs[0].lines), file=sys.stderr)
            return 1
        replay_cmd = node_command("replay", None, {"source": str(clip.path), "topic": camera, "loop": True,
                                                   "wait_for_subscribers": 1})
        procs.append(NodeProcess("replay", replay_cmd).start())
        client = node.create_client(QueryAnomaly, "/tvau_query/query")
        if not client.wait_for_service(timeout_sec=60):
            print("service /tvau_query/query not available", file=sys.stderr)
            return 1
        end = time.monotonic() + args.warmup_s
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.1)

        def ask(question: str, session: str = "", reset: bool = False) -> tuple[float, QueryAnomaly.Response]:
            started = time.perf_counter()
            future = client.call_async(QueryAnomaly.Request(question=question, session_id=session, reset=reset))
            rclpy.spin_until_future_complete(node, future, timeout_sec=30)
            return (time.perf_counter() - started) * 1e3, future.result()

        round_trip: dict[str, list[float]] = {kind: [] for kind, _ in QUESTIONS}
        refused, failures = [], []
        for n in range(args.dialogues):
            for i, (kind, question) in enumerate(QUESTIONS):
                ms, reply = ask(question, f"bench{n}", reset=i == 0)
                round_trip[kind].append(ms)
                if not reply.success:
                    failures.append(f"{question!r}: {reply.error_message}")
                refused.append(ask("")[0])
            rclpy.spin_once(node, timeout_sec=0.3)  # the camera keeps streaming between dialogues
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.1)
        query = diagnostics.get("tvau_query: query service", {})
        heat = diagnostics.get("tvau_heatmap: anomaly pipeline", {})
        answers = [ms for values in round_trip.values() for ms in values]
        print(f"heatmap node: {heat.get('processed_fps', '?')} frames/s processed, inference p50 "
              f"{heat.get('inference_ms_p50', '?')} ms; prefetch {'off' if args.no_prefetch else 'on'}; "
              f"{os.cpu_count()} CPU cores")
        print(f"grounded answer in the node ({query.get('answers', '?')} answers): "
              f"p50 {float(query.get('answer_ms_p50', 'nan')):.1f} ms, "
              f"p95 {float(query.get('answer_ms_p95', 'nan')):.1f} ms")
        print(f"service round trip, all questions:        {percentiles(answers)}")
        for kind, values in round_trip.items():
            print(f"  {kind:<11}                             {percentiles(values)}")
        print(f"round trip of an at-once refusal (DDS):   {percentiles(refused)}")
        overhead = np.percentile(answers, 50) - float(query.get("answer_ms_p50", "nan"))
        print(f"round trip minus answer time, p50:        {overhead:6.1f} ms")
        if failures:
            print(f"{len(failures)} questions failed, e.g. {failures[0]}")
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        for proc in reversed(procs):
            proc.stop()


if __name__ == "__main__":
    sys.exit(main())
