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
