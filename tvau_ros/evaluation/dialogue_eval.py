"""``tvau eval dialogue``: the benchmark's dialogues asked of the answerers, scored as the paper does.

For every dialogue sample (``tvau data annotate`` JSONL) its video is run through the real
``AnomalyPipeline`` once per kind of evidence, then its questions are asked in order, as one
session over the whole video, with frame anchors (the dataset's):

* ``ground_truth`` evidence: the engine is ``MaskEngine`` (heatmaps = the annotated masks), the
  upper bound of what the evidence can support;
* ``engine`` evidence: the engine of the pipeline config (``--config``), what the node runs.

Rows: ``grounded (ground truth)`` and ``grounded (engine)``; any other ``TextAnswerer`` on
either evidence (``answerer_rows``: e.g. the LVLM in-process); and answers read from a file
(``prediction_rows``: JSONL lines ``{"video", "turn", "answer"}``, ``turn`` = index in the
sample's turns; flagged claims checked against the engine evidence, the ground truth without an
engine). Metrics per row: Yes/No
accuracy and balanced accuracy (judgment turns), BLEU-4 best reference (sacrebleu) for Target
(appearance), Trajectory and motion answers, attribute faithfulness against ``meta.json``
(``claim_truth``), flagged-claim rate (flagged / checked claims), errors; plus the frame AUC of
each evidence kind on the same videos (its detection number).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tvau_ros.core.dialogue.answerers import GroundedAnswerer, TextAnswerer, Verdict
from tvau_ros.core.dialogue.claims import check_claims, extract_claims
from tvau_ros.core.dialogue.dialogue import Dialogue, DialogueConfig, QueryError
from tvau_ros.core.dialogue.evidence_view import PipelineSource, build_view
from tvau_ros.core.dialogue.measure import measure_targets
from tvau_ros.core.engine import HeatmapEngine
from tvau_ros.data.annotation.phrasing import FRAMES
from tvau_ros.core.pipeline import AnomalyPipeline
from tvau_ros.core.pipeline_config import PipelineConfig
from tvau_ros.data.annotation.dialogue import DialogueSample
from tvau_ros.data.dataset import VideoSample
from tvau_ros.evaluation.claim_truth import Tally, score_answers
from tvau_ros.evaluation.mask_engine import MaskEngine
from tvau_ros.metrics.frame_auc import FrameScores, micro_auc
from tvau_ros.metrics.text import balanced_accuracy, count_unparsed, mean_bleu4, yes_no_accuracy

SESSION = "eval"
BLEU_KINDS = {"target": "appearance", "trajectory": "trajectory", "motion": "motion"}


@dataclass
class RowResult:
    name: str
    evidence: str
    answers: list[dict] = field(default_factory=list)   # one per asked turn
    tally: Tally = field(default_factory=Tally)
    claims_checked: int = 0
    claims_flagged: int = 0

    def table(self) -> dict:
        judged = [a for a in self.answers if a["kind"] == "judgment"]
        out: dict = {"row": self.name, "evidence": self.evidence, "answers": len(self.answers),
                     "errors": sum(a["error"] is not None for a in self.answers)}
        if judged:
            texts, labels = [a["answer"] for a in judged], [a["abnormal"] for a in judged]
            out.update(yes_no_accuracy=round(yes_no_accuracy(texts, labels), 2),
                       balanced_accuracy=round(balanced_accuracy(texts, labels), 2),
                       yes_no_unparsed=count_unparsed(texts), judged=len(judged))
        for column, kind in BLEU_KINDS.items():
            turns = [a for a in self.answers if a["kind"] == kind]
            if turns:
                bleu = mean_bleu4([a["answer"] for a in turns], [a["references"] for a in turns])
                out[f"bleu4_{column}"], out[f"bleu4_{column}_std"] = round(bleu.mean, 2), round(bleu.std, 2)
                out[f"{column}_answers"] = len(turns)
        out.update(self.tally.table())
        out["claims_checked"] = self.claims_checked
        out["flagged_claim_rate"] = (round(100.0 * self.claims_flagged / self.claims_checked, 2)
                                     if self.claims_checked else None)
        return out


def _pipeline(engine: HeatmapEngine, cfg: dict, frames: int) -> AnomalyPipeline:
    cfg = {**cfg, "evidence": {"max_items": max(64, 2 * frames), "max_bytes": 4 * 1024 ** 3}}
    return AnomalyPipeline(engine, PipelineConfig.from_dict(cfg))


def run_evidence(video: VideoSample, engine: HeatmapEngine, cfg: dict) -> tuple[AnomalyPipeline, list[float]]:
    """The video through the pipeline; returns it and each frame's score (peak of its smoothed heatmap)."""
    frames = video.read_frames()
    pipeline = _pipeline(engine, cfg, len(frames))
    for i, image in enumerate(frames):
        pipeline.push(image, int(round(i * 1e9 / video.fps)))
    pipeline.finish()
    source = PipelineSource(pipeline)
    view = build_view(pipeline.store, [], 0, 1 << 62, source.threshold, source.smoothing_sigma)
    scores = {r.index: view.score(r) for r in view.frames}
    return pipeline, [scores.get(i, 0.0) for i in range(len(frames))]


def _ask_all(sample: DialogueSample, pipeline: AnomalyPipeline, answerer: TextAnswerer,
             row: RowResult) -> dict[str, str]:
    dialogue = Dialogue(PipelineSource(pipeline), answerer, DialogueConfig(anchors="frames"))
    end = pipeline.store.latest().stamp_ns
    texts = {}
    for i, turn in enumerate(sample.turns):
        record = {"video": sample.video, "turn": i, "kind": turn.kind, "question": turn.question,
                  "references": turn.answers, "abnormal": sample.abnormal, "answer": "", "error": None,
                  "flagged_claims": []}
        try:
            answer = dialogue.ask(turn.question, SESSION, (0, max(end, 1)), reset=i == 0)
            record.update(answer=answer.text, flagged_claims=answer.flagged_claims)
            row.claims_checked += sum(c.agrees is not None for c in answer.claims)
            row.claims_flagged += len(answer.flagged_claims)
        except QueryError as exc:
            record["error"] = str(exc)
        row.answers.append(record)
        texts[turn.kind] = record["answer"]
    return texts


def _predicted(sample: DialogueSample, predictions: dict, pipeline: AnomalyPipeline, row: RowResult) -> dict[str, str]:
    """Answers read from a file; their claims checked against ``pipeline``'s evidence."""
    source = PipelineSource(pipeline)
    view = build_view(pipeline.store, source.episodes(), 0, 1 << 62, source.threshold, source.smoothing_sigma)
    targets = measure_targets(view)
    abnormal = bool(view.episodes) or len(view.anomalous_indices()) >= 3
    verdict = Verdict(abnormal, 0.0, (targets[0].start, max(t.end for t in targets)) if targets else None)
    texts = {}
    for i, turn in enumerate(sample.turns):
        text = predictions.get((sample.video, i))
        record = {"video": sample.video, "turn": i, "kind": turn.kind, "question": turn.question,
                  "references": turn.answers, "abnormal": sample.abnormal, "answer": text or "",
                  "error": None if text is not None else "no prediction for this turn", "flagged_claims": []}
        if text is not None:
            checked = check_claims(extract_claims(text, FRAMES), view, targets, verdict)
            record["flagged_claims"] = [c.flag() for c in checked if c.agrees is False]
            row.claims_checked += sum(c.agrees is not None for c in checked)
            row.claims_flagged += len(record["flagged_claims"])
        row.answers.append(record)
        texts[turn.kind] = record["answer"]
    return texts


def read_predictions(path: str | Path) -> dict[tuple[str, int], str]:
    """``{"video": ..., "turn": i, "answer": ...}`` lines -> {(video, turn): answer}; ValueError naming a bad line."""
    out = {}
    with open(path, encoding="utf-8") as file:
        for n, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                out[(str(item["video"]), int(item["turn"]))] = str(item["answer"])
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{n}: not a prediction line {{video, turn, answer}} ({exc})") from None
    return out


def evaluate_dialogues(samples: list[DialogueSample], videos: dict, cfg: dict, engine: HeatmapEngine | None = None, *,
                       ground_truth: bool = True, answerer_rows: dict[str, tuple[str, TextAnswerer]] | None = None,
                       prediction_rows: dict[str, dict] | None = None,
                       progress: Callable[[str], None] | None = None) -> dict:
    """Rows of the dialogue evaluation (see the module docstring). ``videos``: name -> VideoSample
    (with ``meta``); ``engine``: the engine row's HeatmapEngine (None: no engine row);
    ``answerer_rows``: name -> (evidence "ground_truth" | "engine", answerer)."""
    rows: dict[str, RowResult] = {}
    if ground_truth:
        rows["grounded (ground truth)"] = RowResult("grounded (ground truth)", "ground_truth")
    if engine is not None:
        rows["grounded (engine)"] = RowResult("grounded (engine)", engine.model_id)
    extra = dict(answerer_rows or {})
    for name, (evidence, _) in extra.items():
        rows[name] = RowResult(name, evidence)
    for name in prediction_rows or {}:
        rows[name] = RowResult(name, "predictions")
    scores: dict[str, list[FrameScores]] = {"ground_truth": [], "engine": []}
    clip_length = engine.clip_length if engine is not None else int(cfg["motion_baseline"]["clip_length"])
    grounded = GroundedAnswerer()
    for n, sample in enumerate(samples, start=1):
        video = videos[sample.video]
        truths = [t for t in (video.meta or {}).get("targets", []) if t.get("abnormal", True)]
        labels = np.asarray(video.frame_labels).astype(int)
        evidence = {}
        if ground_truth or any(e == "ground_truth" for e, _ in extra.values()) or (prediction_rows and engine is None):
            masks = MaskEngine(clip_length)
            frames = video.read_frames()
            for i, image in enumerate(frames):
                masks.add(image, video.read_mask(i))
            evidence["ground_truth"], gt_scores = run_evidence(video, masks, cfg)
            scores["ground_truth"].append(FrameScores(video.name, labels, np.array(gt_scores)))
        if engine is not None:
            evidence["engine"], engine_scores = run_evidence(video, engine, cfg)
            scores["engine"].append(FrameScores(video.name, labels, np.array(engine_scores)))
        for row in rows.values():
            if row.name == "grounded (ground truth)":
                texts = _ask_all(sample, evidence["ground_truth"], grounded, row)
            elif row.name == "grounded (engine)":
                texts = _ask_all(sample, evidence["engine"], grounded, row)
            elif row.name in extra:
                kind, answerer = extra[row.name]
                texts = _ask_all(sample, evidence[kind], answerer, row)
            else:
                checked_on = evidence.get("engine") or evidence["ground_truth"]
                texts = _predicted(sample, prediction_rows[row.name], checked_on, row)
            score_answers(texts, truths, video.fps, row.tally)
        if progress:
            progress(f"[{n}/{len(samples)}] {sample.video}")
    detection = {kind: round(micro_auc(v), 2) for kind, v in scores.items()
                 if v and len({int(x) for s in v for x in s.labels}) == 2}
    return {"samples": len(samples), "videos": sorted({s.video for s in samples}),
            "frame_micro_auc": detection, "rows": [row.table() for row in rows.values()],
            "answers": {row.name: row.answers for row in rows.values()}}
