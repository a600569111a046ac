"""The classical motion engine: fast movers score high, slow movers and static scenes low."""
import numpy as np
import pytest

from tvau_ros.core.engine import HeatmapEngine
from tvau_ros.core.motion_baseline import MotionBaselineConfig, MotionBaselineEngine
from tvau_ros.io.sample_clip import render_sample_clip


def moving_block(speed_px, t=5, size=(120, 160)):
    rng = np.random.default_rng(1)
    clip = np.repeat(rng.integers(90, 140, size=(1, *size, 3), dtype=np.uint8), t, axis=0)
    for i in range(t):
        x = 10 + int(speed_px * i)
        clip[i, 40:80, x:x + 16] = (230, 40, 40)
    return clip


def test_is_a_heatmap_engine_with_the_configured_clip_length():
    engine = MotionBaselineEngine(MotionBaselineConfig(clip_length=6))
    assert isinstance(engine, HeatmapEngine) and engine.clip_length == 6 and engine.model_id


def test_fast_block_scores_high_slow_block_low_static_zero():
    engine = MotionBaselineEngine(MotionBaselineConfig(clip_length=5))
    fast = engine.infer(moving_block(8)).heatmap
    slow = engine.infer(moving_block(0.5)).heatmap
    static = engine.infer(moving_block(0)).heatmap
    assert fast.shape == (5, 120, 160) and fast.dtype == np.float32
    assert fast[-1, 40:80, 42:58].max() > 0.8          # where the fast block is in the last frame
    assert fast[-1, :, 100:].max() < 0.05             # far from it
    assert slow.max() < 0.3 and static.max() == 0.0
    for hm in (fast, slow, static):
        assert hm.min() >= 0.0 and hm.max() <= 1.0


def test_runner_in_the_sample_clip_is_found_and_walkers_are_not():
    frames, masks = render_sample_clip(frames=50, anomaly_start=20)
    engine = MotionBaselineEngine()
    inside, outside = [], []
    for i in range(30, 45):
        hm = engine.infer(frames[i - 4:i + 1]).heatmap[-1]
        inside.append(hm[masks[i] > 0].max())
        far = np.ones_like(masks[i], bool)
        ys, xs = np.nonzero(masks[i])
        far[max(0, ys.min() - 15):ys.max() + 15, max(0, xs.min() - 25):xs.max() + 25] = False
        outside.append(hm[far].max())
    assert np.mean(np.array(inside) > 0.5) >= 0.8
    assert np.mean(np.array(outside) > 0.5) <= 0.1


def test_same_clip_same_heatmaps_whatever_came_before():
    clip = moving_block(6)
    first = MotionBaselineEngine().infer(clip).heatmap
    engine = MotionBaselineEngine()
    engine.infer(moving_block(3))
    np.testing.assert_array_equal(engine.infer(clip).heatmap, first)


@pytest.mark.parametrize("clip,match", [
    (np.zeros((5, 10, 10), np.uint8), "uint8 clip"),
    (np.zeros((1, 10, 10, 3), np.uint8), ">= 2"),
    (np.zeros((5, 10, 10, 3), np.float32), "uint8 clip"),
])
def test_bad_clips_raise_value_error(clip, match):
    with pytest.raises(ValueError, match=match):
        MotionBaselineEngine().infer(clip)


def test_config_from_dict_rejects_unknown_and_bad_values():
    assert MotionBaselineConfig.from_dict({"work_side": 96}).work_side == 96
    with pytest.raises(ValueError, match="speed_reff"):
        MotionBaselineConfig.from_dict({"speed_reff": 1})
    with pytest.raises(ValueError, match="clip_length"):
        MotionBaselineConfig(clip_length=1)
