"""The real-footage check (``tvau eval realcheck``): every method on both folds of the vtest
check set (``tvau data realcheck``), scored as one set.

For each fold and each method whose engine is the behaviour engine, a scene model is learnt
from that fold's learning footage (its ``train`` split, frames the fold's check clips do not
contain) with the method's own config (a scene model holds the statistics of the objects that
method's engine sees) through ``learn_from_frames``, the path ``tvau learn-normal`` takes, and
saved as ``scene_dir/METHOD/vtest_<fold>``; a method whose overrides name a scene keeps it
(``scene: ''`` = the generic model). Every method then runs on the fold's check clips through
``pipeline_eval`` (the node's pipeline, every frame). The runs of both folds
are scored together: frame AUCs, RBDC/TBDC, AUC per composited kind, episodes on the normal
clips per minute.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

from tvau_ros.core.behaviour.learning import STREAM_START_NS, learn_from_frames
from tvau_ros.core.pipeline import AnomalyPipeline
from tvau_ros.core.pipeline_config import load_pipeline_config
from tvau_ros.core.types import NS_PER_S
from tvau_ros.data.dataset import VideoSample, load_dataset
from tvau_ros.evaluation.pipeline_eval import evaluate_runs, run_method, save_frame_scores
from tvau_ros.metrics.report import EvalOptions, write_evaluation

FOLDS = ("fold_a", "fold_b")


def learn_fold_scene(root: Path, fold: str, scene_dir: Path, config: str | None, overrides: dict | None = None) -> Path:
    """The fold's scene model, learnt from its learning footage with ``config`` + ``overrides``,
    saved as ``scene_dir/vtest_<fold>``."""
    learning = load_dataset(root / fold, "train")
    if len(learning) != 1:
        raise ValueError(f"{root / fold}: expected one learning video in the train split, found {len(learning)}")
    video = learning[0]
    period = NS_PER_S / float(video.fps)
    frames = ((image, STREAM_START_NS + int(round(t * period))) for t, image in enumerate(video.read_frames()))
    cfg = load_pipeline_config(None if config in (None, "default") else config,
                               {**(overrides or {}), "engine": "behaviour", "scene": ""})
    result = learn_from_frames(AnomalyPipeline.from_config(cfg=cfg), frames, f"vtest_{fold}",
                               {"source": f"{root / fold}: {video.name}"})
    return result.model.save(scene_dir / f"vtest_{fold}")


def _make(cfg: dict, _video: VideoSample) -> AnomalyPipeline:
    return AnomalyPipeline.from_config(cfg=cfg)


def evaluate_realcheck(root: str | Path, methods: dict[str, str], overrides: dict[str, dict], options: EvalOptions,
                       out_dir: str | Path, scene_dir: str | Path, workers: int = 1,
                       progress: bool = True) -> list[dict]:
    """Rows of every method over both folds (and report.json + plots per method in ``out_dir``)."""
    root, out_dir, scene_dir = Path(root), Path(out_dir), Path(scene_dir)
    videos = {fold: load_dataset(root / fold, "test") for fold in FOLDS}
    rows = []
    for name, config in methods.items():
        runs, all_videos = {}, []
        own = overrides.get(name, {})
        for fold in FOLDS:
            cfg = load_pipeline_config(None if config == "default" else config,
                                       {**own, "regions": {**own.get("regions", {}),
                                                           "candidate_threshold": options.base_threshold}})
            if cfg["engine"] == "behaviour" and "scene" not in own:
                cfg["scene"] = str(learn_fold_scene(root, fold, scene_dir / name, config, own))
            runs.update(run_method(videos[fold], partial(_make, cfg), workers, progress))
            all_videos += videos[fold]
        evaluation, row = evaluate_runs(name, all_videos, runs, options)
        write_evaluation(evaluation, out_dir / name)
        save_frame_scores(runs, out_dir / name / "frame_scores.npz")
        rows.append(row)
    return rows
