"""The shared phrasing (time anchors, runtime phrases) and claims read back from its sentences."""
import pytest

from tvau_ros.core.dialogue.claims import extract_claims
from tvau_ros.core.dialogue.intents import QuestionError, check_question, classify
from tvau_ros.data.annotation.phrasing import (FrameAnchors, TimeAnchors, behaviour_phrase, format_stamp, ground_phrase,
                                             image_region_words)
from tvau_ros.data.annotation.dialogue import TargetAnnotation, build_dialogue

META = dict(video="v", split="test", scene="S", fps=10.0, num_frames=100, width=320, height=240)


def _target(track=1, top="red", bottom="blue", entry="left", exit_="right", turns=(), states=None, noun="person"):
    return TargetAnnotation(
        track_id=track, object_id=track, start=10, end=80, noun=noun,
        attributes={"top_color": top, "bottom_color": bottom, "size_class": "small", "accessories": []},
        trajectory={"entry_side": entry, "exit_side": exit_, "entry_frame": 10, "exit_frame": 80,
                    "turns": [{"frame": f, "direction": d} for f, d in turns],
                    "speed_states": states or [{"start": 10, "end": 80, "state": "walking"}]})


def test_time_anchors_say_seconds_or_the_time_of_day_and_read_back_to_frames():
    stream = TimeAnchors({f: f * 100_000_000 for f in range(100)})  # 10 fps from 0 s
    assert (stream.at(32), stream.span(10, 25)) == ("3.2 s", "1.0-2.5 s")
    assert stream.parse("3.2 s") == 32 and stream.parse("2.5") == 25
    clock = TimeAnchors({f: 1_700_000_000_000_000_000 + f * 100_000_000 for f in range(100)})
    assert clock.at(5) == "22:13:20.5" and clock.parse("22:13:20.5") == 5
    assert FrameAnchors().parse("frame 7") == 7 and FrameAnchors().parse("soon") is None
    assert format_stamp(0) == "0.0 s"


def test_dataset_sentences_with_time_anchors_differ_only_in_the_anchors():
    sample = build_dialogue(targets=[_target(turns=[(40, "left")])], **META)
    frames = sample.turns[3].answers[0]
    from tvau_ros.data.annotation.phrasing import trajectory_answers

    timed = trajectory_answers(sample.targets[0], TimeAnchors({f: f * 100_000_000 for f in range(100)}))[0]
    assert frames == ("The person enters from the left at frame 10, turns left at frame 40, "
                      "and exits on the right at frame 80.")
    assert timed == "The person enters from the left at 1.0 s, turns left at 4.0 s, and exits on the right at 8.0 s."


@pytest.mark.parametrize("k", range(3))
def test_every_reference_phrasing_reads_back_into_its_facts(k):
    targets = [_target(1, turns=[(40, "right")], states=[{"start": 10, "end": 39, "state": "walking"},
                                                         {"start": 40, "end": 80, "state": "running"}]),
               _target(2, "white", None, "inside", "top")]
    sample = build_dialogue(targets=targets, **META)
    kinds = {t.kind: t.answers[k] for t in sample.turns}
    claims = {(c.kind, c.target, str(c.value)) for text in kinds.values() for c in extract_claims(text)}
    assert ("count", 0, "2") in claims
    assert ("colour", 1, "('top', 'red')") in claims and ("colour", 2, "('top', 'white')") in claims
    assert ("colour", 1, "('bottom', 'blue')") in claims
    assert not any(c[0] == "colour" and c[1] == 2 and "bottom" in c[2] for c in claims)  # unstated: no claim
    assert ("side", 1, "('entry', 'left')") in claims and ("side", 1, "('exit', 'right')") in claims
    assert ("side", 2, "('entry', 'inside')") in claims and ("side", 2, "('exit', 'top')") in claims
    if k != 1:  # the second trajectory phrasing counts turns instead of placing them
        assert ("turn", 1, "('right', 40)") in claims
    assert ("time_span", 1, "(10, 80)") in claims


def test_claims_of_wide_targets_motion_and_positions():
    car = _target(noun="target", top="red", bottom="red")
    claims = extract_claims(build_dialogue(targets=[car], **META).turns[1].answers[0])
    assert [(c.kind, c.value) for c in claims] == [("colour", ("whole", "red"))]
    motion = extract_claims("The person walks from frame 10 to frame 39, then runs from frame 40 to frame 80.")
    assert [c.value for c in motion if c.kind == "motion"] == [("walking", 10, 39), ("running", 40, 80)]
    where = extract_claims("The person is in the lower left of the image, about 4.2 m ahead.")
    assert [(c.kind, c.value) for c in where] == [("position", "the lower left")]
    assert [c.value for c in extract_claims("No, there is no anomaly.")] == [False]


def test_runtime_phrases():
    assert behaviour_phrase("fast", 3.14, "body_heights_per_s") == "moving fast: 3.1 body heights per second"
    assert behaviour_phrase("unusual_place") == "being in an unusual place"
    assert behaviour_phrase("anomaly") is None and behaviour_phrase("") is None
    assert ground_phrase(4.2, 1.1, "base_link") == "about 4.2 m ahead and 1.1 m to the left (base_link x 4.20, y 1.10)"
    assert ground_phrase(-2.0, 0.0, "robot/base_footprint").startswith("about 2.0 m behind (")
    assert image_region_words(300, 10, 320, 240) == "the upper right"
    assert image_region_words(150, 230, 320, 240) == "the bottom centre"


@pytest.mark.parametrize("question, intent", [
    ("Is there any anomaly in the video?", "judgment"), ("What does the abnormal target look like?", "appearance"),
    ("What is the motion state of the abnormal target?", "motion"),
    ("From where to where does the abnormal target move, and when?", "trajectory"),
    ("and where did it go?", "trajectory"), ("Where did it come from?", "trajectory"), ("Where is it now?", "where"),
    ("When did it start?", "when"), ("How long did it last?", "when"), ("How many people are abnormal?", "count"),
    ("Why is it abnormal?", "judgment"), ("Is it moving fast?", "motion"), ("What is the weather like?", "other"),
])
def test_questions_map_to_intents(question, intent):
    assert classify(question).intent == intent


def test_questions_name_targets_tracks_and_body_parts():
    assert classify("Describe target 2").target == 2 and classify("what about the second one?").target == 2
    assert classify("Where is track 7 now?").track == 7
    assert classify("What colour is its shirt?").part == "top" and classify("What does it look like?").part is None
    assert classify("and where did it go?").follow_up


@pytest.mark.parametrize("question, message", [
    ("", "empty"), ("   \n\t ", "empty"), ("Is there an anomaly? " * 5000, "characters long"),
    ("Is there \ufffd an anomaly?", "not valid UTF-8"), ("Is there \udcff an anomaly?", "not valid UTF-8"),
    ("Is there\x07 an anomaly?", "control characters"), ("¿Hay alguna anomalía en el vídeo?", "only English"),
    ("Gibt es eine Anomalie im Video?", "only English"), ("视频里有异常吗？", "only English"),
    ("هل هناك شيء غير طبيعي؟", "only English"),
])
def test_bad_questions_are_refused_with_the_reason(question, message):
    with pytest.raises(QuestionError, match=message):
        check_question(question)


def test_english_questions_pass_and_are_tidied():
    assert check_question("  Is the cyclist   speeding on the sidewalk? ") == "Is the cyclist speeding on the sidewalk?"
    assert check_question("hello") == "hello"
