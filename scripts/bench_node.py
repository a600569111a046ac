#!/usr/bin/env python
"""Benchmark the heatmap node over DDS against offline ``tvau run`` on the same clip.

Prints (and writes as JSON with --json):
  offline      frames/s of ``tvau run --no-video`` (decode + pipeline + outputs, one process)
  dds_native   the replay at the clip's native rate: events/s (one per clip), frames/s that
               got a heatmap (from the node's diagnostics), drops, latency from the camera
               stamp to the heatmap publish (node side) and to its arrival here, p50 / p95
  dds_offline_rate  the replay publishing at the offline frames/s: the node's heatmap frames/s
               over DDS and its ratio to the offline rate (the target: >= 0.9)
  dds_saturated  the replay at 1.5x the offline rate: the most the node processes while the
               replay process competes for the same CPUs
  soak         (--soak-minutes M) node RSS after 1 minute and after M minutes of looped replay
  peak_rss_mib the node process's largest resident memory over the whole run (sampled 5 times/s)

The node process is the one ``tvau bringup`` starts (``--node heatmap_query``: the heatmap node
and the query service in one process), or the heatmap node alone (``--node heatmap``).

    python scripts/bench_node.py --seconds 20 [--clip CLIP] [--config YAML] [--node heatmap] [--json out.json]
    python scripts/bench_node.py --soak-minutes 10 --skip-throughput     # the memory soak only

Runs everything on this machine (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, own domain id).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(110, 200)))
os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="tvau_bench_log_"))
os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)

import numpy as np  # noqa: E402

if TYPE_CHECKING:
    from diagnostic_msgs.msg import DiagnosticArray
    from tvau_msgs.msg import AnomalyEvent

NODE = "tvau_heatmap_bench"
CAMERA = "/tvau_bench/image_raw"


def offline_fps(clip: Path, config: str | None, repeats: int) -> dict:
    from tvau_ros.core.pipeline import AnomalyPipeline
    from tvau_ros.io.offline import run_offline
    from tvau_ros.io.sources import open_source

    frames, wall = 0, 0.0
    with tempfile.TemporaryDirectory() as out:
        for _ in range(repeats):
            pipeline = AnomalyPipeline.from_config(config)
            summary = run_offline(open_source(clip), pipeline, out, video=False)
            frames += summary["frames"]
            wall += summary["wall_s"]
    return {"frames": frames, "wall_s": round(wall, 2), "fps": round(frames / wall, 2)}


class Observer:
    """Counts the node's events and records arrival latency and diagnostics."""

    def __init__(self):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from tvau_msgs.msg import AnomalyEvent

        from tvau_ros.nodes.qos import qos_profile

        rclpy.init()
        self.rclpy = rclpy
        self.node = rclpy.create_node("tvau_bench_observer")
        self.events: list[tuple[float, float]] = []  # (arrival monotonic, stamp->arrival latency s)
        self.diag: dict = {}
        self.diag_at = 0.0  # monotonic arrival time of ``diag``
        self.node.create_subscription(AnomalyEvent, f"/{NODE}/events", self._on_event, qos_profile("reliable", 100))
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, qos_profile("reliable", 10))

    def _on_event(self, msg: AnomalyEvent) -> None:
        from tvau_ros.nodes.msg_conversion import stamp_to_ns

        now = self.node.get_clock().now().nanoseconds
        self.events.append((time.monotonic(), (now - stamp_to_ns(msg.header.stamp)) / 1e9))

    def _on_diag(self, msg: DiagnosticArray) -> None:
        from tvau_ros.nodes.msg_conversion import diagnostics_to_dict

        status = diagnostics_to_dict(msg).get(f"{NODE}: anomaly pipeline")
        if status:
            self.diag, self.diag_at = status, time.monotonic()

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.rclpy.spin_once(self.node, timeout_sec=0.05)

    def window(self, start: float) -> dict:
        got = [(t, lat) for t, lat in self.events if t >= start]
        if len(got) < 2:
            return {"events": len(got)}
        lat = np.array([lat for _, lat in got]) * 1e3
        return {"events": len(got), "fps": round((len(got) - 1) / (got[-1][0] - got[0][0]), 2),
                "arrival_latency_ms_p50": round(float(np.percentile(lat, 50)), 1),
                "arrival_latency_ms_p95": round(float(np.percentile(lat, 95)), 1)}

    def close(self) -> None:
        self.node.destroy_node()
        self.rclpy.shutdown()


def dds_phase(observer: Observer, clip: Path, rate: float, seconds: float, warmup: float = 5.0) -> dict:
    from tvau_ros.nodes.bringup import NodeProcess, node_command

    replay = NodeProcess("replay", node_command("replay", None, {
        "source": str(clip), "topic": CAMERA, "rate": rate, "loop": True, "reliability": "best_effort",
        "wait_for_subscribers": 1}) + ["-r", "__node:=tvau_replay_bench"]).start()
    try:
        replay.wait_ready(60)
        observer.spin(warmup)
        before, before_at = dict(observer.diag), observer.diag_at
        start = time.monotonic()
        observer.spin(seconds)
        result = observer.window(start)
        after, after_at = observer.diag, observer.diag_at
        frames = int(after.get("processed_frames", 0)) - int(before.get("processed_frames", 0))
        result.update({
            "frames_fps": round(frames / max(after_at - before_at, 1e-9), 2),
            "replay_rate": rate,
            "node_latency_ms_p50": float(after.get("latency_ms_p50", "nan")),
            "node_latency_ms_p95": float(after.get("latency_ms_p95", "nan")),
            "received": int(after.get("received", 0)) - int(before.get("received", 0)),
            "dropped_frames": int(after.get("dropped_frames", 0)) - int(before.get("dropped_frames", 0)),
            "inference_ms_p50": float(after.get("inference_ms_p50", "nan")),
        })
        return result
    finally:
        replay.stop()


def rss_mib(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


class PeakRss:
    """Samples a process's resident memory 5 times a second in a thread; ``stop()`` returns the peak (MiB)."""

    def __init__(self, pid: int):
        import threading

        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.peak = max(self.peak, rss_mib(self.pid))
            except Exception:  # noqa: BLE001 - the process ended
                return

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(timeout=2)
        return round(self.peak, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clip", type=Path, help="video to replay (default: the generated sample clip)")
    parser.add_argument("--config", help="pipeline config YAML (default: the packaged one, behaviour engine)")
    parser.add_argument("--node", choices=("heatmap_query", "heatmap"), default="heatmap_query",
                        help="the node process to measure (default: heatmap + query, as bringup starts it)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement time per DDS phase")
    parser.add_argument("--offline-repeats", type=int, default=3)
    parser.add_argument("--soak-minutes", type=float, default=0.0, help="also run the RSS soak this long")
    parser.add_argument("--skip-throughput", action="store_true", help="only the soak")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)

    from tvau_ros.io.sample_clip import generate_sample_clip
    from tvau_ros.io.sources import open_source
    from tvau_ros.nodes.bringup import NodeProcess, node_command

    workdir = Path(tempfile.mkdtemp(prefix="tvau_bench_"))
    clip = args.clip or generate_sample_clip(workdir / "sample.mp4").path
    source = open_source(clip)
    native_fps = source.fps
    source.close()
    results: dict = {"clip": str(clip), "native_fps": native_fps, "cpu_count": os.cpu_count(),
                     "loadavg_start": os.getloadavg()}
    params = {"autostart": True, "image_topic": CAMERA, "diagnostics_period_s": 1.0}
    if args.config:
        params["config"] = str(Path(args.config).resolve())
    if not args.skip_throughput:
        results["offline"] = offline_fps(clip, args.config, args.offline_repeats)
        print(f"offline tvau run: {results['offline']}", flush=True)
    observer = Observer()
    heatmap = NodeProcess("heatmap", node_command(args.node, None, params) + ["-r", f"__node:={NODE}"]).start()
    peak = PeakRss(heatmap.proc.pid)
    try:
        if not heatmap.wait_ready(120):
            print("bench: the heatmap node did not start:\n" + "".join(heatmap.lines), file=sys.stderr)
            return 1
        if not args.skip_throughput:
            results["dds_native"] = dds_phase(observer, clip, 1.0, args.seconds)
            print(f"DDS at native rate: {results['dds_native']}", flush=True)
            offline = results["offline"]["fps"]
            for name, factor in (("dds_offline_rate", 1.0), ("dds_saturated", 1.5)):
                results[name] = dds_phase(observer, clip, round(factor * offline / native_fps, 3), args.seconds)
                results[name]["ratio_to_offline"] = round(results[name].get("frames_fps", 0.0) / offline, 3)
                print(f"{name}: {results[name]}", flush=True)
        if args.soak_minutes > 0:
            results["soak"] = soak(observer, clip, heatmap.proc.pid, args.soak_minutes)
            print(f"soak: {results['soak']}", flush=True)
    finally:
        results["peak_rss_mib"] = peak.stop()
        heatmap.stop()
        observer.close()
    results["loadavg_end"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


def soak(observer: Observer, clip: Path, pid: int, minutes: float) -> dict:
    from tvau_ros.nodes.bringup import NodeProcess, node_command

    replay = NodeProcess("replay", node_command("replay", None, {
        "source": str(clip), "topic": CAMERA, "rate": 1.0, "loop": True, "wait_for_subscribers": 1})
        + ["-r", "__node:=tvau_replay_soak"]).start()
    samples = []
    try:
        replay.wait_ready(60)
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < minutes * 60:
            observer.spin(10.0)
            samples.append((round(elapsed / 60, 2), round(rss_mib(pid), 1)))
    finally:
        replay.stop()
    at_1 = next(rss for m, rss in samples if m >= 1.0) if any(m >= 1.0 for m, _ in samples) else samples[0][1]
    final = samples[-1][1]
    return {"minutes": minutes, "rss_mib_1min": at_1, "rss_mib_end": final,
            "growth_percent": round(100 * (final - at_1) / at_1, 2), "samples": samples,
            "processed": int(observer.diag.get("processed", 0)), "dropped": int(observer.diag.get("dropped_frames", 0))}


if __name__ == "__main__":
    sys.exit(main())
