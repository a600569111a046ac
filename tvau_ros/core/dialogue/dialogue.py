"""The dialogue: sessions with history, windows, targets, the verdict, answer text, checked claims.

``Dialogue.ask`` answers one question and raises ``QueryError`` (with a ``code`` and a clear
message) for anything it cannot answer; it never changes the evidence. Per question:

1. the question is checked (empty, too long, not UTF-8, not English) and its intent read;
2. the session is found: ``""`` = a one-off question; ``reset`` opens (or restarts) a session;
   any other id must be open (unknown and expired ids are errors); one question at a time per
   session; sessions idle for ``session_ttl_s`` expire; history keeps ``history_turns`` turns;
3. the window: an explicit ``[start, end]`` (ns; end 0 = up to now, start 0 = from the oldest
   stored frame), or, when both are 0, the latest clip widened to cover the anomaly being talked
   about (the session's previous target, else the open or most recent episode);
4. the targets of the window are measured (``measure_targets``); the question is about the
   target it names ("target 2", "track 7"), else the session's previous targets (follow-ups
   such as "and where did it go?"), else every target;
5. the verdict (yes/no, confidence, span) comes from the evidence, the text from the answerer;
   every checkable claim of the text is checked against the evidence (``check_claims``) and
   disagreements are returned as ``flagged_claims`` and counted.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tvau_ros.core.dialogue.answerers import (AnswererSlot, AnswererUnavailable, Cancelled, GroundedAnswerer,
                                              TextAnswerer, Turn, Verdict)
from tvau_ros.core.dialogue.claims import CheckedClaim, check_claims, extract_claims
from tvau_ros.core.dialogue.evidence_view import EvidenceSource, EvidenceView, build_view, stored_span
from tvau_ros.core.dialogue.intents import Intent, QuestionError, check_question, classify
from tvau_ros.core.dialogue.measure import (MeasureConfig, MeasuredTarget, ObservationCache, measure_targets,
                                            observe_view)
from tvau_ros.data.annotation.phrasing import FrameAnchors, TimeAnchors
from tvau_ros.core.evidence import EvidenceStore
from tvau_ros.core.types import NS_PER_S, Episode, Region
from tvau_ros.data.annotation.colors import name_pixels


class QueryError(Exception):
    """A question that gets ``success: false``; ``code`` names the kind (for counting)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class DialogueConfig:
    history_turns: int = 8
    max_sessions: int = 64
    session_ttl_s: float = 600.0
    max_question_chars: int = 2000
    max_targets: int = 4
    min_anomalous_frames: int = 3   # a window with fewer anomalous frames (and no episode) is "no"
    anchors: str = "time"           # "time": seconds / time of day; "frames": frame numbers (the dataset)
    measure: MeasureConfig = field(default_factory=MeasureConfig)

    def __post_init__(self):
        if self.anchors not in ("time", "frames"):
            raise ValueError(f"anchors must be 'time' or 'frames', got {self.anchors!r}")
        for name in ("history_turns", "max_sessions", "max_question_chars", "max_targets"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.session_ttl_s > 0:
            raise ValueError(f"session_ttl_s must be > 0, got {self.session_ttl_s}")


@dataclass
class Answer:
    text: str
    intent: str
    judgment: str                  # "yes" | "no"
    confidence: float
    regions: list[Region]
    track_id: int                  # the target talked about (0 = none / several)
    window_start_ns: int
    window_end_ns: int
    flagged_claims: list[str]
    claims: list[CheckedClaim]
    session_id: str = ""
    answerer: str = ""
    elapsed_s: float = 0.0
    track_ids: list[int] = field(default_factory=list)


@dataclass
class _Session:
    history: deque
    focus: list[tuple[int, int]] = field(default_factory=list)   # (track id, first frame) of the last subjects
    last_used: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class PendingTurn:
    """An opened question: checked, its session taken; ``Dialogue.answer`` answers it."""

    dialogue: Dialogue
    question: str
    session_id: str
    session: _Session | None
    reset: bool
    answerer: TextAnswerer
    started: float
    _released: bool = False

    def release(self) -> None:
        """Give the session back (once); for a question that will not be answered after all."""
        if not self._released and self.session is not None:
            self.session.last_used = self.dialogue.clock()
            self.session.lock.release()
        self._released = True


class DialogueStats:
    """Counters for diagnostics: answers, errors by code, claims checked and flagged, timing."""

    def __init__(self):
        self._lock = threading.Lock()
        self.answers = 0
        self.errors: dict[str, int] = {}
        self.claims_checked = 0
        self.claims_flagged = 0
        self._seconds: deque = deque(maxlen=1000)

    def answered(self, answer: Answer) -> None:
        with self._lock:
            self.answers += 1
            self.claims_checked += sum(c.agrees is not None for c in answer.claims)
            self.claims_flagged += len(answer.flagged_claims)
            self._seconds.append(answer.elapsed_s)

    def error(self, code: str) -> None:
        with self._lock:
            self.errors[code] = self.errors.get(code, 0) + 1

    def snapshot(self) -> dict:
        with self._lock:
            seconds = list(self._seconds)
            return {"answers": self.answers, "errors": sum(self.errors.values()),
                    **{f"errors_{k}": v for k, v in sorted(self.errors.items())},
                    "claims_checked": self.claims_checked, "claims_flagged": self.claims_flagged,
                    "answer_ms_p50": 1e3 * float(np.percentile(seconds, 50)) if seconds else float("nan"),
                    "answer_ms_p95": 1e3 * float(np.percentile(seconds, 95)) if seconds else float("nan")}


def _fmt_ns(ns: int) -> str:
    return f"{ns / NS_PER_S:.3f} s"


class Dialogue:
    def __init__(self, source: EvidenceSource, answerer: TextAnswerer | AnswererSlot | None = None,
                 config: DialogueConfig = DialogueConfig(), clock: Callable[[], float] = time.monotonic):
        self.source = source
        if answerer is None:
            answerer = GroundedAnswerer()
        self.slot = answerer if isinstance(answerer, AnswererSlot) else AnswererSlot.ready(answerer)
        self.config = config
        self.clock = clock
        self.stats = DialogueStats()
        self.cache = ObservationCache(config.measure.max_cached_frames)
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._closed: OrderedDict[str, str] = OrderedDict()   # id -> why it is gone
        self._lock = threading.Lock()
        name_pixels(np.zeros((1, 3), np.uint8))  # builds the colour look-up table now, not in the first answer

    def prefetch(self, seconds: float = 10.0) -> int:
        """Measure the newest ``seconds`` of anomalous frames ahead of any question (so answers
        only aggregate); returns how many frames are cached. A no-op before the first frame."""
        store = self.source.store
        latest = store.latest() if store is not None else None
        if latest is None:
            return len(self.cache)
        view = build_view(store, [], latest.stamp_ns - int(seconds * NS_PER_S), latest.stamp_ns,
                          self.source.threshold, getattr(self.source, "smoothing_sigma", 1.0))
        if view.frames:
            observe_view(view, self.config.measure, self.cache)
        return len(self.cache)

    # ------------------------------------------------------------ sessions

    def _expire(self, now: float) -> None:
        for sid, session in list(self._sessions.items()):
            if now - session.last_used > self.config.session_ttl_s and not session.lock.locked():
                del self._sessions[sid]
                self._forget(sid, f"expired after {self.config.session_ttl_s:g} s without a question")

    def _forget(self, sid: str, why: str) -> None:
        self._closed[sid] = why
        while len(self._closed) > 1000:
            self._closed.popitem(last=False)

    def _session(self, sid: str, reset: bool) -> _Session | None:
        if not sid:
            return None
        now = self.clock()
        with self._lock:
            self._expire(now)
            session = self._sessions.get(sid)
            if reset:
                if session is not None and session.lock.locked():
                    raise QueryError("session_busy", f"session {sid!r} is answering another question; "
                                                     "it cannot be reset now")
                session = _Session(deque(maxlen=self.config.history_turns))
                self._sessions[sid] = session
                self._closed.pop(sid, None)
                while len(self._sessions) > self.config.max_sessions:
                    old, _ = self._sessions.popitem(last=False)
                    self._forget(old, f"closed to make room (at most {self.config.max_sessions} sessions)")
            elif session is None:
                if sid in self._closed:
                    raise QueryError("expired_session", f"session {sid!r} {self._closed[sid]}; "
                                                        "send reset: true to start it again")
                raise QueryError("unknown_session", f"unknown session {sid!r}: start a session with reset: true "
                                                    "(or leave session_id empty for a one-off question)")
            self._sessions.move_to_end(sid)
            session.last_used = now
            return session

    def reset(self, sid: str) -> None:
        """Forget a session's history (opens it if new)."""
        self._session(sid, reset=True)

    def sessions(self) -> list[str]:
        with self._lock:
            return list(self._sessions)

    # ------------------------------------------------------------ asking

    def ask(self, question: str, session_id: str = "", window: tuple[int, int] = (0, 0), reset: bool = False,
            on_text: Callable[[str], None] | None = None, cancel: threading.Event | None = None) -> Answer:
        """Answer one question (see the module docstring); QueryError when it cannot."""
        return self.answer(self.open_turn(question, session_id, reset), window, on_text, cancel)

    def open_turn(self, question: str, session_id: str = "", reset: bool = False) -> PendingTurn:
        """The cheap checks, on the caller's thread: the question, the answerer, the session
        (taken for this question until ``answer`` or ``PendingTurn.release``); QueryError when one fails."""
        try:
            text = check_question(question, self.config.max_question_chars)
        except QuestionError as exc:
            raise self._error("bad_question", str(exc)) from None
        try:
            answerer = self.slot.get()
        except AnswererUnavailable as exc:
            raise self._error("answerer_unavailable", str(exc)) from None
        try:
            session = self._session(session_id, reset)
        except QueryError as exc:
            self.stats.error(exc.code)
            raise
        if session is not None and not session.lock.acquire(blocking=False):
            raise self._error("session_busy", f"session {session_id!r} is answering another question; "
                                              "ask one question at a time per session")
        return PendingTurn(self, text, session_id, session, reset, answerer, time.perf_counter())

    def _error(self, code: str, message: str) -> QueryError:
        self.stats.error(code)
        return QueryError(code, message)

    def answer(self, pending: PendingTurn, window: tuple[int, int] = (0, 0),
               on_text: Callable[[str], None] | None = None, cancel: threading.Event | None = None) -> Answer:
        """Answer an opened question (the expensive part, e.g. on a worker); releases its session."""
        try:
            return self._answer(pending, window, on_text, cancel)
        except QueryError as exc:
            if exc.code != "cancelled":  # whoever cancelled (the node: client or timeout) counts it
                self.stats.error(exc.code)
            raise
        finally:
            pending.release()

    def _answer(self, pending: PendingTurn, window: tuple[int, int], on_text: Callable[[str], None] | None,
                cancel: threading.Event | None) -> Answer:
        session, text, answerer = pending.session, pending.question, pending.answerer
        if cancel is not None and cancel.is_set():
            raise QueryError("cancelled", "the question was cancelled before it was answered")
        intent = classify(text)
        focus = session.focus if session is not None and not pending.reset else []
        view = self._view(window, focus, intent.intent)
        targets = measure_targets(view, self.config.measure, self.cache)[: self.config.max_targets]
        subjects = self._subjects(targets, intent, focus)
        verdict = self._verdict(view, targets)
        anchors = FrameAnchors() if self.config.anchors == "frames" else TimeAnchors(view.stamps)
        turn = Turn(text, intent, view, targets, subjects, verdict, anchors,
                    list(session.history) if session is not None else [], cancel)
        turn.check_cancel()
        try:
            reply = answerer.respond(turn, on_text)
        except Cancelled:
            raise QueryError("cancelled", "the question was cancelled before the answer was complete") from None
        checked = check_claims(extract_claims(reply, anchors), view, subjects, verdict)
        if session is not None:
            session.history.append((text, reply))
            if subjects:
                session.focus = [(t.track_id, t.start) for t in subjects]
        start_ns, end_ns = view.used_window
        answer = Answer(
            text=reply, intent=intent.intent, judgment="yes" if verdict.abnormal else "no",
            confidence=verdict.confidence, regions=_regions(view, subjects),
            track_id=subjects[0].track_id if len(subjects) == 1 else 0, window_start_ns=start_ns,
            window_end_ns=end_ns, flagged_claims=[c.flag() for c in checked if c.agrees is False], claims=checked,
            session_id=pending.session_id, answerer=answerer.name, elapsed_s=time.perf_counter() - pending.started,
            track_ids=[t.track_id for t in subjects])
        self.stats.answered(answer)
        return answer

    # ------------------------------------------------------------ window, targets, verdict

    def _view(self, window: tuple[int, int], focus: list[tuple[int, int]], intent: str) -> EvidenceView:
        store = self.source.store
        if store is None:
            raise QueryError("not_ready", "the anomaly pipeline is not running yet "
                                          "(the heatmap node is not configured)")
        span = stored_span(store)
        if span is None:
            raise QueryError("no_frames", "no frame has been processed yet; ask again once the camera is streaming")
        oldest, newest = span
        start, end = int(window[0]), int(window[1])
        if start < 0 or end < 0:
            raise QueryError("bad_window", f"window times must not be negative, got {start} and {end} ns")
        if start and end and start > end:
            raise QueryError("bad_window", f"the window is reversed: window_start {_fmt_ns(start)} is after "
                                           f"window_end {_fmt_ns(end)}")
        if start > newest:
            raise QueryError("bad_window", f"the window starts at {_fmt_ns(start)}, after the newest processed "
                                           f"frame ({_fmt_ns(newest)})")
        episodes = self.source.episodes()
        if (start, end) == (0, 0):
            start, end = self._default_window(store, episodes, focus, intent)
        start, end = start or oldest, end or newest
        view = build_view(store, episodes, start, end, self.source.threshold,
                          getattr(self.source, "smoothing_sigma", 1.0))
        if not view.frames:
            raise QueryError("no_frames", f"no processed frames between {_fmt_ns(start)} and {_fmt_ns(end)}; "
                                          f"the stored frames span {_fmt_ns(oldest)} to {_fmt_ns(newest)}")
        return view

    @staticmethod
    def _default_window(store: EvidenceStore, episodes: list[Episode], focus: list[tuple[int, int]],
                        intent: str) -> tuple[int, int]:
        """The latest clip, widened back to the start of the anomaly being talked about."""
        latest = store.latest()
        start = latest.window_start_ns
        tracked = [e for e in episodes if e.track_id in {t for t, _ in focus if t}]
        if not tracked and intent not in ("judgment", "count"):
            tracked = [e for e in episodes if e.end_ns is None] or sorted(episodes, key=lambda e: e.end_ns)[-1:]
        elif not tracked:
            tracked = [e for e in episodes if e.end_ns is None]
        if tracked:
            start = min(start, min(e.start_ns for e in tracked))
        return start, latest.stamp_ns

    @staticmethod
    def _subjects(targets: list[MeasuredTarget], intent: Intent, focus: list[tuple[int, int]]) -> list[MeasuredTarget]:
        if intent.track:
            return [t for t in targets if t.track_id == intent.track]
        if intent.target:
            return targets[intent.target - 1: intent.target]
        if focus:
            tracked = {t for t, _ in focus if t}
            chosen = [t for t in targets if (t.track_id and t.track_id in tracked)
                      or (not t.track_id and any(abs(t.start - s) <= 2 for tid, s in focus if not tid))]
            if chosen:
                return chosen
        return targets

    def _verdict(self, view: EvidenceView, targets: list[MeasuredTarget]) -> Verdict:
        anomalous = view.anomalous_indices()
        peak = max((view.score(r) for r in view.frames), default=0.0)
        enough = len(anomalous) >= min(self.config.min_anomalous_frames, len(view.frames))
        abnormal = bool(view.episodes) or (bool(anomalous) and enough)
        if not abnormal:
            return Verdict(False, float(np.clip(1.0 - peak, 0.0, 1.0)), None)
        episode_peak = max((e.peak_score for e in view.episodes), default=0.0)
        frames = anomalous + [f for t in targets for f in (t.start, t.end)]
        span = (min(frames), max(frames)) if frames else (view.frames[0].index, view.frames[-1].index)
        return Verdict(True, float(np.clip(max(peak, episode_peak), 0.0, 1.0)), span)


def _regions(view: EvidenceView, subjects: list[MeasuredTarget]) -> list[Region]:
    """The regions an answer rests on: each subject's latest tracked region (or its last heatmap
    box), else the newest frame's regions."""
    if not subjects:
        with_regions = [r for r in view.frames if r.regions]
        return list(with_regions[-1].regions) if with_regions else []
    out = []
    for target in subjects:
        own = ([g for f, g in view.regions(target.track_id) if target.start <= f.index <= target.end]
               if target.track_id else [])
        out.append(own[-1] if own else Region(target.last_box, target.peak_score, target.peak_score,
                                              target.last_box.area / float(target.source_hw[0] * target.source_hw[1]),
                                              track_id=target.track_id, ground_point=target.ground_point))
    return out
