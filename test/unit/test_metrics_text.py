"""BLEU-4 (sacrebleu, best reference) and Yes/No accuracy against hand-computed values."""
import math

import numpy as np
import pytest
import sacrebleu
from sklearn.metrics import balanced_accuracy_score

from tvau_ros.metrics import (
    BleuSettings,
    balanced_accuracy,
    bleu4_best_reference,
    mean_bleu4,
    parse_yes_no,
    yes_no_accuracy,
)
from tvau_ros.metrics.text import count_unparsed


def test_bleu4_hand_computed():
    # "the cat sat on the mat" vs "the cat sat on a mat": p1..p4 = 5/6, 3/5, 2/4, 1/3, BP = 1
    expected = 100 * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25
    assert bleu4_best_reference("the cat sat on the mat", ["the cat sat on a mat"]) == pytest.approx(expected)
    # all precisions 1, hypothesis 4 tokens vs reference 6: BP = exp(1 - 6/4)
    assert bleu4_best_reference("the cat sat on", ["the cat sat on the mat"]) == pytest.approx(
        100 * math.exp(-0.5))


def test_best_reference_is_the_highest_and_normalization_is_minimal():
    refs = ["A person in a red shirt runs to the left", "someone walks", "The man in red runs left."]
    hyp = "the  man in RED runs left."
    best = bleu4_best_reference(hyp, refs)
    assert best == pytest.approx(100.0)
    assert best == pytest.approx(max(
        sacrebleu.sentence_bleu(" ".join(hyp.split()), [r], lowercase=True).score for r in refs))


def test_matches_sacrebleu_sentence_bleu_defaults():
    hyp = "enters from the right then turns to the upper right"
    ref = "enters from right and turns upper right"
    assert bleu4_best_reference(hyp, [ref]) == pytest.approx(
        sacrebleu.sentence_bleu(hyp, [ref], lowercase=True).score)
    strict = BleuSettings(smooth_method="none", effective_order=False)
    assert bleu4_best_reference("red shirt", ["a red shirt"], strict) == 0.0   # no 3-/4-grams


def test_mean_bleu4_averages_per_answer_scores():
    result = mean_bleu4(["the cat sat on", "a dog"], [["the cat sat on the mat"], ["a cat"]])
    assert result.scores[0] == pytest.approx(100 * math.exp(-0.5))
    assert result.mean == pytest.approx(np.mean(result.scores))
    assert result.std == pytest.approx(np.std(result.scores))
    with pytest.raises(ValueError, match="2 answers but 1 reference lists"):
        mean_bleu4(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="non-empty list"):
        bleu4_best_reference("a", "a string, not a list")


def test_parse_yes_no():
    assert [parse_yes_no(a) for a in ("Yes.", " no, nothing", "YES", "Not sure", "", True)] == [
        True, False, True, None, None, True]


def test_accuracy_and_balanced_accuracy_against_sklearn():
    answers = ["yes", "Yes, a cyclist", "no", "No.", "no", "maybe", "yes"]
    labels = [True, True, True, False, False, False, False]
    # correct: T T F T T F(unparsed) F -> 4 / 7; TPR 2/3, TNR 2/4
    assert yes_no_accuracy(answers, labels) == pytest.approx(100 * 4 / 7)
    assert balanced_accuracy(answers, labels) == pytest.approx(100 * (2 / 3 + 2 / 4) / 2)
    # sklearn needs a class for every answer: an unparsed one is given the wrong class
    as_pred = [parse_yes_no(a) if parse_yes_no(a) is not None else (not t)
               for a, t in zip(answers, labels, strict=True)]
    assert balanced_accuracy(answers, labels) == pytest.approx(100 * balanced_accuracy_score(labels, as_pred))
    assert count_unparsed(answers) == 1


def test_balanced_accuracy_with_one_class_and_errors():
    assert balanced_accuracy(["yes", "no"], [True, True]) == 50.0
    with pytest.raises(ValueError, match="2 answers but 1 labels"):
        yes_no_accuracy(["yes", "no"], [True])
    with pytest.raises(ValueError, match="no answers"):
        balanced_accuracy([], [])
