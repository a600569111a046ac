"""Text metrics of the dialogue evaluation: BLEU-4 and Yes/No (balanced) accuracy, in percent.

BLEU-4 is sacrebleu's sentence BLEU, ``BP * exp(1/4 * sum_n log p_n)`` for n = 1..4, of each
answer against each of its references separately; the best-matching (highest) one counts,
and the mean over answers is reported. Settings (``BleuSettings``) and why: docs/metrics.md.

>>> round(bleu4_best_reference("The cat sat on the mat", ["a dog", "the cat sat on a mat"]), 2)
53.73
>>> yes_no_accuracy(["Yes, there is.", "no"], [True, True]), parse_yes_no("No.")
(50.0, False)
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sacrebleu.metrics import BLEU


@dataclass(frozen=True)
class BleuSettings:
    """sacrebleu options; the defaults are sacrebleu's sentence-level defaults plus lowercasing."""

    tokenize: str = "13a"
    lowercase: bool = True
    smooth_method: str = "exp"
    effective_order: bool = True


@dataclass(frozen=True)
class BleuResult:
    mean: float            # percent
    std: float             # population std over answers, percent
    scores: tuple[float, ...]


def _normalize(text: str) -> str:
    """Minimal normalization: collapse whitespace (case is handled by ``lowercase``)."""
    return " ".join(text.split())


def _bleu(settings: BleuSettings) -> BLEU:
    from sacrebleu.metrics import BLEU

    return BLEU(tokenize=settings.tokenize, lowercase=settings.lowercase,
                smooth_method=settings.smooth_method, effective_order=settings.effective_order)


def bleu4_best_reference(hypothesis: str, references: Sequence[str],
                         settings: BleuSettings = BleuSettings()) -> float:
    """Highest sentence BLEU-4 (percent) of ``hypothesis`` against any single reference."""
    if isinstance(references, str) or not references:
        raise ValueError("references must be a non-empty list of strings")
    bleu = _bleu(settings)
    hyp = _normalize(hypothesis)
    return max(bleu.sentence_score(hyp, [_normalize(ref)]).score for ref in references)


def mean_bleu4(hypotheses: Sequence[str], references: Sequence[Sequence[str]],
               settings: BleuSettings = BleuSettings()) -> BleuResult:
    """Mean and std of ``bleu4_best_reference`` over paired answers and reference lists."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} answers but {len(references)} reference lists")
    if not hypotheses:
        raise ValueError("BLEU-4: no answers")
    scores = [bleu4_best_reference(h, r, settings) for h, r in zip(hypotheses, references, strict=True)]
    return BleuResult(float(np.mean(scores)), float(np.std(scores)), tuple(scores))


_FIRST_WORD = re.compile(r"[a-z]+")


def parse_yes_no(answer: str | bool) -> bool | None:
    """True for an answer whose first word is "yes", False for "no", None otherwise."""
    if isinstance(answer, (bool, np.bool_)):
        return bool(answer)
    match = _FIRST_WORD.search(answer.lower())
    if match is None or match.group() not in ("yes", "no"):
        return None
    return match.group() == "yes"


def _paired(predictions: Sequence[str | bool], labels: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    if len(predictions) != len(labels):
        raise ValueError(f"{len(predictions)} answers but {len(labels)} labels")
    if not labels:
        raise ValueError("accuracy: no answers")
    parsed = [parse_yes_no(p) for p in predictions]
    truth = np.array([bool(x) for x in labels])
    # An answer that is neither yes nor no is wrong whatever the truth is.
    correct = np.array([p is not None and p == t for p, t in zip(parsed, truth, strict=True)])
    return truth, correct


def count_unparsed(predictions: Sequence[str | bool]) -> int:
    """How many answers are neither yes nor no (they count as wrong)."""
    return sum(parse_yes_no(p) is None for p in predictions)


def yes_no_accuracy(predictions: Sequence[str | bool], labels: Sequence[bool]) -> float:
    """Percent of answers whose yes/no matches the label (True = abnormal / "yes")."""
    _, correct = _paired(predictions, labels)
    return 100.0 * float(correct.mean())


def balanced_accuracy(predictions: Sequence[str | bool], labels: Sequence[bool]) -> float:
    """Percent ``(TPR + TNR) / 2``; with only one class in ``labels``, that class's recall
    (as sklearn's ``balanced_accuracy_score``, which averages over the classes present)."""
    truth, correct = _paired(predictions, labels)
    recalls = [correct[truth == cls].mean() for cls in (True, False) if (truth == cls).any()]
    return 100.0 * float(np.mean(recalls))
