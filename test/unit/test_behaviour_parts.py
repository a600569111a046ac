"""Behaviour engine parts: background, blobs, object tracks, attributes, scene model (no model loading)."""
from collections import deque

import numpy as np
import pytest

from tvau_ros.core.behaviour.attributes import measure
from tvau_ros.core.behaviour.foreground import BackgroundModel, ForegroundConfig, find_blobs
from tvau_ros.core.behaviour.objects import ObjectTrack, ObjectTracker, Observation, TrackerConfig
from tvau_ros.core.behaviour.scene_model import SceneModel, SceneModelError, TrackRecord, fit_size_model

FPS = 15.0


def walk(x0, y0, vx, vy=0.0, frames=60, size=(8, 20), start=0.0):
    """Observations of a box moving at (vx, vy) pixels per second."""
    w, h = size
    return [Observation(start + i / FPS, (int(round(x0 + vx * i / FPS)), int(round(y0 + vy * i / FPS)), w, h),
                        w * h, False) for i in range(frames)]


def track_of(observations) -> ObjectTrack:
    track = ObjectTrack(1, deque(), first_s=observations[0].stamp_s)
    values = None
    for o in observations:
        track.history.append(o)
        values = measure(track, reference_height=lambda y: 20.0)
    track.values = values
    return track


def test_warmup_median_leaves_no_ghost_of_a_walker():
    model = BackgroundModel(ForegroundConfig(warmup_frames=10))
    grass = np.full((60, 80, 3), 90, np.uint8)
    for i in range(10):  # someone crosses during the warm-up
        frame = grass.copy()
        frame[20:40, 5 + 6 * i:11 + 6 * i] = 200
        model.apply(frame)
    blobs, _ = find_blobs(model.apply(grass), min_area=10)
    assert blobs == []


def test_stopped_object_under_protection_stays_foreground():
    model = BackgroundModel(ForegroundConfig(warmup_frames=3, learning_rate=0.2))
    grass = np.full((40, 40, 3), 90, np.uint8)
    for _ in range(3):
        model.apply(grass)
    person = grass.copy()
    person[10:30, 15:21] = 220
    protect = np.zeros((40, 40), np.uint8)
    protect[10:30, 15:21] = 1
    for _ in range(20):
        mask = model.apply(person, protect)
    assert mask[10:30, 15:21].mean() > 0.9
    for _ in range(20):
        mask = model.apply(person)  # unprotected: absorbed
    assert mask[10:30, 15:21].mean() < 0.1


def test_blob_count_is_bounded_and_the_rest_counted():
    mask = np.zeros((40, 130), np.uint8)
    for i in range(10):
        mask[5:15, 2 + 12 * i:6 + 12 * i] = 1
    blobs, dropped = find_blobs(mask, min_area=10, max_blobs=4)
    assert len(blobs) == 4 and dropped == 6


def test_tracker_keeps_ids_and_ends_lost_tracks():
    from tvau_ros.core.behaviour.foreground import Blob

    tracker = ObjectTracker(TrackerConfig(min_hits=2, max_missing_s=0.3))
    ids = []
    for i in range(10):
        blobs = [Blob((10 + 3 * i, 10, 6, 18), np.ones((18, 6), bool), 108),
                 Blob((60 - 3 * i, 40, 6, 18), np.ones((18, 6), bool), 108)]
        ids.append(sorted(t.track_id for t in tracker.update(blobs, i / FPS, (80, 100))))
    assert ids[1:] == [[1, 2]] * 9
    for i in range(10, 16):
        tracker.update([], i / FPS, (80, 100))
    assert tracker.tracks == []


def test_speed_heading_and_no_shape_on_the_border():
    values = track_of(walk(10, 30, vx=40.0)).values  # 40 px/s with 20 px people: 2 body heights/s
    assert values["fast"] == pytest.approx(2.0, rel=0.05)
    assert values["heading_x"] == pytest.approx(1.0, abs=0.01)
    border = [Observation(o.stamp_s, o.box, o.area, True) for o in walk(0, 30, vx=10.0)]
    assert np.isnan(track_of(border).values["wide"])


def test_dwell_counts_only_after_the_object_moved():
    moving = walk(10, 30, vx=20.0, frames=30)
    x, y, w, h = moving[-1].box
    still = [Observation(moving[-1].stamp_s + (i + 1) / FPS, (x, y, w, h), w * h, False) for i in range(60)]
    assert track_of(moving + still).values["stationary"] == pytest.approx(4.0, abs=0.4)
    ghost = [Observation(i / FPS, (40, 30, 8, 20), 160, False) for i in range(90)]
    assert np.isnan(track_of(ghost).values["stationary"])


def test_back_and_forth_path_is_loitering_a_straight_one_is_not():
    there = walk(20, 30, vx=15.0, frames=45)
    back = walk(there[-1].box[0], 30, vx=-15.0, frames=45, start=there[-1].stamp_s + 1 / FPS)
    assert track_of(there + back).values["loitering"] > 0.8
    assert track_of(walk(20, 30, vx=15.0, frames=90)).values["loitering"] < 0.1


def test_a_low_wide_box_is_lying():
    lying = walk(20, 30, vx=0.0, frames=20, size=(24, 8))
    assert track_of(lying).values["lying"] > 0.5
    assert track_of(walk(20, 30, vx=0.0, frames=20)).values["lying"] == 0.0


def _records(n_tracks=30, speed=15.0, reverse=False):
    records = []
    for k in range(n_tracks):
        y = 40 + (k % 5) * 8
        x0, vx = (200.0, -speed) if reverse else (20.0, speed)
        records.append(TrackRecord(f"t{k}", walk(x0, y, vx=vx, frames=90, start=k * 0.5,
                                                 size=(6, int(10 + y * 0.2)))))
    return records


@pytest.fixture(scope="module")
def scene():
    return SceneModel.fit(_records(), "plaza", (120, 240), np.full((120, 240, 3), 100, np.uint8))


def test_size_model_follows_the_perspective():
    a, b = fit_size_model(_records(), (120, 240))
    assert a == pytest.approx(0.2, abs=0.05)


def test_scene_model_scores_fast_and_against_flow_abnormal_and_walkers_normal(scene):
    reference = scene.reference_height()
    normal = scene.complete(measure(track_of(walk(20, 50, vx=15.0)), reference))
    assert scene.score(normal)[0] < 0.5
    fast = scene.complete(measure(track_of(walk(20, 50, vx=60.0)), reference))
    score, name, value = scene.score(fast)
    assert score > 0.9 and name == "fast" and value > 2.0
    against = scene.complete(measure(track_of(walk(110, 50, vx=-15.0)), reference))
    assert scene.score(against, enabled=["against_flow"])[0] > 0.9
    off_path = scene.complete(measure(track_of(walk(200, 10, vx=15.0, frames=20)), reference))
    assert scene.score(off_path, enabled=["unusual_place"])[0] > 0.5


def test_scene_model_round_trip_and_bad_files(scene, tmp_path):
    path = scene.save(tmp_path / "plaza")
    loaded = SceneModel.load(path)
    assert loaded.name == "plaza" and loaded.size_coef == pytest.approx(scene.size_coef)
    assert all(np.allclose(loaded.quantiles[k], v) for k, v in scene.quantiles.items())
    card = (tmp_path / "plaza.yaml").read_text()
    assert "scene: plaza" in card and "fast/all" in card and "person_height_px" in card
    with pytest.raises(SceneModelError, match="not found: .*nowhere.safetensors"):
        SceneModel.load(tmp_path / "nowhere")
    (tmp_path / "broken.safetensors").write_bytes(b"not a model")
    with pytest.raises(SceneModelError, match="broken.safetensors cannot be read"):
        SceneModel.load(tmp_path / "broken.safetensors")


def test_camera_mismatch_is_reported(scene):
    assert scene.camera_mismatch(scene.background) == "" or "correlation" in scene.camera_mismatch(scene.background)
    rng = np.random.default_rng(0)
    textured = SceneModel("x", {}, (120, 240), (0.2, 2.0),
                          background=rng.integers(0, 255, (120, 240, 3), dtype=np.uint8))
    assert textured.camera_mismatch(textured.background) == ""
    assert "does not match" in textured.camera_mismatch(rng.integers(0, 255, (120, 240, 3), dtype=np.uint8))
    assert "learnt at 240x120" in textured.camera_mismatch(np.zeros((60, 80, 3), np.uint8))
