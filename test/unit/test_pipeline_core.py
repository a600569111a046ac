"""AnomalyPipeline: frames -> Evidence, bad input handling, resets, drops, config and engines."""
import numpy as np
import pytest

from tvau_ros.core.engine import HeatmapResult
from tvau_ros.core.engine_registry import EngineLoadError, build_engine
from tvau_ros.core.pipeline import AnomalyPipeline
from tvau_ros.core.pipeline_config import PipelineConfig, load_pipeline_config
from tvau_ros.core.types import NS_PER_S, evidence_to_dict
from tvau_ros.io.sample_clip import render_sample_clip

FPS = 15


@pytest.fixture(scope="module")
def sample():
    return render_sample_clip(frames=60, anomaly_start=15)


MOTION = {"engine": "motion_baseline"}  # these tests check pipeline mechanics with the classical engine


def make_pipeline(**overrides):
    cfg = load_pipeline_config(overrides={**MOTION, **overrides})
    return AnomalyPipeline(build_engine(cfg), PipelineConfig.from_dict(cfg))


def stamp(i):
    return 1_000 * NS_PER_S + i * NS_PER_S // FPS


def run(pipe, frames, start=0):
    out = []
    for i, frame in enumerate(frames, start):
        evidence = pipe.push(frame, stamp(i), "cam")
        if evidence is not None:
            out.append(evidence)
    return out


def test_sample_clip_gives_one_episode_with_regions_on_the_runner(sample):
    frames, masks = sample
    pipe = make_pipeline()
    evidence = run(pipe, frames)
    assert len(evidence) == 60 - 5 + 1 and pipe.dropped_frames == 0
    first = evidence[0]
    assert first.heatmaps.shape == (5, 240, 320) and first.new_frame_indices == (0, 1, 2, 3, 4)
    assert all(e.heatmaps.shape[0] == 1 for e in evidence[1:])
    anomalous = [e for e in evidence if e.regions]
    hits = [any(masks[e.frame_index][r.box.y:r.box.y + r.box.height, r.box.x:r.box.x + r.box.width].any()
                for r in e.regions) for e in anomalous]
    assert len(anomalous) >= 20 and np.mean(hits) >= 0.9
    started = [i for e in evidence for i in e.started_track_ids]
    assert started == [1]
    assert all(r.ground_point is not None and r.ground_point.frame_id == "base_link"
               for e in anomalous for r in e.regions if r.track_id)
    assert [ep.track_id for ep in pipe.episodes.all()] == [1]
    # the evidence carries the newest frame's stamp and the clip window
    e = evidence[10]
    assert e.stamp_ns == stamp(e.frame_index) and e.window_start_ns == stamp(e.frame_index - 4)
    assert pipe.store.latest() is evidence[-1] and len(pipe.store) == min(64, len(evidence))


def test_offline_run_is_deterministic(sample):
    frames, _ = sample
    a = [evidence_to_dict(e) for e in run(make_pipeline(), frames[:30])]
    b = [evidence_to_dict(e) for e in run(make_pipeline(), frames[:30])]
    assert a == b


def test_stamps_repeated_or_backwards_are_dropped_and_a_big_jump_resets(sample):
    frames, _ = sample
    pipe = make_pipeline()
    for i in range(6):
        assert pipe.submit(frames[i], stamp(i)).accepted
    repeated = pipe.submit(frames[6], stamp(5))
    backwards = pipe.submit(frames[6], stamp(3))
    assert (repeated.accepted, repeated.event) == (False, "stamp_repeated")
    assert (backwards.accepted, backwards.event) == (False, "stamp_backwards")
    jump = pipe.submit(frames[6], stamp(5) - 10 * NS_PER_S)  # a bag loop restarts
    assert jump.accepted and jump.event == "stamp_reset" and len(pipe.buffer) == 1
    stats = pipe.stats.snapshot()
    assert (stats["bad_input_stamp_repeated"], stats["bad_input_stamp_backwards"], stats["stamp_resets"]) == (1, 1, 1)


def test_resolution_change_resets_buffer_and_ends_episodes(sample):
    frames, _ = sample
    pipe = make_pipeline()
    evidence = run(pipe, frames[:40])
    open_tracks = [t.track_id for t in pipe.tracker.confirmed]
    assert open_tracks == [1]
    small = frames[40][::2, ::2].copy()
    intake = pipe.submit(small, stamp(40))
    assert intake.accepted and intake.event == "resolution_change" and "320x240 to 160x120" in intake.message
    assert len(pipe.buffer) == 1 and pipe.stats.resolution_changes == 1
    later = run(pipe, [f[::2, ::2].copy() for f in frames[41:46]], start=41)
    assert later[0].ended_track_ids == [1]
    assert later[0].heatmaps.shape[1:] == (120, 160)
    assert evidence[-1].frame_index == 39 and later[0].frame_index == 44


def test_large_frames_are_resized_and_boxes_stay_in_source_pixels(sample):
    import cv2

    frames, masks = sample
    pipe = make_pipeline(input={"max_side": 320})
    big = [cv2.resize(f, (3840, 2160), interpolation=cv2.INTER_NEAREST) for f in frames[25:35]]
    evidence = run(pipe, big, start=25)
    assert pipe.stats.resized == 10
    assert evidence[-1].newest_frame.image.shape == (180, 320, 3)
    assert evidence[-1].newest_frame.source_hw == (2160, 3840)
    boxes = [r.box for e in evidence for r in e.regions]
    assert boxes and max(b.x + b.width for b in boxes) <= 3840 and max(b.y + b.height for b in boxes) <= 2160
    assert max(b.width for b in boxes) > 100  # in 4K pixels, not in 320 px ones


@pytest.mark.parametrize("image,event", [
    (np.zeros((0, 10, 3), np.uint8), "bad_size"),
    (np.zeros((10, 10), np.uint8), "bad_format"),
    (np.zeros((10, 10, 3), np.float32), "bad_format"),
])
def test_bad_images_are_rejected_and_counted(image, event):
    pipe = make_pipeline()
    intake = pipe.submit(image, 1)
    assert not intake.accepted and intake.event == event
    assert pipe.stats.snapshot()["bad_inputs"] == 1


def test_slow_consumer_processes_only_the_newest_clip(sample):
    frames, _ = sample
    pipe = make_pipeline()
    for i in range(20):
        pipe.submit(frames[i], stamp(i))
    clip = pipe.next_clip()
    assert clip.frames[-1].index == 19 and clip.dropped == 15
    evidence = pipe.process(clip)
    assert evidence.frame_index == 19 and pipe.dropped_frames == 15
    assert pipe.next_clip() is None


def test_clip_taken_before_a_reset_is_discarded(sample):
    frames, _ = sample
    pipe = make_pipeline()
    for i in range(5):
        pipe.submit(frames[i], stamp(i))
    clip = pipe.next_clip()
    pipe.submit(frames[5][::2, ::2].copy(), stamp(5))  # resolution change while "inferring"
    assert pipe.process(clip) is None and pipe.stats.stale_clips == 1


def test_finish_covers_the_last_frames_with_stride(sample):
    frames, _ = sample
    pipe = make_pipeline(clip={"stride": 4})
    evidence = run(pipe, frames[:12])
    covered = [i for e in evidence for i in e.new_frame_indices]
    tail = pipe.finish()
    covered += list(tail.new_frame_indices)
    assert covered == list(range(12))
    stats = pipe.stats.snapshot()
    assert stats["processed_frames"] == 12 and stats["processed"] == len(evidence) + 1  # frames vs clips


def test_engine_with_wrong_heatmap_shape_is_reported():
    class Broken:
        model_id, clip_length = "broken", 2

        def infer(self, clip, stamps_ns=None):
            return HeatmapResult(np.zeros((1, 4, 4), np.float32))

    pipe = AnomalyPipeline(Broken(), PipelineConfig())
    pipe.push(np.zeros((8, 8, 3), np.uint8), 1)
    with pytest.raises(ValueError, match="broken returned heatmaps of shape"):
        pipe.push(np.zeros((8, 8, 3), np.uint8), 2)


def test_config_merging_and_errors(tmp_path):
    user = tmp_path / "p.yaml"
    user.write_text("clip: {stride: 3}\nregions: {threshold: 0.7}\n")
    cfg = load_pipeline_config(user)
    assert cfg["clip"] == {"length": 0, "stride": 3} and cfg["regions"]["threshold"] == 0.7
    assert cfg["engine"] == "behaviour"
    with pytest.raises(ValueError, match="unknown pipeline option 'regions.treshold'"):
        load_pipeline_config(overrides={"regions": {"treshold": 1}})
    with pytest.raises(ValueError, match="not found"):
        load_pipeline_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("clip: [1, 2\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_pipeline_config(bad)


def test_clip_length_override_and_mismatch():
    cfg = load_pipeline_config(overrides={**MOTION, "clip": {"length": 7}})
    engine = build_engine(cfg)
    assert engine.clip_length == 7
    AnomalyPipeline(engine, PipelineConfig.from_dict(cfg))
    with pytest.raises(ValueError, match="differs from the engine's clip length 5"):
        AnomalyPipeline(build_engine(load_pipeline_config(overrides=MOTION)), PipelineConfig(clip_length=7))


@pytest.mark.parametrize("overrides,match", [
    ({"engine": "yolo"}, "unknown engine 'yolo'"),
    ({"engine": "ahd"}, "needs ahd.checkpoint"),
    ({"engine": "ahd", "ahd": {"checkpoint": "/nonexistent/ahd.safetensors"}},
     "checkpoint not found: /nonexistent/ahd.safetensors"),
    ({"motion_baseline": {"clip_length": 1}}, "motion_baseline.*clip_length"),
])
def test_build_engine_errors_name_the_problem(overrides, match):
    with pytest.raises(EngineLoadError, match=match):
        build_engine(load_pipeline_config(overrides={**MOTION, **overrides}))


def test_reset_starts_a_new_stream_and_ends_open_episodes(sample):
    frames, _ = sample
    pipe = make_pipeline()
    run(pipe, frames[:40])
    assert [t.track_id for t in pipe.tracker.confirmed] == [1]
    pipe.reset()
    assert len(pipe.buffer) == 0
    assert pipe.submit(frames[0], stamp(0)).accepted  # an earlier stamp is fine after a reset
    later = run(pipe, frames[41:46], start=41)
    assert later[0].ended_track_ids == [1]


def test_evidence_owns_only_its_new_frames_heatmaps(sample):
    frames, _ = sample
    pipe = make_pipeline(clip={"stride": 2})
    evidence = run(pipe, frames[:9])
    assert [e.heatmaps.shape[0] for e in evidence] == [5, 2, 2]
    # a view would keep the whole clip's heatmaps alive while nbytes counts two frames
    assert all(e.heatmaps.base is None for e in evidence)
    assert evidence[-1].nbytes() >= evidence[-1].heatmaps.nbytes == 2 * 240 * 320 * 4


def test_processed_fps_counts_frames_not_clips(monkeypatch):
    from tvau_ros.core import pipeline as pipeline_module

    stats = pipeline_module.PipelineStats()
    now = [100.0]
    monkeypatch.setattr(pipeline_module.time, "monotonic", lambda: now[0])
    for _ in range(3):  # a clip of 8 new frames every second
        stats.record_processed(0.1, frames=8)
        now[0] += 1.0
    now[0] -= 1.0
    assert stats.processed_fps() == pytest.approx(8.0)
    assert stats.snapshot()["processed_frames"] == 24


def test_finish_ends_open_episodes_in_the_last_evidence(sample):
    frames, _ = sample
    pipe = make_pipeline(clip={"stride": 4})
    evidence = run(pipe, frames[:42])  # frames 41 and 42 are not covered yet: finish processes them
    started = {i for e in evidence for i in e.started_track_ids} - {i for e in evidence for i in e.ended_track_ids}
    assert started  # the runner's episode is still open
    last = pipe.finish()
    assert last.new_frame_indices[-1] == 41 and set(last.ended_track_ids) >= started
    assert pipe.episodes.open() == [] and pipe.finish() is None
