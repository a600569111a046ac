"""Measured facts -> sentences: the ONE phrasing used by the dataset dialogues and runtime answers.

``tvau data annotate`` turns each abnormal target's measured facts (a ``TargetAnnotation``:
``noun``, ``attributes`` dict, ``trajectory`` dict with frame numbers) into reference answers
with these functions; the grounded answerer measures the same facts from the evidence with the
same code and phrases them here too. Only the time anchors differ: the dataset says "frame 11"
(``FrameAnchors``), a live answer says "3.2 s" or a clock time (``TimeAnchors``).

A colour that was not measured clearly enough is ``None`` and is never stated.

>>> from types import SimpleNamespace as T
>>> t = T(noun="person", attributes={"top_color": "red", "bottom_color": None, "size_class": "small"},
...       trajectory={"entry_side": "left", "exit_side": "inside", "entry_frame": 3, "exit_frame": 40,
...                   "turns": [], "speed_states": [{"start": 3, "end": 40, "state": "running"}]})
>>> appearance_answers(t)[0]
'A person wearing a red top.'
>>> trajectory_answers(t)[0]
'The person enters from the left at frame 3, and stops inside the scene at frame 40.'
>>> stamps = {f: int(f * 1e9 / 10) for f in range(50)}
>>> motion_answers(t, TimeAnchors(stamps))[0]
'The person runs from 0.3 s to 4.0 s.'
"""
from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tvau_ros.data.annotation.dialogue import TargetAnnotation

QUESTION_JUDGMENT = "Is there any anomaly in the video?"
QUESTION_APPEARANCE = "What does the abnormal target look like?"
QUESTION_MOTION = "What is the motion state of the abnormal target?"
QUESTION_TRAJECTORY = "From where to where does the abnormal target move, and when?"

VERBS = {"stationary": ("stays in place", "staying in place"), "slow": ("moves slowly", "moving slowly"),
         "walking": ("walks", "walking"), "running": ("runs", "running"),
         "fast": ("moves fast", "moving fast")}
SIDE_FROM = {"left": "the left", "right": "the right", "top": "the top", "bottom": "the bottom"}
SIDE_AT = {"left": "on the left", "right": "on the right", "top": "at the top", "bottom": "at the bottom"}
_TIMES = {1: "once", 2: "twice"}
CLOCK_AFTER_NS = 10 ** 18  # stamps after 2001-09-09 are wall-clock times: say the time of day


# ---------------------------------------------------------------- time anchors

# an anchor as any Anchors writes it: "frame 11", "3.2 s", "14:03:12.4"
ANCHOR = r"(?:frame \d+|\d{2}:\d{2}:\d{2}(?:\.\d+)?|\d+(?:\.\d+)? s\b)"
# a span in parentheses: "(frames 11-27)", "(11-27)", "(3.2-5.1 s)", "(14:03:12.4-14:03:15.1)"
SPAN = (r"\((?:frames )?(\d{2}:\d{2}:\d{2}(?:\.\d+)?|\d+(?:\.\d+)?)-"
        r"(\d{2}:\d{2}:\d{2}(?:\.\d+)?|\d+(?:\.\d+)?)( s)?\)")


class FrameAnchors:
    """Frame numbers, as the dataset dialogues anchor events ("at frame 11").

    >>> FrameAnchors().parse("frame 11"), FrameAnchors().parse("27")
    (11, 27)
    """

    def at(self, frame: int) -> str:
        return f"frame {frame}"

    def span(self, start: int, end: int) -> str:
        return f"frames {start}-{end}"

    def bare(self, start: int, end: int) -> str:
        return f"{start}-{end}"

    def parse(self, text: str) -> int | None:
        """Frame number of an anchor written by ``at`` (or a bare number); None if unreadable."""
        match = re.fullmatch(r"(?:frames? )?(\d+)", text.strip())
        return int(match.group(1)) if match else None


@dataclass
class TimeAnchors:
    """Times in the stream for frame numbers: seconds ("3.2 s") for stamps counted from the
    start of a recording, the UTC time of day ("14:03:12.4") for wall-clock stamps.

    ``stamps``: frame number -> stamp (ns); frames without a stamp are placed by the nearest.
    """

    stamps: dict[int, int]
    _sorted: list[int] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self):
        self._sorted = sorted(self.stamps)

    def stamp(self, frame: int) -> int:
        if frame in self.stamps:
            return self.stamps[frame]
        if not self._sorted:
            raise ValueError("no stamps to anchor times to")
        nearest = min(self._sorted, key=lambda f: abs(f - frame))
        return self.stamps[nearest]

    def at(self, frame: int) -> str:
        return format_stamp(self.stamp(frame))

    def span(self, start: int, end: int) -> str:
        a, b = format_stamp(self.stamp(start)), format_stamp(self.stamp(end))
        if a.endswith(" s") and b.endswith(" s"):
            return f"{a[:-2]}-{b}"
        return f"{a}-{b}"

    def bare(self, start: int, end: int) -> str:
        return self.span(start, end)

    def parse(self, text: str) -> int | None:
        """Frame nearest to an anchor written by ``at`` ("3.2 s", "14:03:12.4"); None if unreadable."""
        text = text.strip()
        if not self._sorted:
            return None
        clock = re.fullmatch(r"(\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)", text)
        seconds = re.fullmatch(r"(\d+(?:\.\d+)?)(?: s)?", text)
        if clock:
            day_s = int(clock.group(1)) * 3600 + int(clock.group(2)) * 60 + float(clock.group(3))
            distance = lambda f: abs((self.stamps[f] / 1e9 - day_s + 43200) % 86400 - 43200)  # noqa: E731
        elif seconds:
            distance = lambda f: abs(self.stamps[f] / 1e9 - float(seconds.group(1)))  # noqa: E731
        else:
            return None
        return min(self._sorted, key=distance)


def format_stamp(stamp_ns: int) -> str:
    """'3.2 s' for stream times, '14:03:12.4' (UTC) for wall-clock stamps.

    >>> format_stamp(3_240_000_000), format_stamp(1_700_000_000_250_000_000)
    ('3.2 s', '22:13:20.2')
    """
    if stamp_ns >= CLOCK_AFTER_NS:
        t = _dt.datetime.fromtimestamp(stamp_ns / 1e9, tz=_dt.timezone.utc)
        return f"{t:%H:%M:%S}.{t.microsecond // 100000}"
    return f"{stamp_ns / 1e9:.1f} s"


Anchors = FrameAnchors | TimeAnchors
FRAMES = FrameAnchors()


# ---------------------------------------------------------------- target facts -> sentences

def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def appearance_answers(t: TargetAnnotation) -> list[str]:
    """Reference phrasings of the target's look; a colour left unstated (None) is omitted."""
    a = t.attributes
    top, bottom, size = a.get("top_color"), a.get("bottom_color"), a["size_class"]
    acc = a.get("accessories") or []
    carrying = f", carrying {' and '.join(article(x) + ' ' + x for x in acc)}" if acc else ""
    with_acc = f" with {' and '.join(article(x) + ' ' + x for x in acc)}" if acc else ""
    noun = t.noun
    if top is None and bottom is None:
        return [f"The {noun} is too far away to make out the colours of its clothing.",
                f"The clothing colours of the abnormal {noun} cannot be made out.",
                f"{article(size).capitalize()} {size} {noun}; its colours are not clear."]
    if not t.noun == "person":  # lying, crawling or a vehicle: front / back instead of top / bottom
        parts = [p for p in (f"{top} at the front" if top else "", f"{bottom} at the back" if bottom else "") if p]
        if top and top == bottom:
            parts = [f"mostly {top}"]
        return [f"{article(size).capitalize()} {size} {noun}, {' and '.join(parts)}.",
                f"The abnormal {noun} looks {' and '.join(parts)}.",
                f"{(top or bottom).capitalize()} {noun}."]
    wear = " and ".join(x for x in (f"{article(top)} {top} top" if top else "",
                                     f"{bottom} trousers" if bottom else "") if x)
    dress = " and ".join(x for x in (f"{article(top)} {top} top" if top else "",
                                      f"{bottom} pants" if bottom else "") if x)
    clothing = " and ".join(x for x in (f"{top} upper clothing" if top else "",
                                         f"{bottom} lower clothing" if bottom else "") if x)
    short = ", ".join(x for x in (f"{top} top" if top else "", f"{bottom} bottom" if bottom else "") if x)
    return [
        f"{article(noun).capitalize()} {noun} wearing {wear}{carrying}.",
        f"The abnormal {noun} is dressed in {dress}{with_acc}.",
        f"{article(size).capitalize()} {size} {noun} in {clothing}{carrying}.",
        f"{short[0].upper()}{short[1:]}{(', ' + ', '.join(acc)) if acc else ''}.",
    ]


def motion_answers(t: TargetAnnotation, anchors: Anchors = FRAMES) -> list[str]:
    states = t.trajectory["speed_states"]
    noun = t.noun
    if len(states) == 1:
        s = states[0]
        verb, ing = VERBS[s["state"]]
        return [
            f"The {noun} {verb} from {anchors.at(s['start'])} to {anchors.at(s['end'])}.",
            f"The {noun} keeps {ing} throughout, from {anchors.at(s['start'])} to {anchors.at(s['end'])}.",
            f"{ing.capitalize()} ({anchors.span(s['start'], s['end'])}).",
        ]
    parts = [f"{VERBS[s['state']][0]} from {anchors.at(s['start'])} to {anchors.at(s['end'])}" for s in states]
    changes = [f"from {VERBS[a['state']][1]} to {VERBS[b['state']][1]} at {anchors.at(b['start'])}"
               for a, b in zip(states, states[1:], strict=False)]
    arrows = " -> ".join(f"{VERBS[s['state']][1]} ({anchors.bare(s['start'], s['end'])})" for s in states)
    return [
        f"The {noun} {', then '.join(parts)}.",
        f"The {noun} changes {', then '.join(changes)}.",
        f"{arrows[0].upper()}{arrows[1:]}.",
    ]


def trajectory_answers(t: TargetAnnotation, anchors: Anchors = FRAMES) -> list[str]:
    tr = t.trajectory
    entry, exit_ = tr["entry_side"], tr["exit_side"]
    ef, xf = anchors.at(tr["entry_frame"]), anchors.at(tr["exit_frame"])
    enter = (f"enters from {SIDE_FROM[entry]} at {ef}" if entry != "inside"
             else f"is already inside the scene at {ef}")
    leave = (f"exits {SIDE_AT[exit_]} at {xf}" if exit_ != "inside"
             else f"stops inside the scene at {xf}")
    turns = [f"turns {x['direction']} at {anchors.at(x['frame'])}" for x in tr["turns"]]
    steps = ", ".join([enter] + turns) + f", and {leave}"
    short_in = f"enter from {entry}" if entry != "inside" else "start inside"
    short_out = f"exit {exit_}" if exit_ != "inside" else "end inside"
    arrows = " -> ".join([f"{short_in} ({ef})"]
                         + [f"turn {x['direction']} ({anchors.at(x['frame'])})" for x in tr["turns"]]
                         + [f"{short_out} ({xf})"])
    where_from = SIDE_FROM.get(entry, "inside the scene")
    where_to = SIDE_FROM.get(exit_, "inside the scene")
    n = len(tr["turns"])
    turn_text = "without turning" if n == 0 else f"turning {_TIMES.get(n, f'{n} times')}"
    return [
        f"The {t.noun} {steps}.",
        f"It moves from {where_from} to {where_to} {turn_text}, between {ef} and {xf}.",
        f"{arrows[0].upper()}{arrows[1:]}.",
    ]


def per_target(targets: Sequence, make: Callable) -> list[str]:
    """Answers for one or several targets; reference k joins every target's k-th phrasing."""
    per = [make(t) for t in targets]
    if len(per) == 1:
        return per[0]
    n = min(len(p) for p in per)
    return [" ".join(f"Target {i + 1}: {p[k]}" for i, p in enumerate(per)) for k in range(n)]


def judgment_answers(abnormal: bool, span: tuple[int, int] | None = None, anchors: Anchors = FRAMES) -> list[str]:
    """Yes / No references; the third "Yes" phrasing anchors the anomaly's span."""
    if not abnormal:
        return ["No.", "No, there is no anomaly in the video.", "No, the video shows only normal activity."]
    s, e = span
    return ["Yes.", "Yes, there is an anomaly in the video.",
            f"Yes, an anomaly occurs from {anchors.at(s)} to {anchors.at(e)}."]


# ---------------------------------------------------------------- runtime-only phrases

_BEHAVIOURS = {"fast": "moving fast", "slow": "moving unusually slowly", "lying": "lying on the ground",
               "unusual_place": "being in an unusual place", "unusual_object": "being an unusual object",
               "wrong_direction": "moving against the usual direction", "loitering": "loitering"}
_UNITS = {"body_heights_per_s": "body heights per second", "m_per_s": "metres per second",
          "m/s": "metres per second", "s": "seconds", "m": "metres", "px_per_s": "pixels per second",
          "deg": "degrees"}


def behaviour_phrase(label: str, value: float = 0.0, unit: str = "") -> str | None:
    """Why a region was abnormal, from the engine's behaviour attribute; None for plain heatmaps.

    >>> behaviour_phrase("fast", 3.14, "body_heights_per_s")
    'moving fast: 3.1 body heights per second'
    >>> behaviour_phrase("stationary_45s"), behaviour_phrase("anomaly") is None
    ('stationary 45s', True)
    """
    if not label or label == "anomaly":
        return None
    words = _BEHAVIOURS.get(label, label.replace("_", " "))
    if not unit:
        return words
    unit_words = _UNITS.get(unit, unit.replace("_per_", " per ").replace("_", " "))
    return f"{words}: {value:.1f} {unit_words}"


def image_region_words(cx: float, cy: float, width: int, height: int) -> str:
    """Where in the image a point lies, in words (3 x 3 grid).

    >>> image_region_words(10, 230, 320, 240), image_region_words(160, 120, 320, 240)
    ('the lower left', 'the centre')
    """
    col = ("left", "centre", "right")[min(2, max(0, int(3 * cx / max(width, 1))))]
    row = ("upper", "middle", "lower")[min(2, max(0, int(3 * cy / max(height, 1))))]
    if col == "centre":
        return {"upper": "the top centre", "middle": "the centre", "lower": "the bottom centre"}[row]
    return f"the {row} {col}"


_ROBOT_FRAMES = ("base_link", "base_footprint")


def ground_phrase(x: float, y: float, frame_id: str) -> str:
    """A ground point in words: ahead/left for a robot body frame (REP-103), else coordinates.

    >>> ground_phrase(4.24, -1.1, "base_link")
    'about 4.2 m ahead and 1.1 m to the right (base_link x 4.24, y -1.10)'
    >>> ground_phrase(3.0, 2.0, "map")
    'at x 3.00, y 2.00 in map'
    """
    if frame_id.rsplit("/", 1)[-1] in _ROBOT_FRAMES:
        ahead = f"{x:.1f} m ahead" if x >= 0 else f"{-x:.1f} m behind"
        side = "" if abs(y) < 0.05 else f" and {abs(y):.1f} m to the {'left' if y > 0 else 'right'}"
        return f"about {ahead}{side} ({frame_id} x {x:.2f}, y {y:.2f})"
    return f"at x {x:.2f}, y {y:.2f} in {frame_id}"
