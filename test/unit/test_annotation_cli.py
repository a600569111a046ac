"""`tvau data annotate` end to end on a tiny generated dataset (UBnormal and ShanghaiTech layouts)."""
import json

import pytest

from tvau_ros.cli import main
from tvau_ros.data.annotation.dialogue import QUESTION_JUDGMENT, TURN_KINDS, read_jsonl

from tvau_data_fixtures import generated_root  # noqa: E402  (the data tests' tiny dataset, made once)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return generated_root(tmp_path_factory)


def test_annotate_writes_dialogues_and_an_accuracy_report(root, tmp_path, capsys):
    out, report_path = tmp_path / "train.jsonl", tmp_path / "report.json"
    assert main(["data", "annotate", "--dataset", str(root), "--split", "train", "--out", str(out),
                 "--report", str(report_path)]) == 0
    printed = capsys.readouterr().out
    assert "accuracy vs generator ground truth" in printed and "entry/exit side" in printed
    report = json.loads(report_path.read_text())
    counts = report["counts"]
    assert report["videos"] == (counts["normal"] + counts["abnormal"] + counts["dropped_inconsistent"]
                                + counts["skipped"])
    samples = read_jsonl(out)
    assert len(samples) == report["samples_written"] >= 1
    for s in samples:
        assert s.turns[0].question == QUESTION_JUDGMENT
        if s.abnormal:
            assert [t.kind for t in s.turns] == list(TURN_KINDS)
            assert all(len(t.answers) >= 3 for t in s.turns)
            assert all(t.boxes for t in s.targets)
        else:
            assert len(s.turns) == 1 and s.turns[0].answers[0] == "No."
    acc = report["accuracy"]
    assert acc["targets_matched"] == acc["targets_true"] >= 1
    assert acc["entry_exit_side"] >= 75.0 and acc["size_class"] is not None
    assert set(report["goals_met"]) == {"color", "entry_exit_side", "turn_detection"}


def test_annotate_shanghaitech_layout_with_binary_masks(root, tmp_path):
    out = tmp_path / "sh.jsonl"
    assert main(["data", "annotate", "--dataset", str(root), "--layout", "shanghaitech", "--split", "test",
                 "--out", str(out)]) == 0
    samples = read_jsonl(out)
    assert samples and any(s.abnormal for s in samples)


def test_bad_arguments_are_one_line_errors(root, tmp_path, capsys):
    assert main(["data", "annotate", "--dataset", str(tmp_path / "missing"), "--split", "test",
                 "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "--dataset" in capsys.readouterr().err
    assert main(["data", "annotate", "--dataset", str(root), "--split", "test", "--out", str(tmp_path / "x.jsonl"),
                 "--min-color-conf", "1.5"]) == 2
    assert "--min-color-conf 1.5" in capsys.readouterr().err
