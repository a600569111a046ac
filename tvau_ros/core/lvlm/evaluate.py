"""Dialogue evaluation of an LVLM answerer: per-sample predictions and the paper's text scores.

``predict_dialogues`` asks every question of every dialogue in order, each answer becoming
history for the next question (as a live dialogue), and returns one record per turn.
``score_records`` turns records into Yes/No accuracy and balanced accuracy (judgment turns, all
videos) and BLEU-4 against the best-matching reference (``tvau_ros.metrics.text``) for Target
(appearance), Motion and Trajectory turns (abnormal videos).

Entry point for ``tvau eval dialogue``::

    from tvau_ros.core.lvlm.evaluate import evaluate_dialogues
    records, scores = evaluate_dialogues(answerer, "ann_test.jsonl", "DATA", heatmap_source="ground_truth")
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tvau_ros.core.lvlm.dialogue_data import DialogueClip, HeatmapSource, load_dialogue_clips
from tvau_ros.metrics.text import balanced_accuracy, count_unparsed, mean_bleu4, yes_no_accuracy

if TYPE_CHECKING:
    from tvau_ros.core.lvlm.answerer import LvlmAnswerer

BLEU_KINDS = {"appearance": "target_bleu4", "motion": "motion_bleu4", "trajectory": "trajectory_bleu4"}


def predict_dialogues(answerer: LvlmAnswerer, clips: Sequence[DialogueClip], max_new_tokens: int = 96,
                      progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """One record per turn: video, split, kind, question, prediction, references, abnormal."""
    records = []
    for n, clip in enumerate(clips):
        prepared = answerer.prepare_clip(clip.frames, clip.heatmaps, clip.fps)
        if answerer.vision_frozen:
            answerer.cache_video(prepared)  # every turn of the dialogue reuses P_V
        history: list[tuple[str, str]] = []
        for question, _ in clip.turns():
            prediction = answerer.answer(prepared, history + [(question, None)], max_new_tokens)
            turn = clip.sample.turns[len(history)]
            records.append({"video": clip.sample.video, "split": clip.sample.split, "kind": turn.kind,
                            "question": turn.question, "prediction": prediction, "references": list(turn.answers),
                            "abnormal": bool(clip.sample.abnormal)})
            history.append((question, prediction))
        if progress:
            progress(n + 1, len(clips))
    return records


def score_records(records: Sequence[dict]) -> dict:
    """Yes/No accuracy, balanced accuracy, unparsed answers and BLEU-4 per answer kind (percent)."""
    judgments = [r for r in records if r["kind"] == "judgment"]
    if not judgments:
        raise ValueError("no judgment turns to score")
    answers = [r["prediction"] for r in judgments]
    labels = [r["abnormal"] for r in judgments]
    scores = {"dialogues": len(judgments), "abnormal": sum(labels),
              "yes_no_accuracy": yes_no_accuracy(answers, labels),
              "balanced_accuracy": balanced_accuracy(answers, labels),
              "unparsed_yes_no": count_unparsed(answers)}
    for kind, key in BLEU_KINDS.items():
        turns = [r for r in records if r["kind"] == kind]
        if turns:
            result = mean_bleu4([r["prediction"] for r in turns], [r["references"] for r in turns])
            scores[key], scores[key.replace("bleu4", "bleu4_std")] = result.mean, result.std
            scores[kind + "_turns"] = len(turns)
    return scores


def evaluate_dialogues(answerer: LvlmAnswerer, dialogues: str | Path, dataset_root: str | Path,
                       heatmap_source: str | HeatmapSource = "ground_truth", num_frames: int = 16,
                       max_new_tokens: int = 96, limit: int | None = None, max_side: int | None = None,
                       layout: str | None = None) -> tuple[list[dict], dict]:
    """Predict and score every dialogue of a JSONL (``tvau data annotate`` output). ``num_frames``
    and ``max_side`` should be those the answerer was trained with (its ``train_config``)."""
    source = "none" if answerer.settings.heatmap_mode == "none" else heatmap_source
    clips = load_dialogue_clips(dialogues, dataset_root, source, num_frames, max_side, layout, limit=limit)
    records = predict_dialogues(answerer, clips, max_new_tokens)
    return records, score_records(records)
