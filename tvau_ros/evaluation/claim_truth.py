"""Attribute faithfulness: do an answer's claims agree with the generator's truth (``meta.json``)?

Claims are read from the answer text (``extract_claims``, frame anchors). "Target k" of a
video's answers is matched to a true abnormal target by the time span the same video's
trajectory (else motion) answer gives target k (one-to-one, the largest total overlap);
without one, by start order. Rules:

* ``count``: the number of true abnormal targets;
* ``colour``: the true top (top / front) or bottom (bottom / back) colour; "mostly X": either;
* ``side``: the true entry / exit side;
* ``turn``: a true turn of that direction within ``tolerance_s`` (as the annotation's own
  evaluation); "without turning": no true turn;
* ``time_span``: overlaps the true span by half (intersection over union), or both ends within
  ``tolerance_s``; an unnamed span over several targets is compared with their union;
* ``motion``: the true speed state holds on at least half of the claimed frames.

A claim about a target the truth does not have disagrees. ``FAITHFULNESS_KINDS`` (side,
direction = turn, colour, time span, count) make the headline number; motion is reported on
its own (the annotation's speed states are its weakest output, see its README).

>>> truth = [{"start": 10, "end": 40, "attributes": {"top_color": "red", "bottom_color": "blue"},
...           "trajectory": {"entry_side": "left", "exit_side": "right", "turns": [], "speed_states": []}}]
>>> tally = Tally()
>>> score_answers({"trajectory": "The person enters from the left at frame 11, and exits on the right at frame 40.",
...                "appearance": "A person wearing a green top and blue trousers."}, truth, fps=15.0, tally=tally)
>>> tally.table()["by_kind"]["colour"], tally.table()["faithfulness"]
({'claims': 2, 'agree': 1, 'percent': 50.0}, 80.0)
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from tvau_ros.core.dialogue.claims import Claim, extract_claims

FAITHFULNESS_KINDS = ("count", "colour", "side", "turn", "time_span")
REPORTED_KINDS = FAITHFULNESS_KINDS + ("motion",)


class Tally:
    """Claims and agreements per kind."""

    def __init__(self):
        self.claims: Counter = Counter()
        self.agree: Counter = Counter()

    def add(self, kind: str, ok: bool) -> None:
        self.claims[kind] += 1
        self.agree[kind] += bool(ok)

    def table(self) -> dict:
        def pct(a: int, n: int) -> float | None:
            return round(100.0 * a / n, 2) if n else None
        total = sum(self.claims[k] for k in FAITHFULNESS_KINDS)
        agree = sum(self.agree[k] for k in FAITHFULNESS_KINDS)
        return {"faithfulness": pct(agree, total), "claims": total,
                "by_kind": {k: {"claims": self.claims[k], "agree": self.agree[k],
                                "percent": pct(self.agree[k], self.claims[k])}
                            for k in REPORTED_KINDS}}


def _spans(text: str) -> dict[int, tuple[int, int]]:
    return {c.target: c.value for c in extract_claims(text) if c.kind == "time_span"}


def _span_iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    return max(inter, 0) / (max(a[1], b[1]) - min(a[0], b[0]) + 1)


def _overlaps(a: tuple[int, int], b: tuple[int, int], slack: float) -> bool:
    return _span_iou(a, b) >= 0.5 or (abs(a[0] - b[0]) <= slack and abs(a[1] - b[1]) <= slack)


def _mapping(answers: dict[str, str], truths: list[dict]) -> dict[int, dict]:
    """Answer target number (0 = the only one) -> true target: the one-to-one assignment of the
    answer's time spans to the true spans with the largest total overlap (intersection over
    union), so that one long true span does not take the first answer target that touches it;
    numbers without a span, or overlapping no true span, by start order."""
    from scipy.optimize import linear_sum_assignment

    ordered = sorted(truths, key=lambda t: t["start"])
    spans = _spans(answers.get("trajectory", "")) or _spans(answers.get("motion", ""))
    numbers = sorted(spans)
    mapping = {}
    if numbers and ordered:
        iou = np.array([[_span_iou(spans[k], (t["start"], t["end"])) for t in ordered] for k in numbers])
        for row, col in zip(*linear_sum_assignment(-iou), strict=True):
            if iou[row, col] > 0:
                mapping[numbers[row]] = ordered[col]
    for k in range(0, len(ordered) + 1):  # unmapped numbers: by start order
        if k not in mapping and (k or len(ordered) == 1):
            mapping[k] = ordered[max(k - 1, 0)] if k <= len(ordered) else None
    return mapping


def _state_share(states: list[dict], value: tuple) -> float:
    state, a, b = value
    if a is None or b is None or b < a:
        return 0.0
    hits = sum(any(s["start"] <= f <= s["end"] and s["state"] == state for s in states) for f in range(a, b + 1))
    return hits / (b - a + 1)


def claim_agrees(claim: Claim, target: dict | None, truths: list[dict], fps: float, tolerance_s: float = 0.5) -> bool:
    slack = tolerance_s * fps
    if claim.kind == "count":
        return claim.value == len(truths)
    if claim.kind == "time_span":
        if target is None and claim.target == 0 and truths:
            return _overlaps(claim.value, (min(t["start"] for t in truths), max(t["end"] for t in truths)), slack)
        return target is not None and _overlaps(claim.value, (target["start"], target["end"]), slack)
    if target is None:
        return False
    attrs, traj = target.get("attributes", {}), target.get("trajectory", {})
    if claim.kind == "colour":
        part, colour = claim.value
        truth = {"top": [attrs.get("top_color")], "front": [attrs.get("top_color")],
                 "bottom": [attrs.get("bottom_color")], "back": [attrs.get("bottom_color")]}.get(
            part, [attrs.get("top_color"), attrs.get("bottom_color")])
        return colour in truth
    if claim.kind == "side":
        which, side = claim.value
        return traj.get(f"{which}_side") == side
    if claim.kind == "turn":
        direction, frame = claim.value
        turns = traj.get("turns", [])
        if direction == "none":
            return not turns
        return any(t["direction"] == direction and (frame is None or abs(t["frame"] - frame) <= slack) for t in turns)
    if claim.kind == "motion":
        return _state_share(traj.get("speed_states", []), claim.value) >= 0.5
    raise ValueError(f"claim kind {claim.kind!r} has no truth to compare with")


def score_answers(answers: dict[str, str], truths: list[dict], fps: float, tally: Tally) -> None:
    """Add the claims of one video's answers (turn kind -> answer text) to ``tally``."""
    mapping = _mapping(answers, truths)
    for text in answers.values():
        for claim in extract_claims(text):
            if claim.kind in REPORTED_KINDS:
                tally.add(claim.kind, claim_agrees(claim, mapping.get(claim.target), truths, fps))
