"""Multi-turn dialogue samples (paper §4.1 flow) and their JSONL form.

Flow: Q0 judgment -> Q1 target appearance -> Q2 motion state -> Q3 from where to where, with
frame anchors. Normal videos get Q0 only, answered "No". Every answer carries several reference
phrasings; BLEU scores a prediction against its best-matching reference.

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

QUESTION_JUDGMENT = "Is there any anomaly in the video?"
QUESTION_APPEARANCE = "What does the abnormal target look like?"
QUESTION_MOTION = "What is the motion state of the abnormal target?"
QUESTION_TRAJECTORY = "From where to where does the abnormal target move, and when?"
TURN_KINDS = ("judgment", "appearance", "motion", "trajectory")

_VERBS = {"stationary": ("stays in place", "staying in place"), "slow": ("moves slowly", "moving slowly"),
          "walking": ("walks", "walking"), "running": ("runs", "running"),
          "fast": ("moves fast", "moving fast")}
_SIDE_FROM = {"left": "the left", "right": "the right", "top": "the top", "bottom": "the bottom"}
_SIDE_AT = {"left": "on the left", "right": "on the right", "top": "at the top", "bottom": "at the bottom"}
_TIMES = {1: "once", 2: "twice"}


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
    def from_dict(cls, d: dict) -> "DialogueSample":
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


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def appearance_answers(t: TargetAnnotation) -> list[str]:
    """Reference phrasings of the target's look; a colour left unstated (None) is omitted."""
    a = t.attributes
    top, bottom, size = a.get("top_color"), a.get("bottom_color"), a["size_class"]
    acc = a.get("accessories") or []
    carrying = f", carrying {' and '.join(_article(x) + ' ' + x for x in acc)}" if acc else ""
    with_acc = f" with {' and '.join(_article(x) + ' ' + x for x in acc)}" if acc else ""
    noun = t.noun
    if top is None and bottom is None:
        return [f"The {noun} is too far away to make out the colours of its clothing.",
                f"The clothing colours of the abnormal {noun} cannot be made out.",
                f"{_article(size).capitalize()} {size} {noun}; its colours are not clear."]
    if not t.noun == "person":  # lying, crawling or a vehicle: front / back instead of top / bottom
        parts = [p for p in (f"{top} at the front" if top else "", f"{bottom} at the back" if bottom else "") if p]
        if top and top == bottom:
            parts = [f"mostly {top}"]
        return [f"{_article(size).capitalize()} {size} {noun}, {' and '.join(parts)}.",
                f"The abnormal {noun} looks {' and '.join(parts)}.",
                f"{(top or bottom).capitalize()} {noun}."]
    wear = " and ".join(x for x in (f"{_article(top)} {top} top" if top else "",
                                     f"{bottom} trousers" if bottom else "") if x)
    dress = " and ".join(x for x in (f"{_article(top)} {top} top" if top else "",
                                      f"{bottom} pants" if bottom else "") if x)
    clothing = " and ".join(x for x in (f"{top} upper clothing" if top else "",
                                         f"{bottom} lower clothing" if bottom else "") if x)
    short = ", ".join(x for x in (f"{top} top" if top else "", f"{bottom} bottom" if bottom else "") if x)
    return [
        f"{_article(noun).capitalize()} {noun} wearing {wear}{carrying}.",
        f"The abnormal {noun} is dressed in {dress}{with_acc}.",
        f"{_article(size).capitalize()} {size} {noun} in {clothing}{carrying}.",
        f"{short[0].upper()}{short[1:]}{(', ' + ', '.join(acc)) if acc else ''}.",
    ]


def motion_answers(t: TargetAnnotation) -> list[str]:
    states = t.trajectory["speed_states"]
    noun = t.noun
    if len(states) == 1:
        s = states[0]
        verb, ing = _VERBS[s["state"]]
        return [
            f"The {noun} {verb} from frame {s['start']} to frame {s['end']}.",
            f"The {noun} keeps {ing} throughout, from frame {s['start']} to frame {s['end']}.",
            f"{ing.capitalize()} (frames {s['start']}-{s['end']}).",
        ]
    parts = [f"{_VERBS[s['state']][0]} from frame {s['start']} to frame {s['end']}" for s in states]
    changes = [f"from {_VERBS[a['state']][1]} to {_VERBS[b['state']][1]} at frame {b['start']}"
               for a, b in zip(states, states[1:])]
    arrows = " -> ".join(f"{_VERBS[s['state']][1]} ({s['start']}-{s['end']})" for s in states)
    return [
        f"The {noun} {', then '.join(parts)}.",
        f"The {noun} changes {', then '.join(changes)}.",
        f"{arrows[0].upper()}{arrows[1:]}.",
    ]


def trajectory_answers(t: TargetAnnotation) -> list[str]:
    tr = t.trajectory
    entry, exit_ = tr["entry_side"], tr["exit_side"]
    ef, xf = tr["entry_frame"], tr["exit_frame"]
    enter = (f"enters from {_SIDE_FROM[entry]} at frame {ef}" if entry != "inside"
             else f"is already inside the scene at frame {ef}")
    leave = (f"exits {_SIDE_AT[exit_]} at frame {xf}" if exit_ != "inside"
             else f"stops inside the scene at frame {xf}")
    turns = [f"turns {x['direction']} at frame {x['frame']}" for x in tr["turns"]]
    steps = ", ".join([enter] + turns) + f", and {leave}"
    short_in = f"enter from {entry}" if entry != "inside" else "start inside"
    short_out = f"exit {exit_}" if exit_ != "inside" else "end inside"
    arrows = " -> ".join([f"{short_in} (frame {ef})"]
                         + [f"turn {x['direction']} (frame {x['frame']})" for x in tr["turns"]]
                         + [f"{short_out} (frame {xf})"])
    where_from = _SIDE_FROM.get(entry, "inside the scene")
    where_to = _SIDE_FROM.get(exit_, "inside the scene")
    n = len(tr["turns"])
    turn_text = "without turning" if n == 0 else f"turning {_TIMES.get(n, f'{n} times')}"
    return [
        f"The {t.noun} {steps}.",
        f"It moves from {where_from} to {where_to} {turn_text}, between frame {ef} and frame {xf}.",
        f"{arrows[0].upper()}{arrows[1:]}.",
    ]


def _per_target(targets: list[TargetAnnotation], make) -> list[str]:
    """Answers for one or several targets; reference k joins every target's k-th phrasing."""
    per = [make(t) for t in targets]
    if len(per) == 1:
        return per[0]
    n = min(len(p) for p in per)
    return [" ".join(f"Target {i + 1}: {p[k]}" for i, p in enumerate(per)) for k in range(n)]


def build_dialogue(video: str, split: str, scene: str, fps: float, num_frames: int, width: int,
                   height: int, targets: list[TargetAnnotation], window: tuple[int, int] | None = None,
                   abnormal: bool | None = None) -> DialogueSample:
    """The dialogue for one video; no targets (and ``abnormal`` not True) means a normal video."""
    abnormal = bool(targets) if abnormal is None else abnormal
    if window is None:
        window = ((min(t.start for t in targets), max(t.end for t in targets)) if targets
                  else (0, max(num_frames - 1, 0)))
    s, e = window
    if abnormal:
        judgment = ["Yes.", "Yes, there is an anomaly in the video.",
                    f"Yes, an anomaly occurs from frame {s} to frame {e}."]
    else:
        judgment = ["No.", "No, there is no anomaly in the video.",
                    "No, the video shows only normal activity."]
    turns = [DialogueTurn(QUESTION_JUDGMENT, judgment, "judgment")]
    if abnormal and targets:
        turns += [
            DialogueTurn(QUESTION_APPEARANCE, _per_target(targets, appearance_answers), "appearance"),
            DialogueTurn(QUESTION_MOTION, _per_target(targets, motion_answers), "motion"),
            DialogueTurn(QUESTION_TRAJECTORY, _per_target(targets, trajectory_answers), "trajectory"),
        ]
    fps = float(fps)
    return DialogueSample(
        video=video, split=split, scene=scene, abnormal=abnormal,
        window={"start_frame": int(s), "end_frame": int(e),
                "start_s": round(s / fps, 3) if fps > 0 else None,
                "end_s": round(e / fps, 3) if fps > 0 else None},
        fps=fps, num_frames=int(num_frames), width=int(width), height=int(height),
        targets=targets, turns=turns)
