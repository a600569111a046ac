"""``tvau eval dialogue``: truth faithfulness rules, and the rows on a generated smoke benchmark."""
import json

import pytest

from tvau_ros.cli import main as tvau
from tvau_ros.core.dialogue.claims import Claim
from tvau_ros.data.annotation.dialogue import read_jsonl
from tvau_ros.evaluation.claim_truth import Tally, claim_agrees, score_answers

TRUTH = [{"start": 10, "end": 40, "attributes": {"top_color": "red", "bottom_color": "blue"},
          "trajectory": {"entry_side": "left", "exit_side": "right", "turns": [{"frame": 25, "direction": "left"}],
                         "speed_states": [{"start": 10, "end": 30, "state": "walking"},
                                          {"start": 31, "end": 40, "state": "running"}]}},
         {"start": 50, "end": 90, "attributes": {"top_color": "white", "bottom_color": None},
          "trajectory": {"entry_side": "inside", "exit_side": "top", "turns": [], "speed_states": []}}]


@pytest.mark.parametrize("kind, value, target, ok", [
    ("count", 2, 0, True), ("count", 3, 0, False),
    ("colour", ("top", "red"), 0, True), ("colour", ("back", "blue"), 0, True), ("colour", ("whole", "blue"), 0, True),
    ("colour", ("top", "green"), 0, False), ("side", ("entry", "left"), 0, True), ("side", ("exit", "left"), 0, False),
    ("turn", ("left", 30), 0, True), ("turn", ("left", 40), 0, False), ("turn", ("right", 25), 0, False),
    ("turn", ("none", None), 1, True), ("turn", ("none", None), 0, False),
    ("time_span", (12, 40), 0, True), ("time_span", (30, 80), 0, False), ("motion", ("running", 31, 40), 0, True),
    ("motion", ("running", 10, 30), 0, False),
])
def test_claims_agree_with_the_generator_truth_by_kind(kind, value, target, ok):
    assert claim_agrees(Claim(kind, 0, value, ""), TRUTH[target], TRUTH, fps=10.0) is ok


def test_target_numbers_are_matched_by_the_time_spans_of_the_trajectory_answer():
    tally = Tally()
    answers = {"trajectory": "Target 1: The person is already inside the scene at frame 52, and exits at the top at "
                             "frame 90. Target 2: The person enters from the left at frame 10, and exits on the "
                             "right at frame 40.",
               "appearance": "Target 1: A person wearing a white top. Target 2: A person wearing a red top. "
                             "Target 3: A person wearing a pink top."}
    score_answers(answers, TRUTH, 10.0, tally)
    table = tally.table()
    assert table["by_kind"]["side"] == {"claims": 4, "agree": 4, "percent": 100.0}
    assert table["by_kind"]["colour"]["agree"] == 2 and table["by_kind"]["colour"]["claims"] == 3  # no target 3
    assert table["by_kind"]["count"] == {"claims": 2, "agree": 1, "percent": 50.0}


def test_answer_targets_are_paired_one_to_one_with_the_true_targets_they_overlap_most():
    # a limper walking the whole clip, two chasers passing it: the first answer target (a chaser
    # whose span starts with the limper's first frames) must not take the limper's long span
    def person(start, end, top):
        return {"start": start, "end": end, "attributes": {"top_color": top, "bottom_color": None},
                "trajectory": {"entry_side": "left", "exit_side": "right", "turns": [], "speed_states": []}}
    truths = [person(0, 163, "yellow"), person(7, 73, "blue"), person(19, 89, "brown")]
    answers = {"motion": "Target 1: The person runs from frame 0 to frame 72. Target 2: The person runs from frame "
                         "7 to frame 88. Target 3: The person moves slowly from frame 30 to frame 163.",
               "appearance": "Target 1: A person wearing a blue top. Target 2: A person wearing a brown top. "
                             "Target 3: A person wearing a yellow top."}
    tally = Tally()
    score_answers(answers, truths, 15.0, tally)
    assert tally.table()["by_kind"]["colour"]["agree"] == 3 and tally.table()["by_kind"]["time_span"]["agree"] == 3


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("dialogue_eval")
    # one worker: the generator forks its pool, unsafe in a test process that has started threads
    assert tvau(["data", "generate", "--config", "smoke", "--out", str(root / "data"), "--workers", "1"]) == 0
    assert tvau(["data", "annotate", "--dataset", str(root / "data"), "--split", "test",
                 "--out", str(root / "test.jsonl")]) == 0
    return root


def test_eval_dialogue_rows_on_the_smoke_benchmark(smoke, capsys):
    out = smoke / "eval"
    assert tvau(["eval", "dialogue", "--dataset", str(smoke / "data"), "--dialogues", str(smoke / "test.jsonl"),
                 "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    rows = {row["row"]: row for row in report["rows"]}
    truth, engine = rows["grounded (ground truth)"], rows["grounded (engine)"]
    assert truth["yes_no_accuracy"] == 100.0 and truth["balanced_accuracy"] == 100.0 and truth["errors"] == 0
    assert truth["bleu4_trajectory"] >= 89.0 and truth["faithfulness"] >= 95.0
    assert engine["evidence"] == "behaviour/generic" and engine["answers"] == truth["answers"]  # the shipped default
    assert report["frame_micro_auc"]["ground_truth"] == 100.0
    samples = read_jsonl(smoke / "test.jsonl")
    assert truth["answers"] == sum(len(s.turns) for s in samples)
    answers = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
    assert {a["row"] for a in answers} == set(rows) and all("references" in a for a in answers)
    printed = capsys.readouterr().out
    assert "grounded (ground truth)" in printed and "claims agreeing with the truth" in printed


def test_a_predictions_file_is_a_row_of_its_own(smoke, tmp_path):
    samples = read_jsonl(smoke / "test.jsonl")
    predictions = tmp_path / "lvlm.jsonl"
    with open(predictions, "w") as file:
        for s in samples:
            for i, turn in enumerate(s.turns):
                file.write(json.dumps({"video": s.video, "turn": i, "answer": turn.answers[0]}) + "\n")
    assert tvau(["eval", "dialogue", "--dataset", str(smoke / "data"), "--dialogues", str(smoke / "test.jsonl"),
                 "--out", str(tmp_path / "out"), "--no-engine", "--no-ground-truth", "--predictions",
                 f"references={predictions}", "--quiet"]) == 0
    row = json.loads((tmp_path / "out" / "report.json").read_text())["rows"][0]
    assert row["row"] == "references" and row["yes_no_accuracy"] == 100.0 and row["bleu4_target"] == 100.0
    assert row["claims_checked"] > 0 and row["errors"] == 0


def test_bad_inputs_fail_with_one_line(smoke, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    assert tvau(["eval", "dialogue", "--dataset", str(smoke / "data"), "--dialogues", str(bad),
                 "--out", str(tmp_path)]) == 2
    assert "not a dialogue JSONL" in capsys.readouterr().err
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"video": "x"}\n')
    assert tvau(["eval", "dialogue", "--dataset", str(smoke / "data"), "--dialogues", str(smoke / "test.jsonl"),
                 "--out", str(tmp_path), "--predictions", f"p={preds}"]) == 2
    assert "p.jsonl:1: not a prediction line" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    assert tvau(["eval", "dialogue", "--dataset", str(other), "--dialogues", str(smoke / "test.jsonl"),
                 "--out", str(tmp_path)]) == 2
    assert f"--dataset {other}" in capsys.readouterr().err
