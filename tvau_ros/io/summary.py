"""Run summaries from event records (``evidence_to_dict`` / ``event_to_dict`` dicts).

Both ``tvau run`` and the ROS recorder summarise from the events they wrote, so the two
summaries of the same clip agree. An anomaly is one track id: it spans from the first to the
last event whose regions carry that id.

>>> events = [{"stamp_ns": 10**9, "regions": [{"track_id": 2, "peak_score": 0.7, "label": "anomaly"}]},
...           {"stamp_ns": 2 * 10**9, "regions": [{"track_id": 2, "peak_score": 0.9, "label": "anomaly"}]}]
>>> [(a["track_id"], a["start_s"], a["end_s"], a["peak_score"]) for a in anomalies_from_events(events, 0)]
[(2, 1.0, 2.0, 0.9)]
"""
from __future__ import annotations

NS_PER_S = 1_000_000_000


def anomalies_from_events(events: list[dict], origin_ns: int) -> list[dict]:
    """One record per track id seen in the events; times in seconds from ``origin_ns``."""
    spans: dict[int, dict] = {}
    for event in events:
        for region in event.get("regions", []):
            track = int(region.get("track_id", 0))
            if not track:
                continue
            span = spans.setdefault(track, {"track_id": track, "label": region.get("label", "anomaly"),
                                            "start_ns": event["stamp_ns"], "end_ns": event["stamp_ns"],
                                            "peak_score": 0.0, "events": 0, "ground_point": None})
            span["end_ns"] = max(span["end_ns"], event["stamp_ns"])
            span["start_ns"] = min(span["start_ns"], event["stamp_ns"])
            span["peak_score"] = max(span["peak_score"], float(region.get("peak_score", 0.0)))
            span["events"] += 1
            if region.get("ground_point"):
                span["ground_point"] = region["ground_point"]
    out = []
    for span in sorted(spans.values(), key=lambda s: (s["start_ns"], s["track_id"])):
        start, end = (span.pop("start_ns") - origin_ns) / NS_PER_S, (span.pop("end_ns") - origin_ns) / NS_PER_S
        out.append({**span, "start_s": round(start, 3), "end_s": round(end, 3),
                    "duration_s": round(end - start, 3), "peak_score": round(span["peak_score"], 4)})
    return out


def build_summary(events: list[dict], frames: int, wall_s: float, origin_ns: int | None = None,
                  **extra) -> dict:
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
