"""Tests of research/rae_turn_likelihood.py: answer spans, paired differences, the summary, and
per-turn NLLs that add up to the model's own training loss."""
import math

import numpy as np
import pytest
import torch
from research.rae_turn_likelihood import answer_spans, paired, summarise, turn_nll

from tvau_ros.core.lvlm.dialogue_data import DialogueClip, sample_indices
from tvau_ros.data.annotation.dialogue import TargetAnnotation, build_dialogue
from tvau_ros.train.rae_config import RaeTrainConfig
from tvau_ros.train.rae_trainer import build_answerer, dialogue_texts


def test_answer_spans_are_the_labelled_runs():
    labels = torch.tensor([-100, -100, 5, 6, -100, 7, -100, -100, 8, 9, 10])
    assert answer_spans(labels) == [(2, 4), (5, 6), (8, 11)]
    assert answer_spans(torch.tensor([-100, -100])) == []


def test_paired_difference_and_summary():
    mean, se = paired([1.0, 2.0, 3.0], [0.5, 1.0, 2.5])
    assert mean == pytest.approx(2 / 3) and se == pytest.approx(math.sqrt(1 / 12 / 3))
    rows = [{"kind": "trajectory", "nll": {"w/o AHD": 1.0, "full": 0.5}},
            {"kind": "trajectory", "nll": {"w/o AHD": 0.8, "full": 0.6}},
            {"kind": "judgment", "nll": {"w/o AHD": 0.2, "full": 0.0}}]
    summary = summarise(rows)
    assert summary["trajectory"]["turns"] == 2
    assert summary["trajectory"]["mean_nll"] == {"w/o AHD": pytest.approx(0.9), "full": pytest.approx(0.55)}
    assert summary["trajectory"]["paired_minus"]["w/o AHD"][0] == pytest.approx(-0.35)
    assert math.isnan(summary["judgment"]["paired_minus"]["w/o AHD"][1])  # one turn: no standard error


def test_turn_nlls_weighted_by_length_give_the_training_loss():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (6, 48, 64, 3), dtype=np.uint8)
    heat = np.zeros((6, 12, 16), np.float32)
    heat[:, 4:8, 2:6] = 1.0
    target = TargetAnnotation(1, 1, 0, 5, "person", {"top_color": "red", "bottom_color": "blue", "size_class": "small"},
                              {"entry_side": "left", "exit_side": "inside", "entry_frame": 12, "exit_frame": 5,
                               "turns": [], "speed_states": [{"start": 0, "end": 5, "state": "running"}]})
    sample = build_dialogue("v0", "test", "S", 15.0, 6, 64, 48, [target])
    clip = DialogueClip(sample, frames, heat, sample_indices(6, 6), 15.0)
    cfg = RaeTrainConfig(model={"shape": "tiny", "trainable": "language_model", "compact_vocab": True,
                                "dtype": "float32"},
                         rae={"n_base": 2, "conv_channels": 4, "mlp_hidden": 8},
                         video={"min_pixels": 3136, "max_pixels": 4704}, num_frames=6)
    answerer = build_answerer(cfg, dialogue_texts([clip]))
    nll = turn_nll(answerer, clip)
    assert len(nll) == len(sample.turns) and all(n > 0 and w > 0 for n, w in nll)
    prepared = answerer.prepare_clip(clip.frames, clip.heatmaps, clip.fps)
    seq = answerer.sequence(prepared, clip.turns())
    lengths = [end - start for start, end in answer_spans(seq.labels)]
    with torch.no_grad():
        loss = float(answerer.loss([prepared], [seq]))
    assert sum(n * k for (n, _), k in zip(nll, lengths, strict=True)) / sum(lengths) == pytest.approx(loss, rel=1e-4)
