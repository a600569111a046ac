"""tvau learn-normal --dataset and tvau eval pipeline on a tiny generated benchmark: scene models per
scene, every frame of every video through the node's pipeline, one row per method."""
import json

import numpy as np
import pytest
from tvau_data_fixtures import tiny_config

from tvau_ros.cli import main
from tvau_ros.data import load_dataset
from tvau_ros.evaluation.pipeline_eval import run_video
from tvau_ros.core.pipeline import AnomalyPipeline

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """The data tests' tiny benchmark with 4-5 s videos (the engine's background needs 1.6 s)."""
    from tvau_ros.data.synthetic import generate_dataset

    out = tmp_path_factory.mktemp("tiny_long")
    generate_dataset(tiny_config(frames=[60, 75]), out, workers=1, progress=False)
    return out / "ubnormal"


def test_per_scene_models_and_an_evaluation_of_every_frame(root, tmp_path, capsys):
    scenes = tmp_path / "scenes"
    assert main(["learn-normal", "--dataset", str(root), "--split", "train", "--per-scene", "--out", str(scenes)]) == 0
    learnt = sorted(p.stem for p in scenes.glob("*.safetensors"))
    train_scenes = sorted({v.scene for v in load_dataset(root, "train")})
    assert learnt == train_scenes
    out = tmp_path / "eval"
    assert main(["eval", "pipeline", "--dataset", str(root), "--split", "test", "--out", str(out), "--quiet",
                 "--method", "behaviour=default", "--method", "generic=default", "--set", "generic:scene=",
                 "--method", "motion=default", "--set", "motion:engine=motion_baseline",
                 "--scene-models", str(scenes)]) == 0
    printed = capsys.readouterr().out
    rows = json.loads((out / "summary.json").read_text())["test"]
    videos = load_dataset(root, "test")
    assert [r["method"] for r in rows] == ["behaviour", "generic", "motion"]
    assert all(r["frames"] == sum(v.num_frames for v in videos) for r in rows)
    assert all(0.0 <= r["micro_auc"] <= 100.0 and "cycling" in r["micro_auc_by_type"] for r in rows)
    assert all(set(r["episodes"]) >= {"false_episodes_per_min_normal", "targets", "targets_with_episode"} for r in rows)
    for name in ("behaviour", "generic", "motion"):
        report = json.loads((out / "test" / name / "report.json").read_text())
        assert report["frame"]["num_videos"] == len(videos) and "episodes" in report
    assert "micro AUC by anomaly type" in printed and "false ep/min" in printed
    # detection recall: the object-level engine reports its objects, the heatmap engine none
    recall = rows[0]["object_recall"]
    assert recall["targets"] == rows[0]["episodes"]["targets"] > 0 and recall["boxes"] > 0
    assert 0.0 <= recall["recall_iou_0.5"] <= recall["recall_iou_0.1"] <= 100.0
    assert rows[2]["object_recall"] is None and "object recall" in printed


def test_every_frame_gets_a_score_from_the_pipeline(root):
    video = load_dataset(root, "test")[0]
    run = run_video(video, AnomalyPipeline.from_config(overrides={"engine": "motion_baseline"}))
    assert run.scores.shape == (video.num_frames,) and not np.isnan(run.scores).any()


@pytest.mark.parametrize("args, message", [
    (["--split", "test"], "nothing to evaluate"),
    (["--method", "x=default", "--set", "y:regions.threshold=0.6"], "no method 'y'"),
    (["--method", "x=default", "--set", "x:regions.treshold=0.6"], "unknown pipeline option 'regions.treshold'"),
])
def test_bad_evaluation_arguments_exit_2_with_one_line(root, tmp_path, capsys, args, message):
    assert main(["eval", "pipeline", "--dataset", str(root), "--out", str(tmp_path / "o"), "--quiet", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_the_person_detector_trains_on_the_benchmark_and_the_engine_evaluates_with_it(root, tmp_path, capsys):
    import yaml
    from tvau_data_fixtures import TINY

    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(dict(TINY, frames=[60, 75])))
    weights = tmp_path / "det.safetensors"
    assert main(["train", "detector", "--dataset", str(root), "--config", str(config), "--out", str(weights),
                 "--epochs", "1", "--every", "6", "--batch", "2", "--width", "8", "--workers", "1", "--quiet"]) == 0
    card = yaml.safe_load(weights.with_suffix(".yaml").read_text())
    assert card["width"] == 8 and card["threshold"] == 0.3 and card["parameters"] > 1000
    assert 0.0 <= card["validation"]["precision"] <= 100.0 and card["validation"]["videos"] == 1
    assert card["command"].startswith("tvau train detector") and "--width 8" in card["command"]
    assert "validation (every 4th video): precision" in capsys.readouterr().out
    out = tmp_path / "eval"
    assert main(["eval", "pipeline", "--dataset", str(root), "--split", "test", "--out", str(out), "--quiet",
                 "--method", "detector=default", "--set", f"detector:behaviour.detector={weights}",
                 "--set", "detector:scene="]) == 0
    row = json.loads((out / "summary.json").read_text())["test"][0]
    assert row["frames"] == sum(v.num_frames for v in load_dataset(root, "test"))
    assert row["object_recall"]["boxes"] > 0
    # another generator config renders other videos: an error naming the mismatch, not wrong labels
    config.write_text(yaml.safe_dump(dict(TINY, frames=[60, 75], seed=6)))
    assert main(["train", "detector", "--dataset", str(root), "--config", str(config), "--out", str(weights),
                 "--epochs", "1", "--workers", "1", "--quiet"]) == 2
    assert "pass the --config and --generator-seed it was generated with" in capsys.readouterr().err
