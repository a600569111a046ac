"""Anomaly episodes: one per confirmed track, from its first sighting to its last.

The tracker says which tracks were confirmed (episode started) and which were lost (episode
ended) in each update; ``EpisodeLog`` turns that into ``Episode`` records with time spans and
peak scores, keeps the open ones and a bounded history of finished ones, so that a robot can
react once per anomaly and a summary can list anomalies with their time spans.

>>> from tvau_ros.core.types import Box, Track
>>> log = EpisodeLog()
>>> t = Track(1, Box(0, 0, 4, 4), first_stamp_ns=2_000_000_000, last_stamp_ns=3_000_000_000,
...           peak_score=0.9, confirmed=True)
>>> log.start([t]); [e.track_id for e in log.open()]
[1]
>>> t.last_stamp_ns = 5_500_000_000
>>> log.end([t]); log.finished()[0].duration_s
3.5
"""
from __future__ import annotations

from collections import deque

from tvau_ros.core.types import Episode, Track


class EpisodeLog:
    def __init__(self, max_finished: int = 1000):
        self._open: dict[int, Episode] = {}
        self._finished: deque[Episode] = deque(maxlen=max_finished)
        self.total_started = 0

    def start(self, tracks: list[Track], label: str = "anomaly") -> None:
        for track in tracks:
            self._open[track.track_id] = Episode(track.track_id, track.first_stamp_ns, None,
                                                 track.peak_score, label)
            self.total_started += 1

    def touch(self, tracks: list[Track]) -> None:
        """Keep open episodes' peak scores up to date with the live tracks."""
        for track in tracks:
            episode = self._open.get(track.track_id)
            if episode is not None and track.peak_score > episode.peak_score:
                self._open[track.track_id] = Episode(episode.track_id, episode.start_ns, None,
                                                     track.peak_score, episode.label)

    def end(self, tracks: list[Track]) -> None:
        for track in tracks:
            episode = self._open.pop(track.track_id, None)
            if episode is None:
                continue
            self._finished.append(Episode(episode.track_id, episode.start_ns, track.last_stamp_ns,
                                          max(episode.peak_score, track.peak_score), episode.label))

    def open(self) -> list[Episode]:
        return list(self._open.values())

    def finished(self) -> list[Episode]:
        return list(self._finished)

    def all(self) -> list[Episode]:
        """Finished episodes, then open ones, each in start order."""
        return sorted(self._finished, key=lambda e: e.start_ns) + sorted(self._open.values(),
                                                                          key=lambda e: e.start_ns)
