"""Run summaries from event records (``evidence_to_dict`` / ``event_to_dict`` dicts).

Both ``tvau run`` and the ROS recorder summarise from the events they wrote, so the two
summaries of the same clip agree. An anomaly is one track id: it spans from the first to the
last event whose regions carry that id (``tvau_ros.core.episodes.EpisodeLog``, the definition
the pipeline uses too).

>>> events = [{"stamp_ns": 10**9, "regions": [{"track_id": 2, "peak_score": 0.7, "label": "anomaly"}]},
...           {"stamp_ns": 2 * 10**9, "regions": [{"track_id": 2, "peak_score": 0.9, "label": "anomaly"}]}]
>>> [(a["track_id"], a["start_s"], a["end_s"], a["peak_score"]) for a in anomalies_from_events(events, 0)]
[(2, 1.0, 2.0, 0.9)]
"""
from __future__ import annotations

from tvau_ros.core.episodes import EpisodeLog


def anomalies_from_events(events: list[dict], origin_ns: int) -> list[dict]:
    """The episodes of these events (``EpisodeLog``'s definition); times in seconds from ``origin_ns``."""
    log = EpisodeLog()
    for event in events:
        log.add_event(event)
    return log.records(origin_ns)


def build_summary(events: list[dict], frames: int, wall_s: float, origin_ns: int | None = None,
                  **extra: object) -> dict:
    """Frames, throughput, anomalous events and anomalies (with time spans) of one run."""
    if origin_ns is None:
        origin_ns = events[0]["window_start_ns"] if events and "window_start_ns" in events[0] else (
            events[0]["stamp_ns"] if events else 0)
    model = next((e.get("model_id") for e in events if e.get("model_id")), "")
    return {
        "frames": int(frames),
        "events": len(events),
        "anomalous_events": sum(1 for e in events if e.get("is_anomalous")),
        "wall_s": round(wall_s, 3),
        "fps": round(frames / wall_s, 2) if wall_s > 0 else 0.0,
        "model_id": model,
        "anomalies": anomalies_from_events(events, origin_ns),
        **extra,
    }


def format_summary(summary: dict, title: str = "tvau") -> str:
    lines = [f"{title}: {summary['frames']} frames in {summary['wall_s']:.1f} s = {summary['fps']:.1f} fps; "
             f"{summary['events']} events ({summary['anomalous_events']} anomalous); model {summary['model_id']}"]
    anomalies = summary["anomalies"]
    lines.append(f"anomalies: {len(anomalies)}")
    for a in anomalies:
        where = ""
        if a.get("ground_point"):
            g = a["ground_point"]
            where = f", last ground point ({g['x']:.2f}, {g['y']:.2f}) m in {g['frame_id']}"
        lines.append(f"  #{a['track_id']} {a['label']}: {a['start_s']:.2f} s - {a['end_s']:.2f} s "
                     f"({a['duration_s']:.2f} s), peak {a['peak_score']:.2f}{where}")
    for key in ("outputs",):
        if summary.get(key):
            lines.append("wrote " + ", ".join(str(v) for v in summary[key].values()))
    return "\n".join(lines)
