"""AHD checkpoint round trip and clear errors for missing or corrupt files."""
import json

import pytest
import torch
from safetensors.torch import save_file

from tvau_ros.core.ahd import AHDConfig, AnomalyHeatmapDecoder
from tvau_ros.core.checkpoint import load_ahd_checkpoint, save_ahd_checkpoint
from tvau_ros.core.prompts import load_prompt_set

DIMS = {"num_layers": 2, "visual_dim": 16, "text_dim": 8, "patch_size": 14, "temporal_patch": 1}
CONFIG = AHDConfig(layers=(4, 12), mlp_hidden=12, logit_scale=7.0)


def make_head():
    torch.manual_seed(3)
    head = AnomalyHeatmapDecoder.from_config(CONFIG, DIMS, torch.randn(2, 8))
    with torch.no_grad():
        head.layer_weights.copy_(torch.tensor([0.3, 1.7]))
    return head


def test_round_trip(tmp_path):
    head = make_head()
    prompts = load_prompt_set("default")
    path = save_ahd_checkpoint(tmp_path / "ahd.safetensors", head, CONFIG, "tvau_ahd_test", prompts, {"trained": False})
    ckpt = load_ahd_checkpoint(path)
    assert ckpt.config == CONFIG and ckpt.dims == DIMS and ckpt.model_id == "tvau_ahd_test"
    assert ckpt.prompts["digest"] == prompts.digest() and ckpt.extra == {"trained": False}
    assert torch.equal(ckpt.text_features, head.text_features)
    restored = ckpt.build_head()
    tokens = torch.randn(2, 3, 2, 2, 16)
    assert torch.equal(restored(tokens).class_maps, head(tokens).class_maps)
    assert restored.logit_scale == 7.0


def test_missing_file_names_file_and_expected_keys(tmp_path):
    with pytest.raises(FileNotFoundError, match="AHD checkpoint not found: .*nope.safetensors .*'config', 'dims'"):
        load_ahd_checkpoint(tmp_path / "nope.safetensors")


def test_corrupt_file_names_file_and_expected_keys(tmp_path):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(ValueError, match="broken.safetensors: not a readable safetensors.*ahd.layer_weights"):
        load_ahd_checkpoint(path)
    truncated = tmp_path / "truncated.safetensors"
    save_ahd_checkpoint(truncated, make_head(), CONFIG)
    truncated.write_bytes(truncated.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated.safetensors"):
        load_ahd_checkpoint(truncated)


def test_missing_tensors_and_header_keys(tmp_path):
    head = make_head()
    state = {"ahd." + k: v for k, v in head.state_dict().items() if k != "text_features"}
    header = {"format": "tvau_ahd/1", "config": json.dumps(CONFIG.to_dict()), "dims": json.dumps(DIMS),
              "model_id": "x", "prompts": "{}", "extra": "{}"}
    path = tmp_path / "partial.safetensors"
    save_file(state, str(path), metadata=header)
    with pytest.raises(ValueError, match="partial.safetensors: .*missing \\['ahd.text_features'\\]"):
        load_ahd_checkpoint(path)
    del header["dims"]
    save_file(state, str(path), metadata=header)
    with pytest.raises(ValueError, match="header lacks \\['dims'\\]"):
        load_ahd_checkpoint(path)


def test_shape_mismatch_is_reported(tmp_path):
    path = save_ahd_checkpoint(tmp_path / "ahd.safetensors", make_head(), CONFIG)
    other = AHDConfig(layers=(4, 12), mlp_hidden=24)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        header, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    header["config"] = json.dumps(other.to_dict())
    save_file(tensors, str(path), metadata=header)
    with pytest.raises(ValueError, match="tensor shapes do not match"):
        load_ahd_checkpoint(path)
