"""``tvau ask``: questions about a recording through the pipeline and the grounded answerer (with the
motion baseline, whose heatmap covers the sample's runner from its first frames: these tests are
about the dialogue, not the engine)."""
import io
import json

import pytest

from tvau_ros.cli import main as tvau
from tvau_ros.io.sample_clip import generate_sample_clip

MOTION = ["--engine", "motion_baseline"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return generate_sample_clip(tmp_path_factory.mktemp("ask") / "sample.mp4", frames=60, anomaly_start=5)


def test_questions_are_answered_as_one_session(clip, capsys):
    assert tvau(["ask", "--video", str(clip.path), *MOTION, "-q", "Is there any anomaly in the video?",
                 "-q", "What does it look like?", "-q", "and where did it go?", "-q", "Where is it?"]) == 0
    out = capsys.readouterr().out
    assert "Q: Is there any anomaly in the video?\nYes, an anomaly occurs from" in out
    assert "A person wearing a red top" in out
    assert "exits on the right" in out and "of the image" in out and "flagged claims: none" in out


def test_json_answers_and_a_window(clip, capsys, tmp_path):
    assert tvau(["ask", "--video", str(clip.path), *MOTION, "--json", "--window", "0:0.2",
                 "-q", "Is there any anomaly?", "--out", str(tmp_path / "run")]) == 0
    answer = json.loads(capsys.readouterr().out.strip())
    assert answer["judgment"] == "no" and answer["window_s"][1] <= 0.2 and answer["flagged_claims"] == []
    assert (tmp_path / "run" / "events.jsonl").is_file() and (tmp_path / "run" / "summary.json").is_file()


def test_interactive_session_with_reset(clip, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("What does it look like?\nreset\nand where did it go?\n"
                                                 "¿Dónde está?\nquit\n"))
    assert tvau(["ask", "--video", str(clip.path), *MOTION, "--interactive"]) == 0
    captured = capsys.readouterr()
    assert "red top" in captured.out and "(session reset)" in captured.out and "exits on the right" in captured.out
    assert "only English questions are supported" in captured.err


@pytest.mark.parametrize("args, message", [
    (["-q", ""], "--question 1 (''): the question is empty"),
    (["-q", "Is it ok?", "-q", "¿Qué pasa?"], "--question 2"),
    (["-q", "Is it ok?", "--answerer", "gpt"], "--answerer gpt: unknown answerer 'gpt'"),
    (["-q", "Is it ok?", "--window", "100:200"], "after the newest processed frame"),
])
def test_bad_input_exits_2_with_one_line(clip, capsys, args, message):
    assert tvau(["ask", "--video", str(clip.path), *args]) == 2
    assert message in capsys.readouterr().err


def test_missing_recording_and_bad_window_syntax(tmp_path, capsys):
    assert tvau(["ask", "--video", str(tmp_path / "none.mp4"), "-q", "Is it ok?"]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        tvau(["ask", "--video", str(tmp_path / "none.mp4"), "-q", "Is it ok?", "--window", "5:1"])
    assert exit_.value.code == 2 and "reversed" in capsys.readouterr().err
