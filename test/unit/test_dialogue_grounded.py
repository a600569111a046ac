"""The dialogue on real pipeline evidence: a drawn scene with two abnormal people whose masks are
the heatmaps (``MaskEngine``), through ``AnomalyPipeline``; grounded answers, targets, follow-ups,
sessions, windows, cancel, loading, other answerers and the evidence mirror."""
import threading

import numpy as np
import pytest

from tvau_ros.core.dialogue.answerers import (AnswererSlot, AnswererUnavailable, GeneratorAnswerer, GroundedAnswerer,
                                              build_answerer)
from tvau_ros.core.dialogue.dialogue import Dialogue, DialogueConfig, QueryError
from tvau_ros.core.dialogue.evidence_view import PipelineSource
from tvau_ros.core.dialogue.mirror import EvidenceMirror
from tvau_ros.core.dialogue.worker import Busy, QueryWorker
from tvau_ros.core.pipeline import AnomalyPipeline
from tvau_ros.core.pipeline_config import PipelineConfig, load_pipeline_config
from tvau_ros.core.types import evidence_to_dict
from tvau_ros.evaluation.mask_engine import MaskEngine

FPS, H, W, N = 10.0, 240, 320, 60
SKIN, RED, BLUE, GREEN, BLACK = (225, 190, 160), (200, 30, 30), (30, 60, 200), (40, 170, 40), (20, 20, 20)


def _person(image, mask, value, x, foot, height, top, bottom):
    x0, x1 = int(x - height * 0.15), int(x + height * 0.15)
    y0 = int(foot - height)
    rows = {"head": (y0, y0 + int(0.15 * height), SKIN), "top": (y0 + int(0.15 * height), y0 + int(0.55 * height), top),
            "bottom": (y0 + int(0.55 * height), int(foot), bottom)}
    for a, b, colour in rows.values():
        xs, ys = slice(max(x0, 0), max(min(x1, W), 0)), slice(max(a, 0), max(min(b, H), 0))
        image[ys, xs] = colour
        mask[ys, xs] = value


def scene(tiny: bool = False):
    """Person 1 (red top, blue trousers) walks in from the left from frame 5 and leaves on the
    right; person 2 (green top, black trousers) comes in from the right at frame 20 and stops
    inside. ``tiny``: one 12 px tall person instead."""
    rng = np.random.default_rng(0)
    base = (np.full((H, W, 3), 120) + rng.normal(0, 6, (H, W, 1))).clip(0, 255).astype(np.uint8)
    frames, masks = [], []
    for t in range(N):
        image, mask = base.copy(), np.zeros((H, W), np.int32)
        if tiny:
            if t >= 5:
                _person(image, mask, 1, 40 + 4 * t, 200, 12, RED, BLUE)
        else:
            if 5 <= t:
                _person(image, mask, 1, -10 + 7.5 * (t - 5), 210, 60, RED, BLUE)
            if 20 <= t:
                _person(image, mask, 2, max(330 - 6 * (t - 20), 200), 120, 40, GREEN, BLACK)
        image = (image.astype(np.int16) + rng.integers(-3, 4, image.shape)).clip(0, 255).astype(np.uint8)
        frames.append(image)
        masks.append(mask)
    return frames, masks


def run_pipeline(frames, masks, stop: int | None = None):
    engine = MaskEngine(5)
    for f, m in zip(frames, masks, strict=True):
        engine.add(f, m)
    cfg = load_pipeline_config(overrides={"evidence": {"max_items": 1000}})
    pipeline = AnomalyPipeline(engine, PipelineConfig.from_dict(cfg))
    for i, image in enumerate(frames[:stop]):
        pipeline.push(image, int(i * 1e9 / FPS))
    if stop is None:
        pipeline.finish()
    return pipeline


@pytest.fixture(scope="module")
def pipeline():
    return run_pipeline(*scene())


WHOLE = (0, int((N - 1) * 1e9 / FPS))


def test_judgment_appearance_and_trajectory_of_two_targets(pipeline):
    d = Dialogue(PipelineSource(pipeline))
    judged = d.ask("Is there any anomaly?", "s", WHOLE, reset=True)
    assert judged.judgment == "yes" and judged.confidence == pytest.approx(1.0)
    assert judged.text.startswith("Yes, an anomaly occurs from") and "There are 2 abnormal targets." in judged.text
    look = d.ask("What do they look like?", "s", WHOLE)
    assert look.text.startswith("Target 1: A person wearing a red top and blue trousers.")
    assert "Target 2: A person wearing a green top and black trousers." in look.text
    assert look.track_id == 0 and len(look.regions) == 2 and all(r.track_id for r in look.regions)
    went = d.ask("From where to where do they move?", "s", WHOLE)
    assert "Target 1: The person enters from the left" in went.text and "exits on the right" in went.text
    assert "Target 2: The person enters from the right" in went.text and "stops inside the scene" in went.text
    for answer in (judged, look, went):
        assert answer.flagged_claims == [] and answer.window_start_ns == 0 and answer.window_end_ns == WHOLE[1]
        assert sum(c.agrees is True for c in answer.claims) >= 1


def test_a_named_target_becomes_the_subject_of_follow_ups(pipeline):
    d = Dialogue(PipelineSource(pipeline))
    second = d.ask("What does target 2 look like?", "s", WHOLE, reset=True)
    assert second.text.startswith("A person wearing a green top") and second.track_id > 0
    went = d.ask("and where did it go?", "s", WHOLE)
    assert went.track_id == second.track_id and went.text.startswith("The person enters from the right")
    by_track = d.ask(f"Where is track {second.track_id}?", "s", WHOLE)
    assert by_track.track_id == second.track_id and "of the image" in by_track.text
    assert "m ahead" in by_track.text and "(base_link x" in by_track.text   # the pipeline's default ground frame
    when = d.ask("When did it start?", "s", WHOLE)
    assert "abnormal from" in when.text or "abnormal since" in when.text


def test_latest_window_follows_the_open_anomaly_and_a_quiet_window_is_no():
    frames, masks = scene()
    live = run_pipeline(frames, masks, stop=40)   # still streaming: both people in view
    d = Dialogue(PipelineSource(live))
    now = d.ask("Is anything abnormal?")
    assert now.judgment == "yes" and now.window_start_ns < live.store.latest().window_start_ns  # widened back
    assert now.window_end_ns == live.store.latest().stamp_ns
    quiet = d.ask("Is there any anomaly?", window=(1, int(0.4e9)))
    assert quiet.judgment == "no" and quiet.text.startswith("No, there is no anomaly between 0.1 s and 0.4 s")
    assert quiet.confidence == pytest.approx(1.0)
    nothing = d.ask("What does it look like?", window=(1, int(0.4e9)))
    assert "nothing to describe" in nothing.text


def test_an_unclear_colour_is_i_cant_tell_not_a_guess():
    d = Dialogue(PipelineSource(run_pipeline(*scene(tiny=True))))
    look = d.ask("What does it look like?", window=WHOLE)
    assert "too far away to make out the colours" in look.text and "red" not in look.text
    trousers = d.ask("What colour are its trousers?", window=WHOLE)
    assert "I can't tell the colour of its lower clothing" in trousers.text


def test_other_questions_get_help_and_answers_report_what_they_rest_on(pipeline):
    d = Dialogue(PipelineSource(pipeline))
    other = d.ask("What is the weather like?", window=WHOLE)
    assert other.intent == "other" and "I can answer questions about" in other.text
    count = d.ask("How many targets are there?", window=WHOLE)
    assert count.text.startswith("I see 2 abnormal targets")


class Generator:
    """A stand-in text generator (the LVLM's call) that says what it is told to."""

    def __init__(self, text, pause: threading.Event | None = None):
        self.text, self.pause, self.calls = text, pause, []
        self.fps, self.words_streamed, self.stream_closed = [], 0, False
        self.streams = []   # held here, so only an explicit close() (not garbage collection) closes them

    def generate(self, frames, heatmaps, question, history, stream=False, fps=None):
        self.calls.append((frames.shape, heatmaps.shape, question, list(history)))
        self.fps.append(fps)
        if not stream:
            return self.text
        self.streams.append(self._stream())
        return self.streams[-1]

    def _stream(self):
        try:
            for word in self.text.split():
                if self.pause is not None:
                    self.pause.wait(5)
                self.words_streamed += 1
                yield word + " "
        finally:
            self.stream_closed = True


def test_a_generator_answerer_plugs_in_and_its_wrong_claims_are_flagged(pipeline):
    gen = Generator("Target 1: A person wearing a yellow top. Target 2: The person enters from the top at frame 3. "
                    "Target 3: A person wearing a red top.")
    d = Dialogue(PipelineSource(pipeline), GeneratorAnswerer(gen), DialogueConfig(anchors="frames", history_turns=2))
    partial = []
    answer = d.ask("What do they look like?", "g", WHOLE, reset=True, on_text=partial.append)
    assert partial and partial[-1].strip() == answer.text
    flagged = " | ".join(answer.flagged_claims)
    assert "yellow top" in flagged and "enters from the top" in flagged and "no such target" in flagged
    assert "'Target 3'" in flagged   # three targets claimed, two in the evidence
    assert d.stats.snapshot()["claims_flagged"] == len(answer.flagged_claims) >= 4
    for _ in range(3):
        d.ask("Is there any anomaly?", "g", WHOLE)
    frames_shape, heatmaps_shape, _, history = gen.calls[-1]
    assert frames_shape[1:] == (H, W, 3) and heatmaps_shape[1:] == (H, W) and frames_shape[0] <= 16
    assert len(history) == 2   # bounded history
    stamps = [f.stamp_ns for f in pipeline.store.window(0, 1 << 62)[-1].frames]
    native = (len(stamps) - 1) / ((stamps[-1] - stamps[0]) / 1e9)
    assert all(f is not None and 0 < f <= native + 1e-6 for f in gen.fps)   # the rate it was sampled at


def test_sessions_unknown_expired_busy_and_evicted(pipeline):
    now = [0.0]
    d = Dialogue(PipelineSource(pipeline), config=DialogueConfig(session_ttl_s=10, max_sessions=2),
                 clock=lambda: now[0])
    with pytest.raises(QueryError, match="unknown session 'x'.*reset: true"):
        d.ask("What does it look like?", "x", WHOLE)
    d.ask("Is there any anomaly?", "a", WHOLE, reset=True)
    now[0] = 11.0
    with pytest.raises(QueryError, match="session 'a' expired after 10 s") as err:
        d.ask("and where did it go?", "a", WHOLE)
    assert err.value.code == "expired_session"
    pending = d.open_turn("Is there any anomaly?", "b", reset=True)
    with pytest.raises(QueryError, match="answering another question"):
        d.open_turn("What does it look like?", "b")
    pending.release()
    d.ask("What does it look like?", "b", WHOLE)
    d.ask("Is there any anomaly?", "c", reset=True, window=WHOLE)
    d.ask("Is there any anomaly?", "e", reset=True, window=WHOLE)   # a third session closes the oldest
    with pytest.raises(QueryError, match="closed to make room"):
        d.ask("and where did it go?", "b", WHOLE)
    snapshot = d.stats.snapshot()
    assert snapshot["errors_unknown_session"] == 1 and snapshot["errors_expired_session"] == 2
    assert snapshot["errors_session_busy"] == 1


def test_bad_windows_and_no_evidence():
    frames, masks = scene()
    d = Dialogue(PipelineSource(run_pipeline(frames, masks)))
    last = int((N - 1) * 1e9 / FPS)
    for window, message in [((5 * 10**9, 10**9), "reversed"), ((last + 10**9, 0), "after the newest processed frame"),
                            ((-5, 0), "must not be negative")]:
        with pytest.raises(QueryError, match=message):
            d.ask("Is there any anomaly?", window=window)
    empty = run_pipeline(frames, masks, stop=0)
    with pytest.raises(QueryError, match="no frame has been processed yet"):
        Dialogue(PipelineSource(empty)).ask("Is there any anomaly?")
    with pytest.raises(QueryError, match="not running yet"):
        Dialogue(PipelineSource(lambda: None)).ask("Is there any anomaly?")
    with pytest.raises(QueryError, match="the question is empty") as err:
        d.ask("  ")
    assert err.value.code == "bad_question"


def test_no_frames_in_a_window_between_clips():
    frames, masks = scene()
    cfg = load_pipeline_config(overrides={"evidence": {"max_items": 1000}})
    engine = MaskEngine(5)
    pipe = AnomalyPipeline(engine, PipelineConfig.from_dict(cfg))
    for i, image in enumerate(frames[:20]):
        pipe.push(image, i * 10**9)       # one frame a second: nothing between 3.2 s and 3.8 s
    with pytest.raises(QueryError, match="no processed frames between 3.200 s and 3.800 s"):
        Dialogue(PipelineSource(pipe)).ask("Is there any anomaly?", window=(int(3.2e9), int(3.8e9)))


def test_cancel_before_and_while_answering(pipeline):
    cancel = threading.Event()
    cancel.set()
    d = Dialogue(PipelineSource(pipeline))
    with pytest.raises(QueryError, match="cancelled before it was answered"):
        d.ask("Is there any anomaly?", window=WHOLE, cancel=cancel)
    gate = threading.Event()
    slow = Dialogue(PipelineSource(pipeline), GeneratorAnswerer(Generator("Yes, there is an anomaly.", gate)))
    cancel = threading.Event()
    result = {}

    def run():
        try:
            slow.ask("Is there any anomaly?", "z", WHOLE, reset=True, on_text=lambda _t: cancel.set(), cancel=cancel)
        except QueryError as exc:
            result["error"] = exc
    thread = threading.Thread(target=run)
    thread.start()
    gate.set()
    thread.join(10)
    assert result["error"].code == "cancelled"
    generator = slow.slot.get().generator
    assert generator.stream_closed and generator.words_streamed < len(generator.text.split())  # stopped early
    slow.ask("Is there any anomaly?", "z", WHOLE)   # the session is free again


def test_an_answerer_that_loads_slowly_or_fails_to_load():
    release = threading.Event()
    slot = AnswererSlot(lambda: release.wait(10) and GroundedAnswerer(), "big_model").start()
    d = Dialogue(PipelineSource(run_pipeline(*scene(), stop=30)), slot)
    with pytest.raises(QueryError, match="big_model answerer is still loading") as err:
        d.ask("Is there any anomaly?")
    assert err.value.code == "answerer_unavailable"
    release.set()
    assert slot.wait(10) and slot.state == "ready" and d.ask("Is there any anomaly?").judgment == "yes"
    broken = AnswererSlot(lambda: build_answerer("qwen2_5_vl", model_dir="/nonexistent"), "qwen2_5_vl").start()
    assert broken.wait(30) and broken.state == "failed"
    with pytest.raises(AnswererUnavailable, match="qwen2_5_vl answerer failed to load"):
        broken.get()
    with pytest.raises(ValueError, match="unknown answerer 'gpt'"):
        build_answerer("gpt")
    with pytest.raises(ValueError, match="cannot be imported"):
        build_answerer("no_such_module:make")


def test_the_worker_refuses_at_once_when_full():
    worker = QueryWorker(workers=1, max_queue=1)
    gate = threading.Event()
    jobs = [worker.submit(lambda: gate.wait(10)) for _ in range(2)]
    with pytest.raises(Busy, match="busy: 2 questions"):
        worker.submit(lambda: None)
    gate.set()
    assert all(job.result(10) for job in jobs)
    assert worker.submit(lambda: 7).result(10) == 7 and worker.refused == 1
    worker.shutdown()


def test_a_mirror_of_the_node_outputs_answers_like_the_pipeline(pipeline):
    """What the topic-fed query node rebuilds from events, heatmaps and camera images."""
    mirror = EvidenceMirror(max_side=640, max_items=1000)
    for evidence in pipeline.store.items():
        for frame in evidence.frames:
            mirror.add_image(frame.stamp_ns, "cam", frame.image)
        mirror.add_heatmap(evidence.stamp_ns, evidence.heatmap)
        mirror.add_event({**evidence_to_dict(evidence), "frame_id": "cam"}, evidence.regions)
    assert mirror.assembled == len(pipeline.store) and mirror.incomplete == 0
    assert [e.track_id for e in mirror.episodes()] == [e.track_id for e in pipeline.episodes.all()]
    ours, theirs = Dialogue(mirror), Dialogue(PipelineSource(pipeline))
    for question in ("Is there any anomaly?", "What do they look like?", "From where to where do they move?"):
        a, b = ours.ask(question, window=WHOLE), theirs.ask(question, window=WHOLE)
        assert a.text == b.text and a.judgment == b.judgment
