"""Accuracy of the annotation pipeline against the generator's ground truth (``meta.json``).

Predicted targets are matched to the ground-truth abnormal targets by mask object id, or, for
binary masks, by temporal overlap. Measured per matched target:

* colour: top and bottom colour names as stated in the dialogue (a colour whose vote was too
  split is left unstated); ``color`` counts both over the stated ones, ``color_coverage`` is the
  share of the 2 x targets colours stated, ``color_forced`` the accuracy had every colour been
  stated, and ``coarse_color`` the forced accuracy without anomaly-focused refinement;
* entry / exit side (``entry_exit_side`` counts both);
* turns: a predicted turn is correct when a true turn of the same direction lies within
  ``turn_tolerance_s`` seconds (one-to-one). ``turn_detection`` is the share of targets whose
  turns are all found with no extra one (a target that walks straight and is reported so
  counts as correct); precision, recall and F1 count individual turns (with their totals);
* speed states: share of frames whose state matches; size class; accessories (exact set).

All values are percentages; ``None`` when nothing was measurable.
"""
from __future__ import annotations

from collections import Counter

from tvau_ros.data.annotation.pipeline import TargetResult, VideoAnnotation

GOAL = 90.0


def _match(results: list[TargetResult], truths: list[dict]) -> list[tuple[TargetResult, dict]]:
    pairs, used = [], set()
    for r in results:
        tl = r.timeline
        best, best_overlap = None, 0.0
        for i, t in enumerate(truths):
            if i in used:
                continue
            if tl.object_id is not None and t.get("object_id") is not None:
                if tl.object_id == t["object_id"]:
                    best, best_overlap = i, 1.0
                    break
                continue
            inter = min(tl.end, t["end"]) - max(tl.start, t["start"]) + 1
            union = max(tl.end, t["end"]) - min(tl.start, t["start"]) + 1
            if inter > 0 and inter / union > best_overlap:
                best, best_overlap = i, inter / union
        if best is not None:
            used.add(best)
            pairs.append((r, truths[best]))
    return pairs


def match_turns(predicted: list[dict], truth: list[dict], tolerance: float) -> int:
    """Number of predicted turns matched one-to-one to true turns (same direction, close frame)."""
    used, hits = set(), 0
    for p in predicted:
        candidates = [(abs(p["frame"] - t["frame"]), i) for i, t in enumerate(truth)
                      if i not in used and t["direction"] == p["direction"]
                      and abs(p["frame"] - t["frame"]) <= tolerance]
        if candidates:
            used.add(min(candidates)[1])
            hits += 1
    return hits


def _state_at(states: list[dict], frame: int) -> str | None:
    return next((s["state"] for s in states if s["start"] <= frame <= s["end"]), None)


def _pct(num: float, den: float) -> float | None:
    return round(100.0 * num / den, 2) if den else None


def _score(c: Counter, r: TargetResult, t: dict, tolerance: float) -> None:
    """Add one matched (result, truth) pair to the counters ``c``."""
    attrs, truth_attrs, traj = r.timeline.attributes, t["attributes"], t["trajectory"]
    c["targets_matched"] += 1
    for key, stated in zip(("top_color", "bottom_color"), r.stated, strict=True):
        if stated is not None:
            c[key + "_stated"] += 1
            c[key] += stated == truth_attrs.get(key)
        c[key + "_forced"] += getattr(attrs, key) == truth_attrs.get(key)
        c["coarse_" + key] += getattr(r.coarse_attributes, key) == truth_attrs.get(key)
    c["size_class"] += attrs.size_class == truth_attrs.get("size_class")
    c["accessories"] += sorted(attrs.accessories) == sorted(truth_attrs.get("accessories", []))
    pred = r.trajectory.to_dict()
    for key in ("entry_side", "exit_side"):
        c[key] += pred[key] == traj.get(key)
    true_turns = traj.get("turns", [])
    hits = match_turns(pred["turns"], true_turns, tolerance)
    c["turns_pred"] += len(pred["turns"])
    c["turns_true"] += len(true_turns)
    c["turns_hit"] += hits
    c["turn_detection"] += hits == len(pred["turns"]) == len(true_turns)
    for f in range(r.timeline.start, r.timeline.end + 1):
        truth_state = _state_at(traj.get("speed_states", []), f)
        if truth_state is not None:
            c["speed_frames"] += 1
            c["speed_hit"] += _state_at(pred["speed_states"], f) == truth_state


def _table(c: Counter) -> dict:
    n = c["targets_matched"]
    precision = _pct(c["turns_hit"], c["turns_pred"])
    recall = _pct(c["turns_hit"], c["turns_true"])
    if c["turns_pred"] == 0 and c["turns_true"] == 0 and n:
        precision = recall = 100.0
    f1 = (round(2 * precision * recall / (precision + recall), 2) if precision and recall
          else (0.0 if precision is not None and recall is not None else None))
    return {
        "targets_true": c["targets_true"], "targets_matched": n,
        "top_color": _pct(c["top_color"], c["top_color_stated"]),
        "bottom_color": _pct(c["bottom_color"], c["bottom_color_stated"]),
        "color": _pct(c["top_color"] + c["bottom_color"], c["top_color_stated"] + c["bottom_color_stated"]),
        "color_coverage": _pct(c["top_color_stated"] + c["bottom_color_stated"], 2 * n),
        "color_forced": _pct(c["top_color_forced"] + c["bottom_color_forced"], 2 * n),
        "coarse_color": _pct(c["coarse_top_color"] + c["coarse_bottom_color"], 2 * n),
        "entry_side": _pct(c["entry_side"], n), "exit_side": _pct(c["exit_side"], n),
        "entry_exit_side": _pct(c["entry_side"] + c["exit_side"], 2 * n),
        "turn_precision": precision, "turn_recall": recall, "turn_f1": f1,
        "turn_detection": _pct(c["turn_detection"], n),
        "turns_true": c["turns_true"], "turns_predicted": c["turns_pred"], "turns_matched": c["turns_hit"],
        "speed_state_frames": _pct(c["speed_hit"], c["speed_frames"]),
        "size_class": _pct(c["size_class"], n), "accessories": _pct(c["accessories"], n),
    }


def evaluate(annotations: list[VideoAnnotation], metas: dict[str, dict], fps: dict[str, float],
             turn_tolerance_s: float = 0.5, include_dropped: bool = False, by_category: bool = False) -> dict:
    """Accuracy table over videos with ground truth; ``include_dropped`` also scores dropped ones;
    ``by_category`` adds the same table per anomaly category under ``"by_category"``."""
    total: Counter = Counter()
    per: dict[str, Counter] = {}
    for ann in annotations:
        meta = metas.get(ann.video)
        if meta is None or ann.status not in (("abnormal", "dropped") if include_dropped else ("abnormal",)):
            continue
        truths = [t for t in meta.get("targets", []) if t.get("abnormal", True)]
        tolerance = turn_tolerance_s * fps.get(ann.video, meta.get("fps", 25.0))
        for t in truths:
            for c in (total, per.setdefault(t.get("category", "?"), Counter())):
                c["targets_true"] += 1
        for r, t in _match(ann.targets, truths):
            _score(total, r, t, tolerance)
            _score(per[t.get("category", "?")], r, t, tolerance)
    table = _table(total)
    if by_category:
        table["by_category"] = {k: _table(v) for k, v in sorted(per.items())}
    return table


def goals(accuracy: dict) -> dict:
    """Which >= 90 % goals are met (None when unmeasured)."""
    return {key: (None if accuracy.get(key) is None else accuracy[key] >= GOAL)
            for key in ("color", "entry_exit_side", "turn_detection")}
