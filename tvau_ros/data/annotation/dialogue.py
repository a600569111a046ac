"""Multi-turn dialogue samples (paper §4.1 flow) and their JSONL form.

Flow: Q0 judgment -> Q1 target appearance -> Q2 motion state -> Q3 from where to where, with
frame anchors. Normal videos get Q0 only, answered "No". Every answer carries several reference
phrasings; BLEU scores a prediction against its best-matching reference. The sentences come from
``tvau_ros.data.annotation.phrasing``, which the runtime answerer phrases its answers with too.

JSONL: one ``DialogueSample.to_dict()`` per line (schema in README.md).

>>> s = build_dialogue(video="v", split="test", scene="S", fps=30.0, num_frames=10,
...                    width=64, height=48, targets=[])
>>> s.turns[0].question == QUESTION_JUDGMENT, s.turns[0].answers[0]
(True, 'No.')
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tvau_ros.data.annotation.phrasing import (  # noqa: F401 - re-exported: the dataset's questions and phrasings
    QUESTION_APPEARANCE, QUESTION_JUDGMENT, QUESTION_MOTION, QUESTION_TRAJECTORY, appearance_answers,
    judgment_answers, motion_answers, per_target, trajectory_answers)

TURN_KINDS = ("judgment", "appearance", "motion", "trajectory")


@dataclass
class DialogueTurn:
    question: str
    answers: list[str]
    kind: str  # one of TURN_KINDS


@dataclass
class TargetAnnotation:
    """One abnormal target: attributes, trajectory facts and boxes at anchor frames."""
    track_id: int
    object_id: int | None
    start: int
    end: int
    noun: str                      # "person" for upright targets, else "target"
    attributes: dict               # top_color, bottom_color, size_class, accessories, confidence
    trajectory: dict               # Trajectory.to_dict()
    boxes: list[dict] = field(default_factory=list)  # [{"frame": f, "box": [x1, y1, x2, y2]}]


@dataclass
class DialogueSample:
    video: str
    split: str
    scene: str
    abnormal: bool
    window: dict                   # start_frame, end_frame (inclusive), start_s, end_s
    fps: float
    num_frames: int
    width: int
    height: int
    targets: list[TargetAnnotation]
    turns: list[DialogueTurn]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> DialogueSample:
        d = dict(d)
        d["targets"] = [TargetAnnotation(**t) for t in d["targets"]]
        d["turns"] = [DialogueTurn(**t) for t in d["turns"]]
        return cls(**d)


def write_jsonl(samples: list[DialogueSample], path: str | Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for s in samples:
            f.write(json.dumps(s.to_dict(), ensure_ascii=False) + "\n")


def read_jsonl(path: str | Path) -> list[DialogueSample]:
    with open(path, encoding="utf-8") as f:
        return [DialogueSample.from_dict(json.loads(line)) for line in f if line.strip()]


def build_dialogue(video: str, split: str, scene: str, fps: float, num_frames: int, width: int,
                   height: int, targets: list[TargetAnnotation], window: tuple[int, int] | None = None,
                   abnormal: bool | None = None) -> DialogueSample:
    """The dialogue for one video; no targets (and ``abnormal`` not True) means a normal video."""
    abnormal = bool(targets) if abnormal is None else abnormal
    if window is None:
        window = ((min(t.start for t in targets), max(t.end for t in targets)) if targets
                  else (0, max(num_frames - 1, 0)))
    s, e = window
    turns = [DialogueTurn(QUESTION_JUDGMENT, judgment_answers(abnormal, (s, e)), "judgment")]
    if abnormal and targets:
        turns += [
            DialogueTurn(QUESTION_APPEARANCE, per_target(targets, appearance_answers), "appearance"),
            DialogueTurn(QUESTION_MOTION, per_target(targets, motion_answers), "motion"),
            DialogueTurn(QUESTION_TRAJECTORY, per_target(targets, trajectory_answers), "trajectory"),
        ]
    fps = float(fps)
    return DialogueSample(
        video=video, split=split, scene=scene, abnormal=abnormal,
        window={"start_frame": int(s), "end_frame": int(e),
                "start_s": round(s / fps, 3) if fps > 0 else None,
                "end_s": round(e / fps, 3) if fps > 0 else None},
        fps=fps, num_frames=int(num_frames), width=int(width), height=int(height),
        targets=targets, turns=turns)
