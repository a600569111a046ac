"""Prediction files: the documented .jsonl / .npz formats and their error messages."""
from pathlib import Path

import numpy as np
import pytest

from tvau_ros.metrics.predictions import PredictionError, load_predictions

FIXTURES = Path(__file__).parents[1] / "fixtures" / "metrics"


def test_jsonl_fixture_loads():
    preds = load_predictions(FIXTURES / "two_tracks_one_normal.jsonl")
    assert preds.videos() == {"a", "b", "n"}
    assert preds.frame_scores["n"].tolist() == [0.1, 0.2, 1.0, 0.2, 0.1]
    assert len(preds.detections["a"]) == 5 and preds.detections["n"] == []
    det = preds.detections["b"][2]
    assert (det.video, det.frame, det.box, det.score) == ("b", 2, (2.0, 3.0, 11.0, 12.0), 0.8)


def test_npz_with_all_kinds(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, **{"frame_scores/v1": np.linspace(0, 1, 4), "heatmaps/v1": np.zeros((4, 3, 3)),
                      "heatmaps/v 2": np.ones((2, 3, 3))})
    preds = load_predictions(path)
    assert preds.videos() == {"v1", "v 2"} and preds.heatmaps["v 2"].shape == (2, 3, 3)
    np.savez(path, **{"detections/v1": np.array([[0, 1, 1, 4, 4, 0.7]])})
    assert load_predictions(path).detections["v1"][0].box == (1.0, 1.0, 4.0, 4.0)


@pytest.mark.parametrize("name, message", [
    ("empty.jsonl", "empty prediction file \\(0 bytes\\)"),
    ("blank_lines.jsonl", "empty prediction file \\(no records\\)"),
    ("nan_score.jsonl", "line 2: frame_scores\\[1\\] is nan"),
    ("not_json.jsonl", "line 2: not valid JSON"),
    ("missing.jsonl", "prediction file not found"),
])
def test_bad_fixture_files_are_named(name, message):
    with pytest.raises(PredictionError, match=f"{name}: {message}"):
        load_predictions(FIXTURES / name)


@pytest.mark.parametrize("line, message", [
    ('{"video": "a", "frame_scores": []}', "non-empty 1-D"),
    ('{"video": "a", "frame_scores": ["x"]}', "list of numbers"),
    ('{"video": "a", "frame_scores": [0.1, Infinity]}', "frame_scores\\[1\\] is inf"),
    ('{"video": "a"}', "neither"),
    ('{"frame_scores": [0.1]}', 'string "video"'),
    ('{"video": "a", "scores": [0.1]}', "unknown keys \\['scores'\\]"),
    ('{"video": "a", "detections": [[0, 1, 1, 2]]}', "6-number rows"),
    ('{"video": "a", "detections": [[0, 1, 1, 2, 2, NaN]]}', "detection 0 has a NaN"),
    ('{"video": "a", "detections": [[0, "x", 1, 2, 2, 0.3]]}', "numeric rows"),
    ('{"video": "a", "detections": [[1.5, 1, 1, 2, 2, 0.3]]}', "frame 1.5, not a frame index"),
    ('{"video": "a", "detections": [[0, 5, 1, 2, 2, 0.3]]}', "x_max < x_min"),
    ('{"video": "a", "frame_scores": [0.1]}\n{"video": "a", "frame_scores": [0.1]}',
     "line 2: video 'a' appears twice"),
])
def test_bad_jsonl_records(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(PredictionError, match=f"bad.jsonl: .*{message}"):
        load_predictions(path)


@pytest.mark.parametrize("arrays, message", [
    ({}, "empty prediction file \\(no arrays\\)"),
    ({"scores/v": np.zeros(3)}, "names must be <kind>/<video>"),
    ({"detections/v": np.zeros((2, 5))}, "expected shape \\(N, 6\\)"),
    ({"frame_scores/v": np.array([0.2, np.nan])}, "frame_scores\\[1\\] is nan"),
    ({"detections/v": np.zeros((0, 6)), "heatmaps/v": np.zeros((1, 2, 2))}, "both detections and heatmaps"),
])
def test_bad_npz_archives(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(PredictionError, match=f"bad.npz: .*{message}"):
        load_predictions(path)


def test_unknown_suffix_and_garbage_npz(tmp_path):
    (tmp_path / "p.csv").write_text("1,2\n")
    with pytest.raises(PredictionError, match="unknown prediction file type '.csv'"):
        load_predictions(tmp_path / "p.csv")
    (tmp_path / "p.npz").write_text("not a zip")
    with pytest.raises(PredictionError, match="p.npz: not a readable .npz archive"):
        load_predictions(tmp_path / "p.npz")
