"""Dialogue evaluation: each answer becomes history for the next question; scores use the
project's BLEU-4 and Yes/No accuracy (a scripted answerer stands in for the model here)."""
import numpy as np
import pytest

from tvau_ros.core.engine import HeatmapResult
from tvau_ros.core.lvlm.dialogue_data import DialogueClip, engine_heatmaps, ground_truth_heatmaps, sample_indices
from tvau_ros.core.lvlm.evaluate import predict_dialogues, score_records
from tvau_ros.data.annotation.dialogue import TargetAnnotation, build_dialogue
from tvau_ros.data.dataset import VideoSample


def _clip(name, abnormal):
    targets = [TargetAnnotation(1, 1, 2, 8, "person", {"top_color": "red", "bottom_color": None, "size_class": "small"},
                                {"entry_side": "left", "exit_side": "right", "entry_frame": 2, "exit_frame": 8,
                                 "turns": [], "speed_states": [{"start": 2, "end": 8, "state": "walking"}]})
               ] if abnormal else []
    sample = build_dialogue(name, "test", "S", 15.0, 10, 8, 8, targets)
    return DialogueClip(sample, np.zeros((4, 8, 8, 3), np.uint8), np.zeros((4, 8, 8), np.float32), np.arange(4), 6.0)


class ScriptedAnswerer:
    """Says "Yes." to everything and repeats the reference of other turns; records the history."""

    vision_frozen = False

    def __init__(self):
        self.calls = []

    def prepare_clip(self, frames, heatmaps, fps):
        return {"frames": frames}

    def answer(self, clip, turns, max_new_tokens):
        self.calls.append(list(turns))
        question = turns[-1][0]
        if "anomaly" in question:
            return "Yes."
        return "The person enters from the left at frame 2, and exits on the right at frame 8."


def test_answers_are_fed_back_and_scored_per_kind():
    clips = [_clip("a", True), _clip("n", False)]
    answerer = ScriptedAnswerer()
    records = predict_dialogues(answerer, clips, max_new_tokens=16)
    assert [r["kind"] for r in records] == ["judgment", "appearance", "motion", "trajectory", "judgment"]
    assert answerer.calls[1][0] == (clips[0].turns()[0][0], "Yes.")            # the model's own answer as history
    assert answerer.calls[0][0][0].startswith("Frames 0 to 9 of the video. ")  # the frame note
    scores = score_records(records)
    assert scores["yes_no_accuracy"] == 50.0 and scores["balanced_accuracy"] == 50.0
    assert scores["trajectory_bleu4"] == pytest.approx(100.0) and scores["trajectory_turns"] == 1
    assert scores["target_bleu4"] < 20 and scores["dialogues"] == 2 and scores["abnormal"] == 1
    with pytest.raises(ValueError, match="no judgment turns"):
        score_records([r for r in records if r["kind"] != "judgment"])


def test_ground_truth_heatmaps_mark_every_abnormal_pixel_and_sampling_spans_the_video():
    masks = np.zeros((5, 4, 6), np.int32)
    masks[2, 1:3, 2:4] = 7
    video = VideoSample("v", "S", "test", 5, 4, 6, 15.0, np.zeros(5, np.uint8), [], None,
                        frame_reader=lambda a, b, c: np.zeros((b - a, 4, 6, 3), np.uint8),
                        mask_reader=lambda f: masks[f])
    heat = ground_truth_heatmaps(video, np.array([0, 2, 4]))
    assert heat.shape == (3, 4, 6) and heat.dtype == np.float32 and heat[1].sum() == 4 and heat[[0, 2]].sum() == 0
    assert sample_indices(200, 16)[[0, -1]].tolist() == [0, 199] and len(sample_indices(5, 16)) == 5


def test_engine_heatmaps_come_at_the_frames_size_one_per_sampled_frame():
    class HalfSizeEngine:  # a stand-in engine: heatmaps at half the input size; records its calls
        model_id, clip_length, calls = "half", 1, []

        def reset(self):
            self.calls.append("reset")

        def infer(self, clip, stamps_ns):
            self.calls.append(list(stamps_ns))
            t, h, w = clip.shape[:3]
            return HeatmapResult(heatmap=np.full((t, h // 2, w // 2), 0.25, np.float32))

    class Video:
        fps = 10.0

        def read_frames(self, start, end):
            return np.zeros((end - start, 24, 32, 3), np.uint8)

    engine = HalfSizeEngine()
    heat = engine_heatmaps(engine)(Video(), np.array([0, 3, 7]))
    assert heat.shape == (3, 24, 32) and heat.dtype == np.float32 and np.allclose(heat, 0.25)
    assert engine.calls == ["reset", [0, 300_000_000, 700_000_000]]


def test_engine_heatmaps_run_the_default_behaviour_engine():
    from tvau_ros.core.behaviour.engine import BehaviourConfig, BehaviourEngine
    from tvau_ros.core.behaviour.scene_model import SceneModel

    class Video:
        fps = 15.0

        def read_frames(self, start, end):
            return np.full((end - start, 48, 64, 3), 90, np.uint8)

    heat = engine_heatmaps(BehaviourEngine(BehaviourConfig(), SceneModel.empty()))(Video(), np.arange(0, 30, 2))
    assert heat.shape == (15, 48, 64) and float(heat.max()) <= 1.0
