"""Cross-modal consistency: a clean walk passes, stitched identities are dropped with a reason."""

from tvau_ros.data.annotation.consistency import describe, verify
from tvau_ros.data.annotation.extraction import extract_observations
from tvau_ros.data.annotation.ground import GroundCamera
from tvau_ros.data.annotation.timeline import associate, refine_timeline, suppress_background
from tvau_ros.data.annotation.trajectory import derive_trajectory
import annotation.fake_videos as fv  # test/fixtures is on sys.path (test/conftest.py)


def _check(figures, num_frames):
    video = fv.make_video(figures, num_frames=num_frames)
    obs = []
    for t in range(num_frames):
        if video.masks[t].any():
            obs += extract_observations(video.frames[t], video.masks[t], t, True,
                                        suppress_background(video.frames[t], video.masks[t]))
    timeline = refine_timeline(associate(obs, use_ids=True)[0], (video.height, video.width))
    camera = GroundCamera(video.width, video.height, focal=140.0, tilt_deg=25.0, cam_height=6.0)
    return verify(timeline, derive_trajectory(timeline, video.fps, camera))


def test_one_target_with_a_turn_is_consistent():
    result = _check([fv.Figure(1, "red", "blue", [(0, 20, 110), (30, 80, 110), (60, 80, 60)])], 61)
    assert result.ok and result.reasons == []


def test_appearance_switch_at_a_turn_is_dropped():
    # the same mask id is red/blue while walking right, then green/yellow walking up from the same spot
    first = fv.Figure(1, "red", "blue", [(0, 10, 110), (40, 90, 110)])
    second = fv.Figure(1, "green", "yellow", [(41, 90, 108), (60, 90, 70)])
    result = _check([first, second], 61)
    assert not result.ok
    assert any(r.startswith("appearance->motion") for r in result.reasons), result.reasons


def test_identity_jump_is_dropped():
    first = fv.Figure(1, "red", "blue", [(0, 20, 100), (20, 40, 100)])
    second = fv.Figure(1, "red", "blue", [(21, 130, 60), (40, 140, 60)])
    result = _check([first, second], 41)
    assert not result.ok
    assert any(r.startswith("motion->appearance: jump") for r in result.reasons)


def _refined(figures, num_frames, **kw):
    video = fv.make_video(figures, num_frames=num_frames, **kw)
    obs = []
    for t in range(num_frames):
        if video.masks[t].any():
            obs += extract_observations(video.frames[t], video.masks[t], t, True,
                                        suppress_background(video.frames[t], video.masks[t]))
    return refine_timeline(associate(obs, use_ids=True)[0], (video.height, video.width))


def test_describe_states_clear_colours_only():
    clear = _refined([fv.Figure(1, "red", "blue", [(0, 20, 100), (30, 120, 100)])], 31)
    assert describe(clear) == (("red", "blue"), "")
    tiny = _refined([fv.Figure(1, "red", "blue", [(0, 20, 100), (30, 120, 100)], height=9)], 31)
    stated, note = describe(tiny, min_height=15)
    assert stated == (None, None) and note.startswith("too small")
    # half the frames show another top: no colour wins 65% of the vote, so the top is not stated
    half = _refined([fv.Figure(1, "red", "blue", [(0, 20, 100), (15, 70, 100)]),
                     fv.Figure(1, "green", "blue", [(16, 73, 100), (31, 123, 100)])], 32)
    assert describe(half, min_color_conf=0.65) == ((None, "blue"), "")
