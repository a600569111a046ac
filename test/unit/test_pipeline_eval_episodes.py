"""episode_summary: false episodes on normal videos, counted per label, and targets with an episode."""
from types import SimpleNamespace

import numpy as np
import pytest

from tvau_ros.evaluation.pipeline_eval import VideoRun, episode_summary


def _video(name, abnormal, frames=600, fps=15.0):
    return SimpleNamespace(name=name, is_abnormal=abnormal, num_frames=frames, fps=fps)


def test_false_episodes_are_counted_per_label_without_the_seconds():
    normal = VideoRun(np.zeros(600, np.float32), episodes=[{"label": "fast"}, {"label": "stationary_45s"},
                                                         {"label": "stationary_12s"}])
    abnormal = VideoRun(np.zeros(600, np.float32), episodes=[{"label": "fast"}, {"label": "lying"}],
                        episode_boxes={1: [(10, (0.0, 0.0, 9.0, 19.0))], 2: [(10, (100.0, 100.0, 109.0, 119.0))]})
    truth = {"b": {1: {10: (0.0, 0.0, 9.0, 19.0)}}}
    summary = episode_summary([_video("a", False), _video("b", True)], {"a": normal, "b": abnormal}, truth)
    assert summary["false_episode_labels"] == {"stationary": 2, "fast": 1}   # normal videos only
    assert summary["false_episodes_per_min_normal"] == pytest.approx(3 / (600 / 15 / 60))
    assert summary["targets"] == summary["targets_with_episode"] == 1 and summary["episodes_off_target_abnormal"] == 1
