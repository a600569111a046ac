"""Checkable claims of an answer, read back from its text, and checked against the evidence.

Any answerer's text (the grounded one's, an LVLM's) is read with the phrasing's vocabulary
into ``Claim`` s: how many targets (``count``), a colour of a body part (``colour``), the side a
target enters or leaves by (``side``), a turn (``turn``: left/right at a time, or none), a time
span (``time_span``), a motion state (``motion``), where it is in the image (``position``) and
the yes/no verdict (``judgment``). "Target 2: ..." prefixes say which target a claim is about.

``check_claims`` compares each claim with the heatmap evidence of the window by a measurement
of its own (not the one the grounded answer was phrased from): the side a target's first / last
heatmap region lies at, the raw colours under its heatmap boxes, the turn of its heatmap
track, the frames its heatmap covers, the number of tracked targets, the verdict. A claim the
evidence contradicts is flagged with the reason. Motion states are read but not checked.

>>> claims = extract_claims("Target 1: A person wearing a red top. Target 2: Blue top, black bottom.")
>>> [(c.kind, c.target, c.value) for c in claims]
[('count', 0, 2), ('colour', 1, ('top', 'red')), ('colour', 2, ('top', 'blue')), ('colour', 2, ('bottom', 'black'))]
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from tvau_ros.core.dialogue.answerers import Verdict
from tvau_ros.core.dialogue.evidence_view import EvidenceView
from tvau_ros.core.dialogue.measure import MeasuredTarget
from tvau_ros.data.annotation.phrasing import ANCHOR, FRAMES, SPAN, VERBS, Anchors, image_region_words
from tvau_ros.data.annotation.colors import PALETTE
from tvau_ros.metrics.text import parse_yes_no

CHECKED_KINDS = ("count", "colour", "side", "turn", "time_span", "position", "judgment")
_C = "|".join(PALETTE)
_SIDES = "left|right|top|bottom"
_COLOUR_PATTERNS = (
    (rf"\b({_C}) top\b", "top"), (rf"\b({_C}) (?:trousers|pants|bottom)\b", "bottom"),
    (rf"\b({_C}) upper clothing\b", "top"), (rf"\b({_C}) lower clothing\b", "bottom"),
    (rf"\b({_C}) at the front\b", "front"), (rf"\b({_C}) at the back\b", "back"),
    (rf"\bmostly ({_C})\b", "whole"), (rf"^\s*({_C}) (?:person|target)\.", "whole"),
)
_STATE_OF = {word: state for state, words in VERBS.items() for word in words}
_STATE_OF.update({"runs": "running", "walks": "walking", "stays in place": "stationary"})
_MOTION = "|".join(sorted((re.escape(w) for w in _STATE_OF), key=len, reverse=True))
_COUNT_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "once": 1, "twice": 2}


@dataclass(frozen=True)
class Claim:
    kind: str       # one of count, colour, side, turn, time_span, motion, position, judgment
    target: int     # 1-based "Target k" the claim is about; 0 = the answer's only / every target
    value: object
    text: str       # the words it was read from


@dataclass(frozen=True)
class CheckedClaim:
    claim: Claim
    agrees: bool | None   # None: not checkable against this evidence
    reason: str = ""

    def flag(self) -> str:
        return f"{self.claim.text!r}: {self.reason}"


def _segments(text: str) -> list[tuple[int, str]]:
    parts = re.split(r"\bTarget (\d+):", text)
    if len(parts) == 1:
        return [(0, text)]
    out = [(0, parts[0])] if parts[0].strip() else []
    return out + [(int(parts[i]), parts[i + 1]) for i in range(1, len(parts), 2)]


def _anchor_frames(segment: str, anchors: Anchors) -> list[int]:
    frames = [anchors.parse(m.group()) for m in re.finditer(ANCHOR, segment)]
    for m in re.finditer(SPAN, segment):
        frames += [anchors.parse(m.group(1)), anchors.parse(m.group(2))]
    return [f for f in frames if f is not None]


def extract_claims(text: str, anchors: Anchors = FRAMES) -> list[Claim]:
    """Claims of one answer (see the module docstring)."""
    claims: list[Claim] = []
    verdict = parse_yes_no(text)
    if verdict is not None:
        claims.append(Claim("judgment", 0, verdict, text.split(".")[0][:60]))
    segments = _segments(text)
    numbered = [k for k, _ in segments if k]
    if numbered:
        claims.append(Claim("count", 0, max(numbered), f"Target {max(numbered)}"))
    for m in re.finditer(r"\b(two|three|four|five|\d+) (?:abnormal )?targets\b", text, re.I):
        word = m.group(1).lower()
        claims.append(Claim("count", 0, _COUNT_WORDS.get(word) or int(word), m.group()))
    for target, seg in segments:
        low = seg.lower()
        for pattern, part in _COLOUR_PATTERNS:
            for m in re.finditer(pattern, low):
                claims.append(Claim("colour", target, (part, m.group(1)), m.group().strip()))
        for m in re.finditer(rf"\benters? from (?:the )?({_SIDES})\b", low):
            claims.append(Claim("side", target, ("entry", m.group(1)), m.group()))
        for m in re.finditer(rf"\bexits? (?:on the |at the )?({_SIDES})\b", low):
            claims.append(Claim("side", target, ("exit", m.group(1)), m.group()))
        for m in re.finditer(r"already inside the scene|\bstart inside\b", low):
            claims.append(Claim("side", target, ("entry", "inside"), m.group()))
        for m in re.finditer(r"stops inside the scene|\bend inside\b", low):
            claims.append(Claim("side", target, ("exit", "inside"), m.group()))
        for m in re.finditer(rf"moves from (?:the ({_SIDES})|inside the scene) to "
                             rf"(?:the ({_SIDES})|inside the scene)", low):
            claims.append(Claim("side", target, ("entry", m.group(1) or "inside"), m.group()))
            claims.append(Claim("side", target, ("exit", m.group(2) or "inside"), m.group()))
        for m in re.finditer(rf"\bturns? (left|right) (?:at |\()({ANCHOR})", low):
            claims.append(Claim("turn", target, (m.group(1), anchors.parse(m.group(2))), m.group()))
        for m in re.finditer(r"\bwithout turning\b", low):
            claims.append(Claim("turn", target, ("none", None), m.group()))
        for m in re.finditer(rf"\b({_MOTION}) (?:throughout, )?from ({ANCHOR}) to ({ANCHOR})", low):
            claims.append(Claim("motion", target, (_STATE_OF[m.group(1)], anchors.parse(m.group(2)),
                                                   anchors.parse(m.group(3))), m.group()))
        for m in re.finditer(rf"\b({_MOTION}) {SPAN}", low):
            claims.append(Claim("motion", target, (_STATE_OF[m.group(1)], anchors.parse(m.group(2)),
                                                   anchors.parse(m.group(3))), m.group()))
        for m in re.finditer(r"\bin (the (?:upper|middle|lower) (?:left|right)|the (?:top|bottom) centre|"
                             r"the centre) of the image", low):
            claims.append(Claim("position", target, m.group(1), m.group()))
        frames = _anchor_frames(seg, anchors)
        if len(frames) >= 2:
            claims.append(Claim("time_span", target, (min(frames), max(frames)), seg.strip()[:80]))
    return claims


# ---------------------------------------------------------------- checking against the evidence

def _subject(claim: Claim, subjects: list, claim_span: tuple[int, int] | None) -> MeasuredTarget | None:
    """The measured target a claim is about: "Target k", the only one, or the best overlapping."""
    if not subjects:
        return None
    if claim.target:
        return subjects[claim.target - 1] if claim.target <= len(subjects) else None
    if len(subjects) == 1 or claim_span is None:
        return subjects[0]
    return max(subjects, key=lambda t: min(t.end, claim_span[1]) - max(t.start, claim_span[0]))


def _near_border(box: tuple[int, int, int, int], side: str, width: int, height: int, share: float) -> bool:
    x1, y1, x2, y2 = box
    return {"left": x1 <= share * width, "right": x2 >= (1 - share) * width - 1,
            "top": y1 <= share * height, "bottom": y2 >= (1 - share) * height - 1}[side]


def _check_side(value: tuple[str, str], target: MeasuredTarget, shape: tuple[int, int]) -> tuple[bool, str]:
    which, side = value
    obs = target.result.timeline.observations[0 if which == "entry" else -1]
    h, w = shape
    when = f"{'first' if which == 'entry' else 'last'} heatmap region (frame {obs.frame})"
    if side == "inside":
        touched = [s for s in ("left", "right", "top", "bottom") if _near_border(obs.extent, s, w, h, 0.0)]
        return (not touched, f"its {when} touches the {' and '.join(touched)} border")
    return (_near_border(obs.extent, side, w, h, 0.1), f"its {when} is far from the {side} border")


def _check_colour(value: tuple[str, str], target: MeasuredTarget) -> tuple[bool, str]:
    part, colour = value
    votes: dict[str, np.ndarray] = {}
    for obs in target.result.timeline.observations:  # the raw frame's votes over the heatmap box
        for region, v in obs.coarse.votes.items():
            if v.sum() > 0:
                votes[region] = votes.get(region, 0) + v / v.sum()
    parts = {"top": ("top",), "bottom": ("bottom",)}.get(part, tuple(votes))
    seen = sum((votes[r] for r in parts if r in votes), np.zeros(len(PALETTE)))
    if seen.sum() == 0:
        return True, ""
    share = seen / seen.sum()
    top3 = [PALETTE[i] for i in np.argsort(share)[::-1][:3] if share[i] > 0]
    mine = share[PALETTE.index(colour)]
    ok = mine >= 0.1 or (colour in top3 and mine >= 0.02)
    return ok, f"the pixels under its heatmap are mostly {', '.join(top3)} ({colour} {mine:.0%})"


def _heading_change(target: MeasuredTarget, frame: int, fps: float) -> float | None:
    """Signed heading change (degrees, + = left) of the heatmap track around ``frame``: image
    rows stand for depth (up = away), as seen from above; each end averages 3 frames."""
    obs = {o.frame: o for o in target.result.timeline.observations}
    w = max(3, int(round(0.8 * fps)))

    def point(frames: Iterable[int]) -> np.ndarray | None:
        seen = [np.array([obs[f].foot[0], -obs[f].foot[1]]) for f in frames if f in obs]
        return np.mean(seen, axis=0) if seen else None
    a, b = point(range(frame - w, frame - w + 3)), point(range(frame - 1, frame + 2))
    c = point(range(frame + w - 2, frame + w + 1))
    if a is None or b is None or c is None:
        return None
    v_in, v_out = b - a, c - b
    if min(np.linalg.norm(v_in), np.linalg.norm(v_out)) < 2.0:
        return None
    return float(np.degrees(np.arctan2(v_in[0] * v_out[1] - v_in[1] * v_out[0], float(np.dot(v_in, v_out)))))


def _check_turn(value: tuple[str, int | None], target: MeasuredTarget, fps: float) -> tuple[bool | None, str]:
    """A turn is contradicted by a clear (> 45 degrees, the annotation's own turn threshold)
    turn the other way; "without turning" by a heatmap track that reverses (> 120 degrees)."""
    direction, frame = value
    if direction == "none":
        changes = [abs(a) for f in target.frames[::2] if (a := _heading_change(target, f, fps)) is not None]
        worst = max(changes, default=0.0)
        return worst <= 120.0, f"its heatmap track turns by {worst:.0f} degrees"
    if frame is None:
        return None, ""
    angle = _heading_change(target, frame, fps)
    if angle is None:
        return None, ""
    ok = (angle > 0) == (direction == "left") or abs(angle) < 45.0
    return ok, f"its heatmap track turns {'left' if angle > 0 else 'right'} ({abs(angle):.0f} degrees) there"


def _check_span(value: tuple[int, int], reference: tuple[int, int] | None, view: EvidenceView) -> tuple[bool, str]:
    a, b = value
    frames = [r.index for r in view.frames]
    if frames and (b < frames[0] or a > frames[-1]):
        return False, f"it lies outside the frames looked at ({frames[0]}-{frames[-1]})"
    if reference is None:
        return True, ""
    s, e = reference
    overlap = min(b, e) - max(a, s) + 1
    slack = max(2, int(round(0.5 * view.fps)))
    ok = overlap / float(max(b, e) - min(a, s) + 1) >= 0.5 or (abs(a - s) <= slack and abs(b - e) <= slack)
    return ok, f"the heatmap shows the anomaly in frames {s}-{e}"


def check_claims(claims: list[Claim], view: EvidenceView, subjects: list, verdict: Verdict) -> list[CheckedClaim]:
    """Check every claim against the evidence of the window (``view``) and the measured
    targets the answer is about (``subjects``, in the answer's order); ``verdict`` is the
    evidence's (``abnormal``, ``span``: first and last anomalous frame)."""
    out = []
    tracks = {g.track_id for _, g in view.regions() if g.track_id}
    spans = {c.target: c.value for c in claims if c.kind == "time_span"}
    for claim in claims:
        target = _subject(claim, subjects, spans.get(claim.target))
        agrees, reason = None, ""
        if claim.kind == "judgment":
            agrees, reason = claim.value == verdict.abnormal, f"the evidence says {'yes' if verdict.abnormal else 'no'}"
        elif claim.kind == "count":
            agrees = claim.value in (len(subjects), len(tracks))
            reason = f"the evidence shows {len(subjects)} abnormal target(s), {len(tracks)} track(s)"
        elif claim.kind == "time_span":
            named = claim.target or len(subjects) == 1
            reference = ((target.start, target.end) if target is not None and named
                         else (min(t.start for t in subjects), max(t.end for t in subjects)) if subjects
                         else verdict.span)
            agrees, reason = _check_span(claim.value, reference, view)
        elif target is None:
            if claim.kind != "motion":
                agrees, reason = False, "there is no such target in the evidence"
        elif claim.kind == "side":
            agrees, reason = _check_side(claim.value, target, target.working_hw)
        elif claim.kind == "colour":
            agrees, reason = _check_colour(claim.value, target)
        elif claim.kind == "turn":
            agrees, reason = _check_turn(claim.value, target, view.fps)
        elif claim.kind == "position":
            x, y = target.last_box.center()
            words = image_region_words(x, y, target.source_hw[1], target.source_hw[0])
            agrees, reason = claim.value == words, f"its last heatmap region is in {words} of the image"
        out.append(CheckedClaim(claim, agrees, "" if agrees else reason))
    return out

