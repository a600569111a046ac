"""Whole evaluations (report.py) and the `tvau eval predictions` command on fake videos."""
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tvau_ros.cli import main
from tvau_ros.metrics.predictions import PredictionError, Predictions, load_predictions
from tvau_ros.metrics.report import EvalOptions, evaluate_predictions, write_evaluation

FIXTURES = Path(__file__).parents[1] / "fixtures" / "metrics"


def load_fake_videos():
    """test/fixtures/metrics/fake_videos.py, imported once by path (fixtures are no package)."""
    name = "metrics_fake_videos"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, FIXTURES / "fake_videos.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


fake = load_fake_videos()


def split_videos():
    """The split of two_tracks_one_normal.jsonl: two abnormal 5-frame videos and a normal one."""
    return [fake.constant_track_video("a", 5), fake.constant_track_video("b", 5), fake.FakeVideo("n", 5)]


def test_fixture_file_hand_computed_values(tmp_path):
    evaluation = evaluate_predictions(load_predictions(FIXTURES / "two_tracks_one_normal.jsonl"),
                                      split_videos())
    frame, region = evaluation.report["frame"], evaluation.report["region"]
    assert frame["micro_auc"] == pytest.approx(80.0)
    assert frame["macro_auc"] == pytest.approx((100 + 100 + 100 * 5.5 / 6) / 3)
    assert frame["single_class_videos"] == 3 and frame["num_frames"] == 15
    assert region["rbdc"] == 100.0 and region["tbdc"] == 100.0
    assert (region["total_frames"], region["num_gt_regions"], region["num_gt_tracks"]) == (15, 10, 2)
    assert region["reached_fpr_1"] is False

    written = write_evaluation(evaluation, tmp_path / "out")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["plots"] == {"frame_roc": "frame_roc.png", "rbdr": "rbdr.png", "tbdr": "tbdr.png"}
    for key in ("frame_roc", "rbdr", "tbdr"):
        assert written[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_heatmaps_give_frame_scores_and_detections(tmp_path):
    videos = split_videos()
    maps = {}
    for video in videos:
        stack = np.full((5, 6, 8), 0.05, np.float32)   # 6 x 8 cells over a 24 x 32 frame: 4 px each
        if video.is_abnormal:
            stack[:, 1:4, 1:3] = 0.9                   # cells -> pixels (4, 4, 11, 15) ~ GT (2, 3, 11, 12)
        maps[f"heatmaps/{video.name}"] = stack
    np.savez(tmp_path / "h.npz", **maps)
    evaluation = evaluate_predictions(load_predictions(tmp_path / "h.npz"), videos)
    frame, region = evaluation.report["frame"], evaluation.report["region"]
    assert frame["scores_from"] == {"frame_scores": 0, "heatmap_max": 3} and frame["micro_auc"] == 100.0
    assert region["detections_from"] == "heatmaps" and region["base_threshold"] == 0.5
    # IoU of (4, 4, 11, 15) with (2, 3, 11, 12): 8*9 / (8*12 + 10*10 - 72) = 0.58 >= beta
    assert region["rbdc"] == 100.0 and region["false_positives"] == 0


def test_missing_videos_fail_unless_allowed_and_then_are_counted():
    preds = Predictions("p.jsonl", frame_scores={"a": np.full(5, 0.5), "n": np.zeros(5)})
    with pytest.raises(PredictionError, match="p.jsonl: no frame scores for 1 of 3 videos \\(first: 'b'\\)"):
        evaluate_predictions(preds, split_videos())
    evaluation = evaluate_predictions(preds, split_videos(), EvalOptions(allow_missing=True))
    assert evaluation.report["skipped"] == {"videos_without_frame_scores": ["b"]}
    assert evaluation.report["frame"]["num_videos"] == 2 and evaluation.report["region"] is None


@pytest.mark.parametrize("preds, message", [
    (Predictions("p", frame_scores={"zz": np.zeros(5)}), "not in the evaluated split \\(first: 'zz'\\)"),
    (Predictions("p", frame_scores={v: np.zeros(4) for v in "abn"}), "4 frame scores for 5 frames"),
    (Predictions("p", frame_scores={v: np.full(5, 2.0) for v in "abn"}), "scores must lie in \\[0, 1\\]"),
    (Predictions("p", heatmaps={v: np.zeros((5, 2)) for v in "abn"}),
     "heatmaps must have shape \\(5, h, w\\)"),
    (Predictions("p", heatmaps={v: np.full((5, 2, 2), np.nan) for v in "abn"}), "NaN"),
])
def test_inconsistent_predictions_name_file_and_video(preds, message):
    with pytest.raises(PredictionError, match=f"^p: .*{message}"):
        evaluate_predictions(preds, split_videos())


def test_detection_beyond_the_last_frame(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = [{"video": v, "detections": [[5 if v == "b" else 0, 0, 0, 3, 3, 0.4]]} for v in "abn"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(PredictionError, match="d.jsonl: video 'b': detection in frame 5, video has 5 frames"):
        evaluate_predictions(load_predictions(path), split_videos())


def test_region_metrics_undefined_without_abnormal_videos():
    preds = Predictions("p", detections={"n": []})
    report = evaluate_predictions(preds, [fake.FakeVideo("n", 5)]).report
    assert report["region"]["rbdc"] is None and "no ground-truth" in report["region"]["undefined"]


@pytest.fixture
def fake_split(monkeypatch):
    """The CLI's dataset loader returns the fake split (the data readers are tested elsewhere)."""
    import tvau_ros.cli.eval_cmd as eval_cmd

    monkeypatch.setattr(eval_cmd, "load_videos", lambda root, split: split_videos())


def test_cli_eval_predictions_writes_report(fake_split, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["eval", "predictions", "--dataset", "ROOT", "--pred",
                 str(FIXTURES / "two_tracks_one_normal.jsonl"), "--out", str(out)])
    assert code == 0
    assert "micro AUC 80.00%" in capsys.readouterr().out
    assert json.loads((out / "report.json").read_text())["region"]["tbdc"] == 100.0


def test_cli_bad_prediction_file_is_one_line_error(fake_split, tmp_path, capsys):
    code = main(["eval", "predictions", "--dataset", "ROOT", "--pred", str(FIXTURES / "nan_score.jsonl"),
                 "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0
    assert err.startswith("tvau: error: ") and "nan_score.jsonl: line 2: frame_scores[1] is nan" in err


def test_cli_rejects_bad_alpha(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "predictions", "--dataset", "R", "--pred", "p.jsonl", "--out", "o", "--alpha", "0"])
    assert "--alpha: must be in (0, 1]" in capsys.readouterr().err


def _dataset_loader():
    try:
        from tvau_ros.data import load_dataset
    except ImportError:
        try:
            from tvau_ros.data.dataset import load_dataset
        except ImportError:
            return None
    return load_dataset


def write_ubnormal_layout(root: Path) -> None:
    """A two-video UBnormal-layout split as in the dataset API contract (5 frames, 32 x 24)."""
    import cv2

    scene = root / "ubnormal" / "Scene1"
    scene.mkdir(parents=True)
    for name in ("abnormal_scene_1_scenario_1", "normal_scene_1_scenario_1"):
        writer = cv2.VideoWriter(str(scene / f"{name}.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 30, (32, 24))
        for i in range(5):
            writer.write(np.full((24, 32, 3), 40 * i, np.uint8))
        writer.release()
    ann = scene / "abnormal_scene_1_scenario_1_annotations"
    ann.mkdir()
    (ann / "abnormal_scene_1_scenario_1_tracks.txt").write_text("1,1,3\n")
    for frame in (1, 2, 3):
        mask = np.zeros((24, 32), np.uint8)
        mask[3:13, 2:12] = 1
        cv2.imwrite(str(ann / f"abnormal_scene_1_scenario_1_{frame:04d}_gt.png"), mask)
    for kind in ("abnormal", "normal"):
        for split in ("training", "validation", "test"):
            names = f"{kind}_scene_1_scenario_1\n" if split == "test" else ""
            (root / "ubnormal" / f"{kind}_{split}_video_names.txt").write_text(names)


@pytest.mark.skipif(_dataset_loader() is None, reason="tvau_ros.data readers not installed")
def test_cli_on_a_ubnormal_layout_dataset(tmp_path, capsys):
    write_ubnormal_layout(tmp_path / "data")
    box = [2, 3, 11, 12]
    rows = [{"video": "abnormal_scene_1_scenario_1", "frame_scores": [0.1, 0.9, 0.8, 0.7, 0.2],
             "detections": [[f, *box, 0.9] for f in (1, 2, 3)] + [[4, *box, 0.3]]},
            {"video": "normal_scene_1_scenario_1", "frame_scores": [0.1] * 5, "detections": []}]
    pred = tmp_path / "pred.jsonl"
    pred.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code = main(["eval", "predictions", "--dataset", str(tmp_path / "data"), "--split", "test",
                 "--pred", str(pred), "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["frame"]["micro_auc"] == 100.0
    # 3 TP at FPR 0, then 1 FP of 10 frames; flat to FPR 1: RBDC = TBDC = 100
    assert report["region"]["rbdc"] == 100.0 and report["region"]["false_positives"] == 1
