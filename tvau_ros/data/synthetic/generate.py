"""Plan, render (in parallel) and write the synthetic open-set benchmark, then its statistics.

>>> from tvau_ros.data.synthetic.config import load_generator_config
>>> jobs = plan_jobs(load_generator_config("smoke"))
>>> sorted({j.split for j in jobs})
['test', 'train', 'validation']
"""
from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from tvau_ros.data.synthetic.anomalies import ANOMALY_TYPES
from tvau_ros.data.synthetic.config import ConfigError, GeneratorConfig
from tvau_ros.data.synthetic.scene import make_scene_spec
from tvau_ros.data.synthetic.video import SPLIT_CODES, VideoJob
from tvau_ros.data.ubnormal import split_file_name

SPLIT_ORDER = ("train", "validation", "test")


class GenerateError(RuntimeError):
    """The output folder or the config cannot be used; the message says why."""


def plan_jobs(cfg: GeneratorConfig, seed: int | None = None) -> list[VideoJob]:
    """Every video's job: split, scene, anomaly types, length, names (deterministic)."""
    seed = cfg.seed if seed is None else seed
    specs = [make_scene_spec(seed, i, cfg.width, cfg.height) for i in range(1, cfg.scenes + 1)]
    jobs: list[VideoJob] = []
    counters: dict = defaultdict(int)
    for split in SPLIT_ORDER:
        sc = cfg.splits.get(split)
        if sc is None or sc.videos == 0:
            continue
        rng = np.random.default_rng([seed, 31, SPLIT_CODES[split]])
        n_abn = int(round(sc.videos * sc.abnormal_fraction)) if sc.anomaly_types else 0
        kinds = ["abnormal"] * n_abn + ["normal"] * (sc.videos - n_abn)
        type_cycle = []
        for i, kind in enumerate(kinds):
            types: list[str] = []
            if kind == "abnormal":
                if not type_cycle:
                    type_cycle = list(rng.permutation(sc.anomaly_types))
                types = [str(type_cycle.pop())]
                if rng.random() < cfg.second_target_fraction:
                    types.append(str(sc.anomaly_types[rng.integers(len(sc.anomaly_types))]))
            needs_one_way = any(ANOMALY_TYPES[t].needs_one_way for t in types)
            pool = [s for s in specs if s.one_way] if needs_one_way else specs
            if not pool:
                raise ConfigError(f"{cfg.source}: {types[0]} needs a scene with a one-way walkway; "
                                  f"raise 'scenes' (one-way scenes are the first 14)")
            spec = pool[rng.integers(len(pool))]
            counters[(kind, spec.index)] += 1
            name = f"{kind}_scene_{spec.index}_scenario_{counters[(kind, spec.index)]}"
            sh_name = None
            if split in cfg.shanghaitech_splits:
                counters[("sh", spec.index)] += 1
                sh_name = f"{spec.index:02d}_{counters[('sh', spec.index)]:04d}"
            jobs.append(VideoJob(name, split, i, seed, spec, int(rng.integers(cfg.frames[0], cfg.frames[1] + 1)),
                                 cfg.fps, types, cfg.pedestrians, cfg.subtle_fraction, cfg.effects, sh_name))
    return jobs


def _work(args: tuple[VideoJob, str]) -> dict:
    job, root = args
    import cv2

    from tvau_ros.data.synthetic.video import render_job
    from tvau_ros.data.synthetic.writer import write_result

    cv2.setNumThreads(1)
    return write_result(render_job(job), Path(root))


def _prepare_out(out: Path, overwrite: bool) -> None:
    ours = [out / "ubnormal", out / "shanghaitech", out / "stats.json"]
    present = [p for p in ours if p.exists()]
    if present and not overwrite:
        raise GenerateError(f"{out} already holds generated data ({present[0].name}); "
                            f"pass --overwrite or choose another --out")
    for p in present:
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    out.mkdir(parents=True, exist_ok=True)


def generate_dataset(cfg: GeneratorConfig, out: str | Path, seed: int | None = None, workers: int = 1,
                     progress: bool = True, overwrite: bool = False) -> dict:
    """Generate the benchmark under ``out``; returns (and writes) ``stats.json``."""
    out = Path(out)
    t0 = time.time()
    if any(s not in ("test",) for s in cfg.shanghaitech_splits):
        raise ConfigError(f"{cfg.source}: shanghaitech_splits may only contain 'test' "
                          f"(the ShanghaiTech layout has pixel masks for its test split only)")
    jobs = plan_jobs(cfg, seed)
    _prepare_out(out, overwrite)
    args = [(j, str(out)) for j in sorted(jobs, key=lambda j: -j.num_frames)]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(args), desc=f"generating {cfg.name}", unit="video")
    summaries = []
    try:
        if workers <= 1:
            for a in args:
                summaries.append(_work(a))
                bar and bar.update(1)
        else:
            with mp.get_context("fork").Pool(workers) as pool:
                for s in pool.imap_unordered(_work, args):
                    summaries.append(s)
                    bar and bar.update(1)
    finally:
        if bar:
            bar.close()
    _write_split_files(out / "ubnormal", summaries)
    stats = compute_stats(summaries, cfg.width * cfg.height)
    stats.update({"config": cfg.name, "seed": cfg.seed if seed is None else seed, "workers": workers,
                  "width": cfg.width, "height": cfg.height, "fps": cfg.fps, "scenes": cfg.scenes,
                  "generation_seconds": round(time.time() - t0, 1)})
    (out / "stats.json").write_text(json.dumps(stats, indent=1))
    return stats


def _write_split_files(base: Path, summaries: list[dict]) -> None:
    base.mkdir(parents=True, exist_ok=True)
    for split in SPLIT_ORDER:
        for kind in ("abnormal", "normal"):
            names = sorted(s["name"] for s in summaries
                           if s["split"] == split and s["abnormal"] == (kind == "abnormal"))
            (base / split_file_name(kind, split)).write_text("".join(n + "\n" for n in names))


def compute_stats(summaries: list[dict], frame_area: int) -> dict:
    out = {"splits": {}}
    groups = {s: [x for x in summaries if x["split"] == s] for s in SPLIT_ORDER}
    groups["all"] = summaries
    for split, items in groups.items():
        if not items:
            continue
        frames = sum(x["frames"] for x in items)
        abn = sum(x["abnormal_frames"] for x in items)
        targets = [t for x in items for t in x["targets"]]
        weight = sum(t[2] for t in targets)
        out["splits"][split] = {
            "videos": len(items), "abnormal_videos": sum(x["abnormal"] for x in items),
            "frames": frames, "abnormal_frames": abn, "abnormal_frame_ratio": round(abn / max(1, frames), 4),
            "anomaly_types": sorted({t[0] for t in targets}), "targets": len(targets),
            "subtle_targets": sum(bool(t[3]) for t in targets),
            "mean_target_size_px": round(sum(t[1] * t[2] for t in targets) / weight, 1) if weight else 0.0,
            "scenes": len({x["scene"] for x in items}), "layouts": len({x["layout"] for x in items}),
        }
    return out


def format_stats(stats: dict) -> str:
    lines = [f"{'split':<11}{'videos':>7}{'abn':>5}{'frames':>8}{'abn.ratio':>10}{'targets':>8}"
             f"{'subtle':>7}{'size px':>9}  anomaly types"]
    for split, s in stats["splits"].items():
        lines.append(f"{split:<11}{s['videos']:>7}{s['abnormal_videos']:>5}{s['frames']:>8}"
                     f"{s['abnormal_frame_ratio']:>10.3f}{s['targets']:>8}{s['subtle_targets']:>7}"
                     f"{s['mean_target_size_px']:>9.1f}  "
                     f"{', '.join(s['anomaly_types']) if split != 'all' else len(s['anomaly_types'])}")
    if "generation_seconds" in stats:
        lines.append(f"generated in {stats['generation_seconds']} s ({stats.get('workers', 1)} workers)")
    return "\n".join(lines)
