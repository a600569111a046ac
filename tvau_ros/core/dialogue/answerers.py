"""Answerers: what turns one question about a window of evidence into answer text.

The dialogue (``tvau_ros.core.dialogue.dialogue``) does everything around the text: checks
the question, resolves the window and the targets, judges yes/no with a confidence from the
evidence, checks the text's claims and keeps the session. An answerer only writes the text of
one ``Turn``; any object with ``name`` and ``respond(turn, on_text) -> str`` plugs in
(``TextAnswerer``):

* ``GroundedAnswerer`` (default, no weights): phrases the measured facts with the dataset's
  own sentences (``phrasing``), plus where / when / behaviour sentences; states nothing the
  evidence does not hold.
* ``GeneratorAnswerer``: wraps any text generator with the LVLM's call
  ``generate(frames (T,H,W,3) uint8, heatmaps (T,h,w) float32, question, history, stream)``
  (``tvau_ros.core.lvlm``'s ``LvlmAnswerer``); its text is checked like any other.

``build_answerer(name, **options)`` makes one by name; ``AnswererSlot`` loads one in the
background so a service can say "still loading" instead of blocking.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from tvau_ros.core.dialogue.evidence_view import EvidenceView
from tvau_ros.core.dialogue.intents import Intent
from tvau_ros.core.dialogue.measure import MeasuredTarget
from tvau_ros.data.annotation.phrasing import (Anchors, FrameAnchors, appearance_answers, behaviour_phrase,
                                             ground_phrase, image_region_words, judgment_answers, motion_answers,
                                             per_target, trajectory_answers)

HELP = ("I can answer questions about the anomaly evidence: whether anything is abnormal, what the "
        "abnormal target looks like, how it moves, where it came from and went, where it is now, "
        "when it happened and how many targets there are.")
_PART_WORDS = {"top": "upper clothing", "bottom": "lower clothing"}


class Cancelled(Exception):
    """The question was cancelled (by the client or a timeout) while it was being answered."""


class AnswererUnavailable(RuntimeError):
    """The answerer is still loading or failed to load; the message says which."""


@dataclass
class Verdict:
    """The evidence's yes/no over the window, its confidence and the anomaly's frames."""

    abnormal: bool
    confidence: float
    span: tuple[int, int] | None   # first and last anomalous frame


@dataclass
class Turn:
    """Everything an answerer may use for one question."""

    question: str
    intent: Intent
    view: EvidenceView
    targets: list[MeasuredTarget]    # every target measured in the window
    subjects: list[MeasuredTarget]   # the ones this question is about, in answer order
    verdict: Verdict
    anchors: Anchors
    history: list[tuple[str, str]] = field(default_factory=list)
    cancel: threading.Event | None = None

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("cancelled")


class TextAnswerer(Protocol):
    name: str

    def respond(self, turn: Turn, on_text: Callable[[str], None] | None = None) -> str:
        """The answer text; ``on_text`` receives the text so far as it grows (streaming)."""
        ...


# ---------------------------------------------------------------- grounded

def _noun(target: MeasuredTarget) -> str:
    return target.facts.noun


def _numbered(subjects: Sequence[MeasuredTarget], sentence: Callable[[MeasuredTarget], str | None]) -> list[str]:
    """One sentence per target, prefixed "Target k:" when there are several."""
    out = []
    for i, target in enumerate(subjects):
        text = sentence(target)
        if text:
            out.append(text if len(subjects) == 1 else f"Target {i + 1}: {text}")
    return out


class GroundedAnswerer:
    """Answers from the evidence alone (see the module docstring)."""

    name = "grounded"

    def respond(self, turn: Turn, on_text: Callable[[str], None] | None = None) -> str:
        sentences = self._sentences(turn)
        text = ""
        for sentence in sentences:
            turn.check_cancel()
            text = f"{text} {sentence}".strip()
            if on_text is not None:
                on_text(text)
        return text

    def _sentences(self, turn: Turn) -> list[str]:
        intent, subjects, anchors, verdict = turn.intent.intent, turn.subjects, turn.anchors, turn.verdict
        first, last = turn.view.frames[0].index, turn.view.frames[-1].index
        if intent == "other":
            return [HELP]
        if intent == "judgment":
            return self._judgment(turn)
        if intent == "count":
            n = len(turn.targets)
            return [f"I see {n} abnormal target{'s' if n != 1 else ''} between {anchors.at(first)} "
                    f"and {anchors.at(last)}."]
        if not subjects:
            if verdict.abnormal and verdict.span is not None:
                return [f"Something was flagged from {anchors.at(verdict.span[0])} to {anchors.at(verdict.span[1])}, "
                        "but too briefly or too small for me to describe it."]
            return [f"I see no abnormal target between {anchors.at(first)} and {anchors.at(last)}, "
                    "so there is nothing to describe."]
        if intent == "appearance":
            out = [per_target(subjects, lambda t: appearance_answers(t.facts))[0]]
            # the dataset's own phrasing (frame anchors) leaves an unclear colour out; a live
            # answer also says so: "I can't tell", never a guess
            parts = [turn.intent.part] if turn.intent.part else ([] if isinstance(anchors, FrameAnchors)
                                                                else ["top", "bottom"])
            return out + _numbered(subjects, lambda t: _unknown_parts(t, parts))
        if intent == "motion":
            return [per_target(subjects, lambda t: motion_answers(t.facts, anchors))[0]] + self._behaviours(subjects)
        if intent == "trajectory":
            return [per_target(subjects, lambda t: trajectory_answers(t.facts, anchors))[0]]
        if intent == "where":
            return _numbered(subjects, lambda t: _where(t, anchors, last))
        if intent == "when":
            return _numbered(subjects, lambda t: _when(t, turn))
        return [HELP]

    def _judgment(self, turn: Turn) -> list[str]:
        verdict, anchors = turn.verdict, turn.anchors
        if not verdict.abnormal:
            if isinstance(anchors, FrameAnchors):
                return [judgment_answers(False)[1]]
            first, last = turn.view.frames[0].index, turn.view.frames[-1].index
            return [f"No, there is no anomaly between {anchors.at(first)} and {anchors.at(last)}."]
        out = [judgment_answers(True, verdict.span, anchors)[2]]
        if len(turn.subjects) > 1:
            out.append(f"There are {len(turn.subjects)} abnormal targets.")
        return out + self._behaviours(turn.subjects)

    @staticmethod
    def _behaviours(subjects: Sequence[MeasuredTarget]) -> list[str]:
        def sentence(t: MeasuredTarget) -> str | None:
            phrase = behaviour_phrase(*t.behaviour) if t.behaviour else None
            return f"The {_noun(t)} was flagged for {phrase}." if phrase else None
        return _numbered(subjects, sentence)


def _unknown_parts(target: MeasuredTarget, parts: list[str]) -> str | None:
    """"I can't tell ..." for the asked body parts whose colour is not stated (None when the
    target is described as too far away already, or every asked colour is known)."""
    attrs = target.facts.attributes
    unknown = [p for p in parts if attrs.get(f"{p}_color") is None]
    if not unknown or (attrs.get("top_color") is None and attrs.get("bottom_color") is None and len(parts) > 1):
        return None
    names = _PART_WORDS if target.facts.noun == "person" else {"top": "front", "bottom": "back"}
    words = " or ".join(names[p] for p in unknown)
    return f"I can't tell the colour of its {words}{': ' + attrs['note'] if attrs.get('note') else ''}."


def _where(target: MeasuredTarget, anchors: Anchors, last_frame: int) -> str:
    x, y = target.last_box.center()
    region = image_region_words(x, y, target.source_hw[1], target.source_hw[0])
    ground = target.ground_point
    place = f"in {region} of the image"
    if ground is not None:
        place += f", {ground_phrase(ground.x, ground.y, ground.frame_id)}"
    if target.end < last_frame:
        return f"The {_noun(target)} was last seen at {anchors.at(target.end)} {place}."
    return f"The {_noun(target)} is {place}."


def _when(target: MeasuredTarget, turn: Turn) -> str:
    anchors = turn.anchors
    episode = next((e for e in turn.view.episodes if target.track_id and e.track_id == target.track_id), None)
    stamps = turn.view.stamps
    start, end = target.start, target.end
    still = episode is not None and episode.end_ns is None and end == turn.view.frames[-1].index
    seconds = (stamps.get(end, 0) - stamps.get(start, 0)) / 1e9
    if still:
        return f"The {_noun(target)} has been abnormal since {anchors.at(start)} ({seconds:.1f} s so far)."
    return f"The {_noun(target)} was abnormal from {anchors.at(start)} to {anchors.at(end)} ({seconds:.1f} s)."


# ---------------------------------------------------------------- any text generator (the LVLM)

class TextGenerator(Protocol):
    def generate(self, frames: np.ndarray, heatmaps: np.ndarray, question: str, history: list,
                 stream: bool = False, fps: float | None = None) -> str | Iterator[str]: ...


def sampled_fps(picked: int, covered: float, fps: float) -> float:
    """The rate of ``picked`` frames sampled evenly from ``covered`` frames of a stream at ``fps``
    (the LVLM's training clips use it too, ``core/lvlm/dialogue_data.py``).

    >>> sampled_fps(16, 240, 15.0)   # 16 of the 240 frames of 16 s
    1.0
    """
    return fps * picked / max(covered, 1.0)


class GeneratorAnswerer:
    """A ``TextGenerator`` (the LVLM) as a ``TextAnswerer``: it sees the window's frames and
    heatmaps (at most ``max_frames``, evenly sampled, with the rate they were sampled at, so the
    model's time axis matches the stream's), the question and the history. A cancelled query
    closes the generator's stream, which stops the generation."""

    def __init__(self, generator: TextGenerator, name: str = "lvlm", max_frames: int = 16):
        self.generator, self.name, self.max_frames = generator, name, max_frames

    def respond(self, turn: Turn, on_text: Callable[[str], None] | None = None) -> str:
        frames = turn.view.frames
        pick = np.unique(np.linspace(0, len(frames) - 1, min(self.max_frames, len(frames))).round().astype(int))
        images = np.stack([frames[i].image for i in pick])
        heatmaps = np.stack([frames[i].heatmap for i in pick]).astype(np.float32)
        rate = turn.view.fps
        fps = sampled_fps(len(pick), (frames[-1].stamp_ns - frames[0].stamp_ns) / 1e9 * rate + 1, rate)
        args = (images, heatmaps, turn.question, list(turn.history))
        if on_text is None:
            return str(self.generator.generate(*args, stream=False, fps=fps))
        text = ""
        stream = self.generator.generate(*args, stream=True, fps=fps)
        try:
            for piece in stream:
                turn.check_cancel()
                text += piece
                on_text(text)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        return text.strip()


# ---------------------------------------------------------------- by name, loaded in the background

def _load_lvlm(**options: Any) -> TextAnswerer:
    """``answerer_options``: ``model_path`` (a local Qwen2.5-VL-3B/7B-Instruct folder), and optionally
    ``adapter`` (what ``tvau train rae`` writes), ``device``, ``dtype`` (``LvlmAnswerer.from_pretrained``).
    A missing or partial file raises ``LvlmFilesError`` naming it."""
    try:
        from tvau_ros.core import lvlm
    except ImportError as exc:
        raise AnswererUnavailable(f"answerer 'qwen2_5_vl' needs tvau_ros.core.lvlm, which is not available "
                                  f"({exc})") from None
    if "model_path" not in options:
        raise ValueError("answerer 'qwen2_5_vl' needs answerer_options "
                         "{\"model_path\": \"/path/to/Qwen2.5-VL-7B-Instruct\"} "
                         "(optionally \"adapter\", \"device\", \"dtype\")")
    return GeneratorAnswerer(lvlm.LvlmAnswerer.from_pretrained(**options), name="qwen2_5_vl")


ANSWERERS: dict[str, Callable[..., TextAnswerer]] = {"grounded": lambda **_: GroundedAnswerer(),
                                                     "qwen2_5_vl": _load_lvlm}


def build_answerer(name: str, **options: Any) -> TextAnswerer:
    """The answerer registered as ``name`` (``ANSWERERS``), or made by ``package.module:callable``
    (a plug-in: any callable returning a ``TextAnswerer``), given ``options`` as keywords."""
    if ":" in name:
        module_name, _, attr = name.partition(":")
        import importlib

        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"answerer {name!r} cannot be imported: {exc}") from None
        return factory(**options)
    if name not in ANSWERERS:
        raise ValueError(f"unknown answerer {name!r}; choose one of {', '.join(sorted(ANSWERERS))} "
                         "or give package.module:callable")
    return ANSWERERS[name](**options)


class AnswererSlot:
    """Holds an answerer that may take long to load (model weights): ``start()`` loads it in a
    thread; ``get()`` returns it, or raises ``AnswererUnavailable`` while loading or after a failed load."""

    def __init__(self, factory: Callable[[], TextAnswerer], name: str):
        self.factory, self.name = factory, name
        self._answerer: TextAnswerer | None = None
        self._error = ""
        self._done = threading.Event()

    @classmethod
    def ready(cls, answerer: TextAnswerer) -> AnswererSlot:
        slot = cls(lambda: answerer, answerer.name)
        slot._answerer = answerer
        slot._done.set()
        return slot

    def start(self) -> AnswererSlot:
        threading.Thread(target=self._load, name=f"load_{self.name}", daemon=True).start()
        return self

    def _load(self) -> None:
        try:
            self._answerer = self.factory()
        except Exception as exc:  # noqa: BLE001 - any load failure is reported to every query
            self._error = str(exc) or type(exc).__name__
        finally:
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    @property
    def state(self) -> str:
        return "loading" if not self._done.is_set() else ("ready" if self._answerer is not None else "failed")

    def get(self) -> TextAnswerer:
        if not self._done.is_set():
            raise AnswererUnavailable(f"the {self.name} answerer is still loading; ask again shortly")
        if self._answerer is None:
            raise AnswererUnavailable(f"the {self.name} answerer failed to load: {self._error}")
        return self._answerer
