"""Anomaly episodes: the one definition, read from events.

An episode is one tracked anomaly: it starts with the first event whose regions carry its
track id, lasts until the last such event, and is closed by the event that lists the id in
``ended_track_ids`` (or at the end of the stream). Its label is the label of its strongest
region (the behaviour attribute, e.g. ``fast``), its ground point the last one seen.

The pipeline feeds ``EpisodeLog`` every event it makes (``evidence_to_dict``), and the run
summaries of ``tvau run`` and the ROS recorder replay the events they wrote (dicts from
``evidence_to_dict`` / ``event_to_dict``) through it, so a robot, a recording and a summary
count the same anomalies.

>>> log = EpisodeLog()
>>> region = lambda peak: {"track_id": 2, "peak_score": peak, "label": "fast", "ground_point": None}
>>> log.add_event({"stamp_ns": 10**9, "regions": [region(0.7)], "ended_track_ids": []})
>>> log.add_event({"stamp_ns": 3 * 10**9, "regions": [region(0.9)], "ended_track_ids": []})
>>> log.add_event({"stamp_ns": 4 * 10**9, "regions": [], "ended_track_ids": [2]})
>>> [(e.track_id, e.duration_s, e.peak_score, e.label) for e in log.finished()]
[(2, 2.0, 0.9, 'fast')]
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from tvau_ros.core.types import NS_PER_S, Episode


@dataclass
class _Span:
    track_id: int
    start_ns: int
    last_ns: int
    peak_score: float
    label: str
    events: int = 0
    ground_point: dict | None = None

    def episode(self, closed: bool) -> Episode:
        return Episode(self.track_id, self.start_ns, self.last_ns if closed else None, self.peak_score, self.label)


class EpisodeLog:
    def __init__(self, max_finished: int = 1000):
        self._open: dict[int, _Span] = {}
        self._finished: deque[_Span] = deque(maxlen=max_finished)
        self.total_started = 0

    def add_event(self, event: dict) -> None:
        """Take one event (the keys of ``evidence_to_dict``): extend or start the episodes of its
        regions' track ids, then close those in ``ended_track_ids``."""
        stamp = int(event["stamp_ns"])
        for region in event.get("regions", []):
            track = int(region.get("track_id", 0))
            if not track:
                continue
            peak = float(region.get("peak_score", 0.0))
            span = self._open.get(track)
            if span is None:
                span = self._open[track] = _Span(track, stamp, stamp, peak, region.get("label", "anomaly"))
                self.total_started += 1
            elif peak > span.peak_score:
                span.peak_score, span.label = peak, region.get("label", "anomaly")
            span.last_ns, span.events = stamp, span.events + 1
            span.ground_point = region.get("ground_point") or span.ground_point
        for track in event.get("ended_track_ids", []):
            span = self._open.pop(int(track), None)
            if span is not None:
                self._finished.append(span)

    def close_all(self) -> None:
        """End of the stream: every open episode ends at its last sighting."""
        self._finished.extend(sorted(self._open.values(), key=lambda s: s.start_ns))
        self._open.clear()

    def open(self) -> list[Episode]:
        return [s.episode(False) for s in sorted(self._open.values(), key=lambda s: s.start_ns)]

    def finished(self) -> list[Episode]:
        return [s.episode(True) for s in self._finished]

    def all(self) -> list[Episode]:
        """Finished episodes, then open ones, each in start order."""
        return sorted(self.finished(), key=lambda e: e.start_ns) + self.open()

    def records(self, origin_ns: int) -> list[dict]:
        """JSON-ready episodes (finished and open, in start order; an open one up to its last
        sighting), times in seconds from ``origin_ns``: ``summary.json``'s ``anomalies``."""
        out = []
        for span in sorted([*self._finished, *self._open.values()], key=lambda s: (s.start_ns, s.track_id)):
            start, end = (span.start_ns - origin_ns) / NS_PER_S, (span.last_ns - origin_ns) / NS_PER_S
            out.append({"track_id": span.track_id, "label": span.label, "peak_score": round(span.peak_score, 4),
                        "events": span.events, "ground_point": span.ground_point, "start_s": round(start, 3),
                        "end_s": round(end, 3), "duration_s": round(end - start, 3)})
        return out
