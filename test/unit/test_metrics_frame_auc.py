"""Frame-level micro/macro AUC: sklearn as reference plus hand-computed values."""
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tvau_ros.metrics import FrameScores, macro_auc, micro_auc, per_video_auc


def test_micro_auc_matches_sklearn_on_pooled_frames():
    rng = np.random.default_rng(0)
    videos = []
    for i, n in enumerate((30, 50, 20)):
        labels = (rng.random(n) < 0.4).astype(np.uint8)
        videos.append(FrameScores(f"v{i}", labels, rng.random(n) + 0.3 * labels))
    expected = roc_auc_score(np.concatenate([v.labels for v in videos]),
                             np.concatenate([v.scores for v in videos]))
    assert micro_auc(videos) == pytest.approx(100 * expected)


def test_macro_auc_hand_computed_with_single_class_video():
    # padded labels [0,0,0,1,1,1], scores [0,.1,.4,.35,.8,1]: 8 of 9 positive>negative pairs
    two_class = FrameScores("a", np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    # all-normal video: padded positive (score 1) beats 0, .2, .3 and ties 1.0 -> 3.5 / 4
    single = FrameScores("b", np.array([0, 0, 0]), np.array([0.2, 1.0, 0.3]))
    assert per_video_auc(two_class) == pytest.approx(100 * 8 / 9)
    assert per_video_auc(single) == pytest.approx(87.5)
    assert macro_auc([two_class, single]) == pytest.approx((100 * 8 / 9 + 87.5) / 2)


def test_macro_auc_equals_sklearn_on_padded_videos():
    rng = np.random.default_rng(1)
    videos = [FrameScores(f"v{i}", (rng.random(40) < p).astype(np.uint8), rng.random(40))
              for i, p in enumerate((0.0, 0.3, 1.0))]
    expected = np.mean([roc_auc_score(np.r_[0, v.labels, 1], np.r_[0.0, v.scores, 1.0]) for v in videos])
    assert macro_auc(videos) == pytest.approx(100 * expected)


def test_micro_auc_undefined_for_one_class():
    with pytest.raises(ValueError, match="every frame has label 0"):
        micro_auc([FrameScores("v", np.zeros(4, np.uint8), np.linspace(0, 1, 4))])


def test_macro_auc_rejects_scores_outside_unit_interval():
    with pytest.raises(ValueError, match="'v'.*\\[0, 1\\]"):
        macro_auc([FrameScores("v", np.array([0, 1]), np.array([0.2, 3.0]))])


@pytest.mark.parametrize("labels, scores, message", [
    ([0, 1], [0.2, np.nan], "score of frame 1 is nan"),
    ([0, 1, 1], [0.2, 0.3], "3 labels but 2 scores"),
    ([0, 2], [0.2, 0.3], "labels must be 0 or 1"),
    ([], [], "no frames"),
])
def test_frame_scores_reject_bad_input(labels, scores, message):
    with pytest.raises(ValueError, match=message):
        FrameScores("vid7", np.array(labels), np.array(scores))
