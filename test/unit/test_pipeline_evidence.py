"""EvidenceStore bounds and queries; EpisodeLog spans."""
import threading

import numpy as np
import pytest

from tvau_ros.core.episodes import EpisodeLog
from tvau_ros.core.evidence import EvidenceStore
from tvau_ros.core.types import Box, Evidence, Frame, Track


def evidence(t, size=(8, 8), track=None):
    frame = Frame(np.zeros((*size, 3), np.uint8), stamp_ns=t, index=t)
    tracks = [Track(track, Box(0, 0, 2, 2), t, t, 0.9, confirmed=True)] if track else []
    return Evidence(t, "cam", t, t - 5, t, (frame,), np.zeros((1, *size), np.float32), (t,), 0.5, False, "m",
                    tracks=tracks)


def test_store_is_bounded_by_items_and_bytes():
    store = EvidenceStore(max_items=100, max_bytes=10 * evidence(0).nbytes())
    for t in range(50):
        store.add(evidence(t))
    assert len(store) == 10 and store.items()[0].stamp_ns == 40
    assert store.nbytes <= 10 * evidence(0).nbytes()
    small = EvidenceStore(max_items=3)
    for t in range(10):
        small.add(evidence(t))
    assert [e.stamp_ns for e in small.items()] == [7, 8, 9]


def test_window_queries_and_tracks():
    store = EvidenceStore()
    for t in range(10, 100, 10):
        store.add(evidence(t, track=1 if t < 50 else 2))
    assert [e.stamp_ns for e in store.window(28, 41)] == [30, 40]  # windows [t-5, t] overlapping
    assert [e.stamp_ns for e in store.window(0, 0)] == [90]
    assert sorted(store.tracks(0, 100)) == [1, 2] and list(store.tracks()) == [2]
    store.clear()
    assert store.latest() is None and store.window(0, 0) == []


def test_store_is_safe_to_read_while_written():
    store = EvidenceStore(max_items=16)
    stop = threading.Event()
    errors = []

    def reader():
        while not stop.is_set():
            try:
                store.window(0, 10**9)
                store.latest()
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    for t in range(2000):
        store.add(evidence(t))
    stop.set()
    thread.join()
    assert not errors and len(store) == 16


@pytest.mark.parametrize("kwargs", [{"max_items": 0}, {"max_bytes": 0}])
def test_invalid_bounds(kwargs):
    with pytest.raises(ValueError):
        EvidenceStore(**kwargs)


def _event(stamp, regions=(), ended=()):
    return {"stamp_ns": stamp, "ended_track_ids": list(ended),
            "regions": [{"track_id": t, "peak_score": p, "label": label, "ground_point": None}
                        for t, p, label in regions]}


def test_episode_log_spans_and_bounded_history():
    log = EpisodeLog(max_finished=2)
    for track_id in (1, 2, 3):
        log.add_event(_event(track_id * 10, [(track_id, 0.6, "slow")]))
        log.add_event(_event(track_id * 10 + 5, [(track_id, 0.8, "fast")]))
        log.add_event(_event(track_id * 10 + 7, ended=[track_id]))
    assert [(e.track_id, e.start_ns, e.end_ns, e.peak_score, e.label) for e in log.finished()] == [
        (2, 20, 25, 0.8, "fast"), (3, 30, 35, 0.8, "fast")]
    assert log.total_started == 3 and log.open() == []
    log.add_event(_event(50, ended=[9]))  # never started: ignored
    assert len(log.finished()) == 2


def test_episode_log_records_open_episodes_and_close_all():
    log = EpisodeLog()
    log.add_event(_event(10**9, [(4, 0.7, "unusual_place"), (0, 0.9, "fast")]))  # track 0 = tentative: no episode
    log.add_event(_event(3 * 10**9, [(4, 0.6, "unusual_place")]))
    assert [e.track_id for e in log.open()] == [4] and log.open()[0].end_ns is None
    assert log.records(0) == [{"track_id": 4, "label": "unusual_place", "peak_score": 0.7, "events": 2,
                               "ground_point": None, "start_s": 1.0, "end_s": 3.0, "duration_s": 2.0}]
    log.close_all()
    assert log.open() == [] and log.finished()[0].end_ns == 3 * 10**9
