"""RAE turn-likelihood probe: does RAE carry trajectory evidence that the tiny LM's greedy answers hide?

The Table 2/3 ablation (``tvau_ros.train.rae_ablation``) scores each variant's greedy answers
with BLEU-4. Every tiny variant answers the trajectory question with the same few sentences, so
BLEU cannot show whether the heatmap evidence reached the model. This probe asks each trained
variant how likely it finds the *reference* answers instead: the dialogue is fed with the
first reference of every turn (teacher forcing, as in training) and each answer's tokens get
their negative log-likelihood (nats per token, the answer's ``<|im_end|>`` included), over all
its tokens and over its word tokens only (digits left out: frame numbers are spelt digit by
digit, and the sides, turns and states are words). Per answer kind it prints the mean over turns
for each variant and the paired difference full minus each other variant (mean +- standard
error over the same turns; negative: the full model finds the reference more likely).

    python -m research.rae_turn_likelihood --ablation outputs/rae_ablation_1200_s0 \\
        --test-dialogues data/default/ann_test.jsonl --dataset data/default --out outputs/rae_likelihood_s0

About 1 minute per ablation folder on 2 cores; ``OUT/turns.jsonl`` holds one row per turn,
``OUT/summary.json`` the table.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from tvau_ros.core.lvlm.answerer import LvlmAnswerer
from tvau_ros.core.lvlm.dialogue_data import DialogueClip, load_dialogue_clips
from tvau_ros.train.rae_ablation import load_ablation_answerers


def answer_spans(labels: torch.Tensor, ignore: int = -100) -> list[tuple[int, int]]:
    """``[start, end)`` of each run of labelled positions: one per answer, in turn order."""
    spans, start = [], None
    for i, value in enumerate(labels.tolist() + [ignore]):
        if value != ignore and start is None:
            start = i
        elif value == ignore and start is not None:
            spans.append((start, i))
            start = None
    return spans


@torch.no_grad()
def turn_nll(answerer: LvlmAnswerer, clip: DialogueClip) -> list[tuple[float, float]]:
    """Mean NLL per token of each reference answer of ``clip``, teacher-forced: (all tokens,
    tokens that are not digits)."""
    answerer.train(False)
    prepared = answerer.prepare_clip(clip.frames, clip.heatmaps, clip.fps)
    seq = answerer.sequence(prepared, clip.turns())
    batch = answerer.embed([prepared], [seq])
    logits = answerer.model(inputs_embeds=batch["inputs_embeds"], attention_mask=batch["attention_mask"],
                            position_ids=batch["position_ids"], use_cache=False).logits[0]
    # the token at position i is predicted from position i - 1
    logp = torch.log_softmax(logits[:-1].float(), dim=-1)
    labels = seq.labels
    out = []
    for start, end in answer_spans(labels):
        targets = labels[start:end].to(logp.device)
        nll = -logp[start - 1:end - 1].gather(1, targets[:, None])[:, 0]
        words = torch.tensor([not answerer.codec.decode([int(t)]).strip().isdigit() for t in targets])
        out.append((float(nll.mean()), float(nll[words].mean()) if words.any() else float("nan")))
    if len(out) != len(clip.sample.turns):
        raise ValueError(f"{clip.sample.video}: {len(out)} answer spans for {len(clip.sample.turns)} turns")
    return out


def paired(a: list[float], b: list[float]) -> tuple[float, float]:
    """Mean and standard error of ``a - b`` over paired values."""
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    mean = sum(diffs) / len(diffs)
    if len(diffs) < 2:
        return mean, float("nan")
    var = sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1)
    return mean, math.sqrt(var / len(diffs))


def summarise(rows: list[dict], key: str = "nll", reference: str = "full") -> dict:
    """Per kind: mean of ``rows[i][key]`` per variant and the paired difference ``reference``
    minus each other variant."""
    variants = list(rows[0][key])
    summary = {}
    for kind in sorted({r["kind"] for r in rows}):
        part = [r for r in rows if r["kind"] == kind]
        entry = {"turns": len(part), "mean_nll": {v: sum(r[key][v] for r in part) / len(part) for v in variants}}
        if reference in variants:
            entry["paired_minus"] = {v: paired([r[key][reference] for r in part], [r[key][v] for r in part])
                                     for v in variants if v != reference}
        summary[kind] = entry
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m research.rae_turn_likelihood",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--ablation", required=True, help="output folder of tvau_ros.train.rae_ablation")
    parser.add_argument("--test-dialogues", required=True, help="dialogue JSONL")
    parser.add_argument("--dataset", required=True, help="dataset root of the dialogues' videos")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--max-side", type=int, default=160)
    args = parser.parse_args(argv)
    answerers = load_ablation_answerers(args.ablation)
    if not answerers:
        parser.error(f"no trained variants under {args.ablation}")
    clips = load_dialogue_clips(args.test_dialogues, args.dataset, "ground_truth", args.num_frames, args.max_side)
    rows = []
    for clip in clips:
        per_variant = {name: turn_nll(answerer, clip) for name, answerer in answerers.items()}
        for k, turn in enumerate(clip.sample.turns):
            rows.append({"video": clip.sample.video, "kind": turn.kind,
                         "nll": {name: values[k][0] for name, values in per_variant.items()},
                         "nll_words": {name: values[k][1] for name, values in per_variant.items()}})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "turns.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)
    summary = {key: summarise(rows, key) for key in ("nll", "nll_words")}
    (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    for key, label in (("nll", "all tokens"), ("nll_words", "word tokens")):
        for kind, entry in summary[key].items():
            means = ", ".join(f"{v} {m:.3f}" for v, m in entry["mean_nll"].items())
            diffs = ", ".join(f"full - {v} {m:+.3f} +- {s:.3f}"
                              for v, (m, s) in entry.get("paired_minus", {}).items())
            print(f"{kind}, {label} ({entry['turns']} turns): {means}; {diffs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
