"""Dialogue samples: flow, reference phrasings, normal videos, JSONL round trip."""
from tvau_ros.data.annotation.dialogue import (QUESTION_APPEARANCE, QUESTION_JUDGMENT, QUESTION_MOTION,
                                               QUESTION_TRAJECTORY, TargetAnnotation, build_dialogue,
                                               read_jsonl, write_jsonl)

META = dict(video="v1", split="test", scene="Scene2", fps=25.0, num_frames=100, width=160, height=120)


def _target(track_id=1, top="red", bottom="blue", accessories=(), turns=(), states=None):
    return TargetAnnotation(
        track_id=track_id, object_id=track_id, start=10, end=80, noun="person",
        attributes={"top_color": top, "bottom_color": bottom, "size_class": "medium",
                    "accessories": list(accessories), "confidence": 0.9},
        trajectory={"entry_side": "left", "exit_side": "top", "entry_frame": 10, "exit_frame": 80,
                    "turns": [{"frame": f, "direction": d} for f, d in turns],
                    "speed_states": states or [{"start": 10, "end": 80, "state": "walking"}]},
        boxes=[{"frame": 10, "box": [0, 50, 12, 90]}])


def test_normal_video_is_answered_no_only():
    s = build_dialogue(targets=[], **META)
    assert not s.abnormal and len(s.turns) == 1
    turn = s.turns[0]
    assert (turn.question, turn.kind) == (QUESTION_JUDGMENT, "judgment")
    assert len(turn.answers) >= 2 and all(a.startswith("No") for a in turn.answers)
    assert s.window == {"start_frame": 0, "end_frame": 99, "start_s": 0.0, "end_s": 3.96}


def test_abnormal_flow_and_reference_phrasings():
    t = _target(accessories=["backpack"], turns=[(40, "left")],
                states=[{"start": 10, "end": 39, "state": "walking"}, {"start": 40, "end": 80, "state": "running"}])
    s = build_dialogue(targets=[t], **META)
    assert [x.kind for x in s.turns] == ["judgment", "appearance", "motion", "trajectory"]
    assert [x.question for x in s.turns] == [QUESTION_JUDGMENT, QUESTION_APPEARANCE, QUESTION_MOTION,
                                             QUESTION_TRAJECTORY]
    assert all(a.startswith("Yes") for a in s.turns[0].answers)
    for turn in s.turns:
        assert len(set(turn.answers)) == len(turn.answers) >= 3
    assert all("red" in a.lower() and "blue" in a.lower() for a in s.turns[1].answers)
    assert any("backpack" in a for a in s.turns[1].answers)
    assert s.turns[1].answers[0] == "A person wearing a red top and blue trousers, carrying a backpack."
    assert all("40" in a for a in s.turns[2].answers)  # walking -> running anchored at frame 40
    assert s.turns[3].answers[0] == ("The person enters from the left at frame 10, turns left at frame 40, "
                                     "and exits at the top at frame 80.")
    assert s.window["start_frame"] == 10 and s.window["end_frame"] == 80


def test_two_targets_are_enumerated_in_every_reference():
    s = build_dialogue(targets=[_target(1, "red", "blue"), _target(2, "white", "black")], **META)
    for answer in s.turns[1].answers:
        assert answer.startswith("Target 1:") and "Target 2:" in answer
        assert "white" in answer.split("Target 2:")[1].lower()


def test_jsonl_round_trip(tmp_path):
    samples = [build_dialogue(targets=[_target()], **META), build_dialogue(targets=[], **{**META, "video": "v2"})]
    path = tmp_path / "d.jsonl"
    write_jsonl(samples, path)
    assert len(path.read_text().splitlines()) == 2
    assert read_jsonl(path) == samples


def test_unstated_colours_are_left_out_of_the_answers():
    top_only = _target(bottom=None)
    answers = build_dialogue(targets=[top_only], **META).turns[1].answers
    assert answers[0] == "A person wearing a red top." and not any("None" in a for a in answers)
    neither = _target(top=None, bottom=None)
    answers = build_dialogue(targets=[neither], **META).turns[1].answers
    assert all("colour" in a for a in answers) and not any("None" in a for a in answers)


def test_wide_target_is_described_front_and_back():
    car = _target(top="red", bottom="red")
    car.noun = "target"
    answers = build_dialogue(targets=[car], **META).turns[1].answers
    assert answers[0] == "A medium target, mostly red."
