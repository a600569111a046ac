"""Clip preprocessing: shapes, normalization, bad input errors; constant frames stay finite."""
import numpy as np
import pytest
import torch

from tvau_ros.core.ahd import AHDConfig, TorchAHDEngine
from tvau_ros.core.backbones import VisionTextBackbone
from tvau_ros.core.backbones.dinov2_minilm import DinoV2MiniLMBackbone
from tvau_ros.core.clip import aspect_input_size, preprocess_clip, resize_heatmap, validate_model_input

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def test_shape_and_normalization():
    frames = np.zeros((3, 48, 64, 3), np.uint8)
    frames[..., 0] = 255
    clip = preprocess_clip(frames, (28, 42), MEAN, STD)
    assert clip.shape == (3, 3, 28, 42) and clip.dtype == np.float32
    assert np.allclose(clip[:, 0], (1 - MEAN[0]) / STD[0]) and np.allclose(clip[:, 1], -MEAN[1] / STD[1])


def test_resize_keeps_spatial_layout():
    frames = np.zeros((1, 100, 200, 3), np.uint8)
    frames[:, :, 100:] = 200  # right half bright
    clip = preprocess_clip(frames, (14, 28), (0, 0, 0), (1, 1, 1))
    assert clip[0, 0, :, :13].max() < 0.1 and clip[0, 0, :, 15:].min() > 0.7


@pytest.mark.parametrize(
    "frames, message",
    [
        (np.zeros((2, 8, 8, 3), np.float32), "dtype uint8.*float32"),
        (np.full((2, 8, 8, 3), np.nan, np.float32), "dtype uint8.*float32"),
        (np.zeros((8, 8, 3), np.uint8), "shape \\(T, H, W, 3\\).*3 dims"),
        (np.zeros((2, 8, 8, 4), np.uint8), "3 channels.*got 4"),
        (np.zeros((2, 8, 8, 1), np.uint8), "3 channels.*got 1"),
        (np.zeros((0, 8, 8, 3), np.uint8), "T, H, W >= 1"),
        ([[1, 2, 3]], "numpy array.*list"),
    ],
)
def test_bad_frames_name_the_problem(frames, message):
    with pytest.raises(ValueError, match=message):
        preprocess_clip(frames, (28, 28), MEAN, STD)


def test_preprocessed_clip_checks():
    good = np.zeros((2, 3, 28, 28), np.float32)
    assert validate_model_input(good, (28, 28)) is good
    bad = good.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        validate_model_input(bad, (28, 28))
    with pytest.raises(ValueError, match="shape \\(T, 3, 28, 28\\)"):
        validate_model_input(np.zeros((2, 3, 14, 28), np.float32), (28, 28))
    with pytest.raises(ValueError, match="float32"):
        validate_model_input(good.astype(np.float64), (28, 28))


def test_size_helpers():
    assert aspect_input_size((480, 640), 168, 14) == (168, 224)
    assert aspect_input_size((1920, 1080), 224, 28) == (392, 224)
    assert resize_heatmap(np.ones((2, 14, 14), np.float32), (48, 64)).shape == (2, 48, 64)


def test_constant_frames_give_finite_heatmaps(tmp_path):
    backbone = DinoV2MiniLMBackbone(cache_dir=tmp_path)
    assert isinstance(backbone, VisionTextBackbone)
    config = AHDConfig(input_size=(56, 56), clip_len=2)
    engine = TorchAHDEngine.from_config(config, backbone=backbone, text_features=torch.randn(2, 384), seed=0)
    for value in (0, 128, 255):
        out = engine.infer(np.full((2, 60, 80, 3), value, np.uint8))
        assert out.heatmap.shape == (2, 60, 80) and out.class_maps.shape == (2, 2, 4, 4)
        assert np.isfinite(out.heatmap).all() and np.isfinite(out.class_maps).all()
        assert 0 <= out.heatmap.min() <= out.heatmap.max() <= 1
    with pytest.raises(ValueError, match="multiples of 14"):
        TorchAHDEngine(backbone, engine.head, AHDConfig(input_size=(50, 56)))
