"""ClipBuffer: the newest complete clip only, stride scheduling, drop counting, bounded memory."""
import numpy as np
import pytest

from tvau_ros.core.clip_buffer import ClipBuffer
from tvau_ros.core.types import Frame

IMG = np.zeros((2, 2, 3), np.uint8)


def frames(start, stop):
    return [Frame(IMG, stamp_ns=i, index=i) for i in range(start, stop)]


def test_first_clip_after_t_frames_then_every_stride():
    buf = ClipBuffer(length=4, stride=2)
    due = []
    for f in frames(0, 10):
        due.append(buf.append(f))
        if due[-1]:
            buf.take()
    assert due == [False, False, False, True, False, True, False, True, False, True]
    assert buf.dropped_frames == 0


def test_slow_consumer_gets_newest_clip_and_drops_are_counted():
    buf = ClipBuffer(length=3, stride=1)
    for f in frames(0, 3):
        buf.append(f)
    assert buf.take().new_count == 3
    for f in frames(3, 9):  # six frames arrive while one clip is processed
        buf.append(f)
    clip = buf.take()
    assert [f.stamp_ns for f in clip.frames] == [6, 7, 8]
    assert clip.dropped == 3 and buf.dropped_frames == 3  # frames 3, 4, 5 left the ring uncovered
    assert clip.new_count == 3 and clip.new_count + clip.dropped == 6  # no frame is both new and dropped
    assert len(buf) == 3  # the ring never holds more than T frames


def test_memory_stays_bounded_under_a_burst():
    buf = ClipBuffer(length=5, stride=1)
    for f in frames(0, 10_000):
        buf.append(f)
    assert len(buf) == 5
    clip = buf.take()
    assert clip.frames[-1].stamp_ns == 9999 and clip.dropped == 10_000 - 5


def test_no_clip_before_due_and_forced_tail():
    buf = ClipBuffer(length=3, stride=4)
    for f in frames(0, 3):
        buf.append(f)
    buf.take()
    buf.append(frames(3, 4)[0])
    with pytest.raises(RuntimeError):
        buf.take()
    assert buf.has_uncovered()
    tail = buf.take(force=True)
    assert tail.new_count == 1 and tail.dropped == 0 and tail.frames[-1].stamp_ns == 3


def test_reset_changes_generation_and_restarts_the_schedule():
    buf = ClipBuffer(length=2, stride=1)
    for f in frames(0, 2):
        buf.append(f)
    old = buf.take()
    buf.reset()
    assert len(buf) == 0 and buf.generation == old.generation + 1
    assert buf.append(frames(5, 6)[0]) is False
    assert buf.append(frames(6, 7)[0]) is True


@pytest.mark.parametrize("length,stride", [(0, 1), (3, 0)])
def test_invalid_sizes(length, stride):
    with pytest.raises(ValueError, match="must be >= 1"):
        ClipBuffer(length, stride)
