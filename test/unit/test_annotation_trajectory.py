"""Ground geometry, entry/exit sides, turns and speed states with known answers."""

import numpy as np
import pytest

from tvau_ros.data.annotation.extraction import FrameObservation, extract_observations, touched_borders
from tvau_ros.data.annotation.ground import GroundCamera, estimate_camera
from tvau_ros.data.annotation.timeline import TargetTimeline, associate
from tvau_ros.data.annotation.trajectory import derive_trajectory, detect_turns, speed_states
import annotation.fake_videos as fv  # test/fixtures is on sys.path (test/conftest.py)


FPS = 15.0
CAMERA = GroundCamera(320, 240, focal=277.1, tilt_deg=25.0, cam_height=6.0)


def ground_path(waypoints, fps=FPS):
    """Per-frame (X, Z) through (time s, X m, Z m) waypoints."""
    t = np.arange(0, waypoints[-1][0] * fps + 1) / fps
    return np.stack([np.interp(t, [w[0] for w in waypoints], [w[1] for w in waypoints]),
                     np.interp(t, [w[0] for w in waypoints], [w[2] for w in waypoints])], axis=1)


def timeline_on_ground(path, camera=CAMERA, person_m=1.7, start=0):
    """A timeline of a standing person's boxes seen through ``camera`` along a ground path."""
    obs = []
    for i, (x, z) in enumerate(path):
        u, v = (float(a) for a in camera.project(x, 0.0, z))
        _, top = (float(a) for a in camera.project(x, person_m, z))
        half = 0.2 * (v - top)
        extent = (int(round(u - half)), int(round(top)), int(round(u + half)), int(round(v)) - 1)
        obs.append(FrameObservation(frame=start + i, object_id=1, box=extent, extent=extent, area=100,
                                    mask_area=100, centroid=(u, (v + top) / 2), foot=(u, v),
                                    touches=touched_borders(extent, camera.width, camera.height), coarse=None))
    return TargetTimeline(1, 1, obs)


def test_camera_is_recovered_from_people_at_different_depths():
    obs = timeline_on_ground(ground_path([(0, -2, 8), (6, 3, 30)])).observations
    cam = estimate_camera([o.foot[1] for o in obs], [o.extent[1] for o in obs], 320, 240)
    assert cam.fitted and abs(cam.tilt_deg - 25.0) <= 2.0 and cam.cam_height == pytest.approx(6.0, rel=0.15)
    assert not estimate_camera([], [], 320, 240).fitted  # priors only


@pytest.mark.parametrize("waypoints, expected", [
    ([(0, -4, 14), (3, 0, 14), (6, 0, 18)], [(45, "left")]),    # walks right, then away from the camera
    ([(0, -4, 14), (3, 0, 14), (6, 0, 10)], [(45, "right")]),   # walks right, then towards the camera
    ([(0, -5, 12), (3, -1, 12), (6, -1, 16), (9, 3, 16)], [(45, "left"), (90, "right")]),
    ([(0, -5, 12), (8, 5, 14)], []),                             # a gentle drift is no turn
])
def test_turns_on_the_ground_with_direction_and_frame(waypoints, expected):
    frames, pos = np.arange(0, int(waypoints[-1][0] * FPS) + 1), ground_path(waypoints)
    turns = detect_turns(frames, pos, FPS)
    assert [t.direction for t in turns] == [d for _, d in expected]
    for turn, (frame, _) in zip(turns, expected, strict=True):
        assert abs(turn.frame - frame) <= 3


def test_a_turn_must_also_be_seen_in_the_image_not_only_on_the_ground():
    # there and back along the depth: near the camera the feet move a body height in the image;
    # far away the same metres are a few pixels, which is what jitter or a hidden foot does there
    near = ground_path([(0, 0, 8), (1.5, 0, 12), (3, 0, 8)])
    far = ground_path([(0, 0, 40), (1.5, 0, 48), (3, 0, 40)])
    frames = np.arange(len(far))
    assert len(derive_trajectory(timeline_on_ground(near), FPS, CAMERA).turns) == 1
    assert detect_turns(frames, far, FPS), "on the ground alone the far one is a turn"
    assert derive_trajectory(timeline_on_ground(far), FPS, CAMERA).turns == []


def test_speed_states_walk_then_run_anchored_at_the_change():
    pos = ground_path([(0, -6, 15), (3, -2.1, 15), (5, 5.9, 15)])  # 1.3 m/s for 3 s, then 4 m/s
    states = speed_states(np.arange(len(pos)), pos, FPS)
    assert [s.state for s in states] == ["walking", "running"]
    assert abs(states[1].start - 45) <= 4
    assert (states[0].start, states[-1].end) == (0, len(pos) - 1)


def test_trajectory_through_the_camera_matches_the_ground_truth_path():
    path = ground_path([(0, -3, 12), (2, -0.4, 12), (4, -0.4, 16), (4.6, -0.4, 16), (7, -0.4, 16)])
    tr = derive_trajectory(timeline_on_ground(path), FPS, CAMERA)
    assert [t.direction for t in tr.turns] == ["left"] and abs(tr.turns[0].frame - 30) <= 3
    assert [s.state for s in tr.speed_states] == ["walking", "stationary"]
    assert tr.distance_m == pytest.approx(2.6 + 4.0, rel=0.1)


def _pixel_trajectory(waypoints, num_frames=None, width=160, height=120):
    num_frames = num_frames or waypoints[-1][0] + 1
    video = fv.make_video([fv.Figure(1, "red", "blue", waypoints)], num_frames=num_frames,
                          width=width, height=height, fps=FPS)
    obs = [o for t in range(num_frames) if video.masks[t].any()
           for o in extract_observations(video.frames[t], video.masks[t], t, True)]
    return derive_trajectory(associate(obs, use_ids=True)[0], FPS, GroundCamera(width, height, 140.0, 25.0, 6.0))


@pytest.mark.parametrize("waypoints, entry, exit_", [
    ([(0, -15, 100), (60, 175, 100)], "left", "right"),
    ([(0, 175, 80), (60, -15, 80)], "right", "left"),
    ([(0, 60, -2), (60, 80, 165)], "top", "bottom"),
    ([(0, 40, 90), (40, 120, 90)], "inside", "inside"),
    ([(0, -15, 70), (30, 60, 70), (60, 60, -5)], "left", "top"),
    ([(0, -10, 125), (40, 100, 112)], "left", "inside"),  # at the bottom-left corner, moving right
])
def test_entry_and_exit_sides(waypoints, entry, exit_):
    tr = _pixel_trajectory(waypoints)
    assert (tr.entry_side, tr.exit_side) == (entry, exit_)
