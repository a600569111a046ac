"""Tracker: stable ids, confirmation, loss, ids never reused, episodes start/end once."""
import pytest

from tvau_ros.core.tracking import Tracker, TrackerConfig
from tvau_ros.core.types import Box, Region

SIZE = (240, 320)


def region(x, y, w=20, h=40, score=0.9):
    return Region(Box(x, y, w, h), score, score, 0.01)


def run(tracker, frames, period_s=0.1):
    return [tracker.update(regs, stamp_ns=int(i * period_s * 1e9), image_size=SIZE) for i, regs in enumerate(frames)]


def test_a_moving_target_keeps_its_id_and_starts_one_episode():
    tracker = Tracker(TrackerConfig(min_hits=2, max_misses=2))
    frames = [[region(10 + 8 * i, 100)] for i in range(10)]
    updates = run(tracker, frames)
    assert [u.started for u in updates] == [[], [1]] + [[]] * 8
    assert [r.track_id for regs in frames[1:] for r in regs] == [1] * 9
    assert frames[0][0].track_id == 0  # tentative at first sight


def test_fast_target_without_overlap_matches_by_distance():
    tracker = Tracker(TrackerConfig(min_hits=1, iou_threshold=0.3, max_center_distance=0.15))
    frames = [[region(10 + 30 * i, 100)] for i in range(4)]  # no overlap between frames, 30 px apart
    run(tracker, frames)
    assert {r.track_id for regs in frames for r in regs} == {1}


def test_episode_ends_after_max_misses_and_ids_are_not_reused():
    tracker = Tracker(TrackerConfig(min_hits=1, max_misses=2, min_lost_s=0.25))
    updates = run(tracker, [[region(50, 50)], [], [], [], [region(200, 150)]])
    assert updates[0].started == [1]
    assert [u.ended for u in updates[1:4]] == [[], [], [1]]
    assert updates[3].ended_tracks[0].last_stamp_ns == 0
    assert updates[4].started == [2]


def test_short_gaps_of_a_fast_engine_do_not_end_an_episode():
    tracker = Tracker(TrackerConfig(min_hits=1, max_misses=3, min_lost_s=1.0))
    frames = [[region(100, 100)]] + [[]] * 20 + [[region(104, 100)]]  # 0.67 s gap at 30 Hz
    updates = run(tracker, frames, period_s=1 / 30)
    assert [i for u in updates for i in u.started] == [1] and not any(u.ended for u in updates)
    assert frames[-1][0].track_id == 1


def test_slow_engine_ends_an_episode_after_max_misses():
    tracker = Tracker(TrackerConfig(min_hits=1, max_misses=1, min_lost_s=1.0))
    updates = run(tracker, [[region(100, 100)], [], []], period_s=2.0)
    assert [u.ended for u in updates] == [[], [], [1]]


def test_a_processing_stall_does_not_break_the_track():
    tracker = Tracker(TrackerConfig(min_hits=1, max_center_distance=0.1, max_speed=0.5))
    a, b = [region(10, 100)], [region(150, 100)]  # 140 px apart = 0.35 diagonals
    tracker.update(a, 0, SIZE)
    tracker.update(b, 900_000_000, SIZE)  # 0.9 s later: a target at 0.5 diagonals/s can get there
    assert b[0].track_id == a[0].track_id == 1
    c = [region(10, 100)]
    tracker.update(c, 1_000_000_000, SIZE)  # 0.1 s later the same jump is too fast: a new target
    assert c[0].track_id == 2


def test_tentative_track_that_misses_is_dropped_silently():
    tracker = Tracker(TrackerConfig(min_hits=3, max_misses=5))
    updates = run(tracker, [[region(50, 50)], [region(52, 50)], [], [region(54, 50)], [region(56, 50)]])
    assert all(not u.started and not u.ended for u in updates)
    assert tracker.confirmed == []


def test_two_targets_crossing_paths_keep_their_ids():
    tracker = Tracker(TrackerConfig(min_hits=1, iou_threshold=0.1))
    frames = [[region(20 + 10 * i, 50), region(200 - 10 * i, 150)] for i in range(8)]
    run(tracker, frames)
    assert [r.track_id for r in (regs[0] for regs in frames)] == [1] * 8
    assert [r.track_id for r in (regs[1] for regs in frames)] == [2] * 8


def test_end_all_reports_confirmed_tracks():
    tracker = Tracker(TrackerConfig(min_hits=1))
    run(tracker, [[region(10, 10), region(200, 100)]])
    assert sorted(t.track_id for t in tracker.end_all()) == [1, 2]
    assert tracker.confirmed == []


@pytest.mark.parametrize("kwargs", [{"min_hits": 0}, {"max_misses": -1}, {"iou_threshold": 2},
                                    {"max_center_distance": -0.1}, {"max_speed": -1}, {"min_lost_s": -1},
                                    {"duplicate_overlap": 0}])
def test_invalid_config(kwargs):
    with pytest.raises(ValueError):
        TrackerConfig(**kwargs)


def test_a_piece_inside_a_tracked_target_starts_no_new_track():
    tracker = Tracker(TrackerConfig(min_hits=1))
    run(tracker, [[region(100, 100, 40, 80)]])
    piece = region(110, 150, 10, 20, score=0.6)
    update = tracker.update([region(104, 100, 40, 80), piece], stamp_ns=1, image_size=SIZE)
    assert update.started == [] and piece.track_id == 0 and [t.track_id for t in tracker.confirmed] == [1]
