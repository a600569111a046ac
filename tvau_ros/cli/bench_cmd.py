"""``tvau bench ahd``: throughput, latency and memory of encoder + AHD per runtime.

    tvau bench ahd --random-init --runtime torch onnxruntime --iters 20 --json bench.json

Each runtime runs in a fresh process (so its peak RSS is its own), loading what a deployment
loads: the torch engine from an AHD checkpoint (no text encoder), the onnxruntime engine
from the exported graph. Latency is per clip of ``--frames`` frames, encoder + AHD on a
preprocessed clip; preprocessing (resize + normalize of 640x480 frames) is reported apart.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import tempfile
from pathlib import Path

from tvau_ros.cli import CliError, add_device_option, check_device
from tvau_ros.cli.export_cmd import add_model_options, load_torch_engine

RUNTIMES = ("torch", "onnxruntime")


def _peak_rss_mb() -> float:
    """Peak resident memory of this process image. VmHWM, not getrusage's ru_maxrss: Linux
    carries ru_maxrss over fork + exec, so a spawned child would report its parent's peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _bench_worker(job: dict) -> dict:
    """Runs in a spawned process; returns the measurements of one runtime."""
    import time

    import numpy as np

    start = time.perf_counter()
    if job["runtime"] == "torch":
        import torch

        torch.set_num_threads(job["threads"])
        from tvau_ros.core.ahd import TorchAHDEngine

        engine = TorchAHDEngine.from_checkpoint(job["checkpoint"], device=job["device"])
        if tuple(engine.input_size) != tuple(job["input_size"]):
            import dataclasses

            engine = TorchAHDEngine(engine.backbone, engine.head,
                                    dataclasses.replace(engine.config, input_size=tuple(job["input_size"])),
                                    engine.model_id, device=job["device"])
    else:
        from tvau_ros.core.ahd_ort import OrtAHDEngine

        engine = OrtAHDEngine(job["onnx"], providers=job["providers"], threads=job["threads"])
    load_s = time.perf_counter() - start
    frames = np.random.default_rng(0).integers(0, 256, (job["frames"], 480, 640, 3), dtype=np.uint8)
    pre = []
    for _ in range(3):
        t0 = time.perf_counter()
        clip = engine.preprocess(frames)
        pre.append(time.perf_counter() - t0)
    for _ in range(job["warmup"]):
        engine.infer_preprocessed(clip)
    latencies, cpu_times = [], []
    for _ in range(job["iters"]):
        t0, c0 = time.perf_counter(), time.process_time()
        engine.infer_preprocessed(clip)
        latencies.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    lat = np.asarray(latencies) * 1000.0
    return {
        "runtime": job["runtime"],
        "providers": getattr(engine, "providers", [f"torch-{job['device']}"]),
        "input_size": list(engine.input_size),
        "frames_per_clip": job["frames"],
        "iters": job["iters"],
        "threads": job["threads"],
        "fps": job["frames"] * job["iters"] / float(np.sum(lat) / 1000.0),
        "latency_ms_p50": float(np.percentile(lat, 50)),
        "latency_ms_p95": float(np.percentile(lat, 95)),
        "preprocess_ms_p50": float(np.median(pre) * 1000.0),
        # CPU time of this process per clip (all threads): less sensitive than wall-clock
        # latency to other processes sharing the cores
        "cpu_ms_per_clip_p50": float(np.median(cpu_times) * 1000.0),
        "load_s": load_s,
        "peak_rss_mb": _peak_rss_mb(),
    }


def format_table(rows: list[dict]) -> str:
    header = (f"{'runtime':<12} {'input':>9} {'frames':>6} {'fps':>7} {'p50 ms':>8} {'p95 ms':>8} {'cpu ms':>8} "
              f"{'pre ms':>7} {'RSS MB':>7}  providers")
    lines = [header, "-" * len(header)]
    for r in rows:
        size = "x".join(str(v) for v in r["input_size"])
        lines.append(f"{r['runtime']:<12} {size:>9} {r['frames_per_clip']:>6} {r['fps']:>7.2f} "
                     f"{r['latency_ms_p50']:>8.1f} {r['latency_ms_p95']:>8.1f} {r['cpu_ms_per_clip_p50']:>8.1f} "
                     f"{r['preprocess_ms_p50']:>7.1f} {r['peak_rss_mb']:>7.0f}  {','.join(r['providers'])}")
    return "\n".join(lines)


def _run_ahd(args: argparse.Namespace) -> int:
    from tvau_ros.core.checkpoint import save_ahd_checkpoint
    from tvau_ros.export.onnx_export import export_ahd_onnx

    device = check_device(args.device)
    engine = load_torch_engine(args)
    frames = args.frames or engine.clip_len
    input_size = list(engine.input_size)
    with tempfile.TemporaryDirectory(prefix="tvau_bench_") as tmp:
        checkpoint = args.checkpoint or str(save_ahd_checkpoint(Path(tmp) / "ahd.safetensors", engine.head,
                                                                engine.config, engine.model_id))
        onnx_path = args.onnx
        if "onnxruntime" in args.runtime and not onnx_path:
            onnx_path = str(export_ahd_onnx(engine, Path(tmp) / "ahd.onnx", frames=frames))
        del engine
        rows = []
        context = multiprocessing.get_context("spawn")
        for runtime in args.runtime:
            job = {"runtime": runtime, "checkpoint": checkpoint, "onnx": onnx_path, "frames": frames,
                   "iters": args.iters, "warmup": args.warmup, "threads": args.threads,
                   "providers": args.providers, "input_size": input_size, "device": device}
            with context.Pool(1) as pool:
                try:
                    rows.append(pool.apply(_bench_worker, (job,)))
                except (FileNotFoundError, ValueError) as exc:
                    raise CliError(f"{runtime}: {exc}") from exc
    print(format_table(rows))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    bench = subparsers.add_parser("bench", help="benchmarks")
    kinds = bench.add_subparsers(dest="bench_kind", metavar="KIND", required=True)
    ahd = kinds.add_parser("ahd", help="frames/s, latency p50/p95 and peak RSS of encoder + AHD")
    add_model_options(ahd)
    ahd.add_argument("--runtime", nargs="+", choices=RUNTIMES, default=list(RUNTIMES), help="runtimes to measure")
    ahd.add_argument("--onnx", metavar="FILE", help="exported graph for onnxruntime (default: export one)")
    ahd.add_argument("--providers", nargs="+", metavar="EP", help="onnxruntime providers (tensorrt, cuda, cpu)")
    ahd.add_argument("--frames", type=_positive, help="frames per clip (default: clip_len)")
    ahd.add_argument("--iters", type=_positive, default=10, help="timed clips per runtime (default 10)")
    ahd.add_argument("--warmup", type=int, default=2, help="untimed clips first (default 2)")
    ahd.add_argument("--threads", type=_positive, default=2, help="intra-op threads (default 2)")
    ahd.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    add_device_option(ahd, "the torch runtime")
    ahd.set_defaults(func=_run_ahd)
