"""Fragments of one binary-mask target rejoined: pieces and hand-overs, never a second person."""
import pytest

from tvau_ros.data.annotation.extraction import FrameObservation
from tvau_ros.data.annotation.stitching import StitchConfig, merge_timelines, stitch_fragments
from tvau_ros.data.annotation.timeline import TargetTimeline

FPS = 15.0
W, H = 320, 240


def obs(frame: int, x: float, y: float, h: int = 30, w: int = 10, area: int | None = None) -> FrameObservation:
    x1, y1 = int(x), int(y)
    extent = (x1, y1, x1 + w - 1, y1 + h - 1)
    touches = frozenset(side for side, hit in (("left", x1 <= 0), ("right", x1 + w >= W),
                                               ("top", y1 <= 0), ("bottom", y1 + h >= H)) if hit)
    pixels = area if area is not None else w * h
    return FrameObservation(frame, None, extent, extent, pixels, pixels, (x1 + w / 2, y1 + h / 2),
                            (x1 + w / 2, float(y1 + h)), touches, None)


def line(frames: range, x0: float, y: float, vx: float = 2.0, **kw) -> TargetTimeline:
    return TargetTimeline(0, None, [obs(f, x0 + vx * (f - frames.start), y, **kw) for f in frames])


def test_legs_split_off_the_body_are_one_target():
    body = line(range(0, 100), 50, 60)
    legs = line(range(40, 52), 50 + 2 * 40, 92, h=8, area=40)    # just below the body, for 12 frames
    assert stitch_fragments([body, legs], FPS, 0, 99) == [[0, 1]]
    merged = merge_timelines([body, legs], 1)
    assert [o.frame for o in merged.observations] == list(range(100))
    assert all(o.mask_area == 300 for o in merged.observations)   # per frame the largest piece


def test_slivers_of_someone_entering_through_the_border_are_one_target():
    # entering from the left, the first frames show two slivers of a few pixels, 8 px apart
    # (less than one body height of the person once inside, more than the slivers' own height)
    walker = TargetTimeline(0, None, [obs(f, 0, 100, h=3 if f < 30 else 30, w=2 if f < 30 else 10)
                                      for f in range(20, 120)])
    sliver = TargetTimeline(0, None, [obs(f, 0, 111, h=3, w=2) for f in range(20, 30)])
    assert stitch_fragments([walker, sliver], FPS, 0, 119) == [[0, 1]]


def test_something_thrown_is_part_of_the_thrower():
    thrower = line(range(0, 100), 100, 60, vx=0.0)
    flight = [TargetTimeline(0, None, [obs(f, 112, 95 + 12 * (f - 50), h=5, w=5)]) for f in range(50, 54)]
    flight.append(line(range(54, 70), 112, 95 + 48, vx=0.0, h=5, w=5))   # lands 2 heights away, stays
    assert stitch_fragments([thrower, *flight], FPS, 0, 99) == [[0, 1, 2, 3, 4, 5]]


def test_a_small_blob_far_from_anyone_or_walking_in_stays_apart():
    walker = line(range(0, 100), 20, 60, vx=0.0)
    far = line(range(30, 60), 250, 60, vx=0.0, h=5, w=5)            # 7 heights away
    entering = line(range(30, 60), 0, 100, vx=1.0, h=5, w=5)        # small, through the left border
    assert sorted(stitch_fragments([walker, far, entering], FPS, 0, 99)) == [[0], [1], [2]]


def test_a_target_that_fades_to_a_sliver_and_restarts_continues():
    before = line(range(10, 60), 40, 100)
    before.observations[-3:] = [obs(f, 40 + 2 * (f - 10), 126, h=4, w=3) for f in range(57, 60)]  # legs only
    after = TargetTimeline(0, None, [obs(f, 40 + 2 * (f - 10) + 6, 126 if f < 64 else 100, h=4 if f < 64 else 30)
                                     for f in range(61, 120)])   # 6 px on: within its usual height, not a sliver's
    assert stitch_fragments([before, after], FPS, 0, 119) == [[0, 1]]


def test_a_target_unseen_for_a_moment_continues_where_it_vanished():
    before = line(range(10, 50), 40, 100)
    after = line(range(58, 120), 40 + 2 * 48, 100)    # 8 frames unseen, moved on at its speed
    assert stitch_fragments([before, after], FPS, 0, 119) == [[0, 1]]


def test_a_target_standing_behind_someone_for_seconds_reappears_where_it_stood():
    hidden = line(range(0, 30), 150, 100, vx=0.0)
    occluder = line(range(0, 120), 20, 100)
    back = line(range(80, 120), 152, 102, vx=0.0)    # 50 frames (3.3 s) later, within a height
    groups = stitch_fragments([hidden, occluder, back], FPS, 0, 119)
    assert sorted(groups) == [[0, 2], [1]]


def test_hand_over_while_the_old_timeline_fades_out():
    old = line(range(10, 80), 20, 100)
    new = line(range(72, 150), 20 + 2 * 62, 100)     # starts 8 frames before the old one ends, touching it
    assert stitch_fragments([old, new], FPS, 0, 149) == [[0, 1]]


def test_someone_walking_in_beside_the_first_person_stays_a_second_target():
    first = line(range(10, 120), 0, 100)
    second = line(range(40, 120), 0, 120)     # enters through the left border 2 s later, right next to it
    assert second.observations[0].touches == {"left"}
    assert stitch_fragments([first, second], FPS, 0, 119) == [[0], [1]]


def test_targets_present_from_the_first_frame_are_not_pieces_of_each_other():
    a = line(range(0, 100), 100, 100)
    b = line(range(0, 60), 100, 132)
    assert stitch_fragments([a, b], FPS, 0, 99) == [[0], [1]]


def test_far_apart_or_too_late_is_someone_else():
    a = line(range(0, 50), 20, 50)
    far = line(range(55, 100), 250, 180)
    late = line(range(50 + 5 * 15, 150), 20 + 2 * 50, 50)   # 5 s later: beyond still_gap_s
    assert stitch_fragments([a, far, late], FPS, 0, 149) == [[0], [1], [2]]
    assert stitch_fragments([a, late], FPS, 0, 149, StitchConfig(still_gap_s=6.0, reach_per_s=2.0,
                                                                   gap_s=6.0)) == [[0, 1]]


def test_no_timelines():
    assert stitch_fragments([], FPS, 0, 10) == []


@pytest.mark.parametrize("members", [[], [TargetTimeline(0, None, [])]])
def test_merging_nothing_gives_an_empty_timeline(members):
    assert merge_timelines(members).observations == []
