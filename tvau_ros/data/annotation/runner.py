"""Annotating a list of videos and the run report (counts, dropped/skipped videos, accuracy)."""
from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TextIO

from tvau_ros.data.annotation.evaluate import evaluate, goals
from tvau_ros.data.annotation.pipeline import (AnnotateConfig, AnnotationInputError, VideoAnnotation,
                                               annotate_video)


def annotate_samples(samples: Iterable, config: AnnotateConfig = AnnotateConfig(), strict: bool = False,
                     log: Callable[[str], None] | None = None) -> list[VideoAnnotation]:
    """Annotate every video; unusable masks skip the video (counted) unless ``strict``."""
    results = []
    for sample in samples:
        try:
            results.append(annotate_video(sample, config))
        except AnnotationInputError as exc:
            if strict:
                raise
            if log:
                log(f"skipped {sample.name}: {exc}")
            results.append(VideoAnnotation(sample.name, "skipped", reasons=[str(exc)]))
    return results


def build_report(annotations: list[VideoAnnotation], samples: list, dataset: str = "",
                 split: str = "") -> dict:
    """Counts, reasons and (where samples carry generator meta) accuracy vs ground truth."""
    counts = Counter(a.status for a in annotations)
    metas = {s.name: s.meta for s in samples if getattr(s, "meta", None)}
    fps = {s.name: float(s.fps) for s in samples}
    report = {
        "dataset": str(dataset), "split": split, "videos": len(annotations),
        "samples_written": sum(a.sample is not None for a in annotations),
        "counts": {"normal": counts["normal"], "abnormal": counts["abnormal"],
                   "dropped_inconsistent": counts["dropped"], "skipped": counts["skipped"],
                   "ignored_short_timelines": sum(a.ignored_timelines for a in annotations)},
        "dropped": [{"video": a.video, "reasons": a.reasons} for a in annotations if a.status == "dropped"],
        "skipped": [{"video": a.video, "reasons": a.reasons} for a in annotations if a.status == "skipped"],
        "ground_truth_videos": len(metas),
    }
    if metas:
        report["accuracy"] = evaluate(annotations, metas, fps, by_category=True)
        report["accuracy_including_dropped"] = evaluate(annotations, metas, fps, include_dropped=True)
        report["goals_met"] = goals(report["accuracy"])
        report["accuracy_by_category"] = report["accuracy"].pop("by_category")
    return report


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def summary_lines(report: dict) -> list[str]:
    """Human-readable summary of ``build_report``'s output."""
    c = report["counts"]
    lines = [f"annotated {report['videos']} videos ({report['split']}): {c['normal']} normal, "
             f"{c['abnormal']} abnormal kept, {c['dropped_inconsistent']} dropped as inconsistent, "
             f"{c['skipped']} skipped; {report['samples_written']} dialogue samples"]
    acc = report.get("accuracy")
    if acc:
        lines.append(
            f"accuracy vs generator ground truth ({acc['targets_matched']}/{acc['targets_true']} targets): "
            f"colour {_fmt(acc['color'])} of the {_fmt(acc['color_coverage'])} stated (top {_fmt(acc['top_color'])}, "
            f"bottom {_fmt(acc['bottom_color'])}; all colours forced {_fmt(acc['color_forced'])}, before "
            f"refinement {_fmt(acc['coarse_color'])}), entry/exit side {_fmt(acc['entry_exit_side'])} "
            f"(entry {_fmt(acc['entry_side'])}, exit {_fmt(acc['exit_side'])})")
        lines.append(
            f"turn detection {_fmt(acc['turn_detection'])} of targets (turns: {acc['turns_predicted']} reported, "
            f"{acc['turns_true']} true, {acc['turns_matched']} matched; F1 {_fmt(acc['turn_f1'])}), speed states "
            f"{_fmt(acc['speed_state_frames'])} of frames, size class {_fmt(acc['size_class'])}, "
            f"accessories {_fmt(acc['accessories'])}")
        met = report["goals_met"]
        lines.append("goals (>= 90%): " + ", ".join(
            f"{k} {'n/a' if v is None else ('met' if v else 'NOT met')}" for k, v in met.items()))
    elif report["ground_truth_videos"] == 0:
        lines.append("no generator ground truth (meta.json) in this dataset: accuracy not measured")
    return lines


def print_summary(report: dict, stream: TextIO | None = None) -> None:
    for line in summary_lines(report):
        print(line, file=stream or sys.stdout)
