"""AHD head (eq. 5-8): shapes, softmax and range, learnable layer weights, text pooling, motion."""
import pytest
import torch
import torch.nn.functional as F

from tvau_ros.core.ahd import AHDConfig, AnomalyHeatmapDecoder, pool_text_features
from tvau_ros.core.ahd_spec import load_ahd_config
from tvau_ros.core.prompts import load_prompt_set


def make_head(motion=True, temporal_patch=1, layers=3, seed=0):
    torch.manual_seed(seed)
    return AnomalyHeatmapDecoder(layers, visual_dim=16, text_dim=8, text_features=torch.randn(2, 8),
                                 motion=motion, mlp_hidden=12, logit_scale=10.0, patch_size=14,
                                 temporal_patch=temporal_patch)


def test_shapes_and_heatmap_is_the_abnormal_softmax_channel():
    head = make_head()
    tokens = torch.randn(3, 4, 5, 6, 16)  # (L, T', H', W', D_v)
    out = head(tokens)
    assert out.class_maps.shape == (4, 2, 5, 6)
    assert out.heatmap.shape == (4, 70, 84)
    assert 0.0 <= out.heatmap.min() and out.heatmap.max() <= 1.0
    probs = torch.softmax(10.0 * out.class_maps, dim=1)
    assert torch.allclose(probs.sum(1), torch.ones(4, 5, 6))
    # at the token grid's own size no interpolation happens: the heatmap is eq. 8 itself
    assert torch.allclose(head.heatmap(out.class_maps, size=(5, 6)), probs[:, 1], atol=1e-6)
    assert torch.allclose(out.heatmap.mean(), probs[:, 1].mean(), atol=0.02)


def test_class_maps_follow_eq_5_and_6():
    head = make_head(motion=False)
    tokens = torch.randn(3, 2, 4, 4, 16)
    text = F.normalize(head.text_features, dim=-1)
    expected = torch.zeros(2, 2, 4, 4)
    for i, mlp in enumerate(head.projections):
        visual = mlp(tokens[i])
        cos = torch.stack([F.cosine_similarity(visual, text[c].expand_as(visual), dim=-1) for c in range(2)], dim=1)
        expected += head.layer_weights[i] * cos
    assert torch.allclose(head.class_maps(tokens), expected, atol=1e-5)


def test_batched_tokens_give_batched_outputs():
    head = make_head()
    tokens = torch.randn(2, 3, 4, 2, 3, 16)
    out = head(tokens)
    assert out.class_maps.shape == (2, 4, 2, 2, 3) and out.heatmap.shape == (2, 4, 28, 42)
    assert torch.allclose(out.class_maps[1], head(tokens[1]).class_maps, atol=1e-6)
    half = head(tokens.half()).class_maps  # tokens cached as float16 for training
    assert half.dtype == torch.float32 and torch.allclose(half, out.class_maps, atol=1e-2)


def test_temporal_patches_cover_two_frames_each():
    head = make_head(temporal_patch=2)
    out = head(torch.randn(3, 2, 2, 2, 16), frames=3, size=(20, 20))
    assert out.heatmap.shape == (3, 20, 20)
    assert torch.equal(out.heatmap[0], out.heatmap[1])
    assert not torch.equal(out.heatmap[1], out.heatmap[2])


def test_motion_token_is_frame_difference():
    head = make_head(motion=True)
    tokens = torch.randn(3, 4, 2, 2, 16)
    motion = head.motion_tokens(tokens)
    assert motion.shape == (3, 4, 2, 2, 32)
    assert torch.equal(motion[..., 0, :, :, 16:], torch.zeros(3, 2, 2, 16))
    assert torch.allclose(motion[..., 2, :, :, 16:], tokens[:, 2] - tokens[:, 1])
    static = tokens[:, :1].expand(3, 4, 2, 2, 16)
    maps = head.class_maps(static)
    assert torch.allclose(maps[0], maps[3], atol=1e-6)  # no motion, identical frames -> identical maps


def test_motion_stride_compares_with_k_steps_earlier_and_pairs_can_override_it():
    head = make_head(motion=True)
    head.motion_stride = 3
    tokens = torch.randn(3, 5, 2, 2, 16)
    motion = head.motion_tokens(tokens)
    assert torch.allclose(motion[..., 4, :, :, 16:], tokens[:, 4] - tokens[:, 1])
    assert torch.allclose(motion[..., 2, :, :, 16:], tokens[:, 2] - tokens[:, 0])  # t < k: the first step
    assert torch.equal(motion[..., 0, :, :, 16:], torch.zeros(3, 2, 2, 16))
    pair = tokens[:, [1, 4]]  # a cached (t - 3, t) pair side by side
    assert torch.allclose(head.class_maps(pair, motion_stride=1)[1], head.class_maps(tokens)[4], atol=1e-6)
    with pytest.raises(ValueError, match="motion_stride must be a positive integer"):
        AHDConfig(motion_stride=0)


def test_layer_weights_and_mlps_are_learnable():
    head = make_head()
    tokens = torch.randn(3, 2, 3, 3, 16)
    target = torch.zeros(2, 42, 42)
    target[:, :14] = 1.0
    before = head.layer_weights.detach().clone()
    optimizer = torch.optim.Adam(head.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = F.binary_cross_entropy(head(tokens).heatmap, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert head.layer_weights.grad is not None and not torch.equal(head.layer_weights.detach(), before)
    assert losses[-1] < 0.5 * losses[0]
    assert not any(p is head.text_features for p in head.parameters())  # text features stay fixed


def test_pooling_masks_padding_and_averages_over_prompts_and_tokens():
    feats = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [99.0, 99.0]], [[5.0, 4.0], [99.0, 99.0], [99.0, 99.0]]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    assert torch.allclose(pool_text_features(feats, mask), torch.tensor([3.0, 2.0]))
    with pytest.raises(ValueError, match="all tokens are padding"):
        pool_text_features(feats, torch.zeros(2, 3))


def test_bad_token_shape_and_text_shape_are_errors():
    head = make_head()
    with pytest.raises(ValueError, match="tokens must have shape"):
        head(torch.randn(2, 4, 5, 6, 16))  # 2 layers, head has 3
    with pytest.raises(ValueError, match="text features must have shape \\(2, 8\\)"):
        head.set_text_features(torch.randn(3, 8))


def test_config_loading_and_errors(tmp_path):
    config = load_ahd_config("default")
    assert config.backbone == "dinov2_minilm" and config.layers == (1, 4, 8, 12)
    assert AHDConfig.from_dict(config.to_dict()) == config
    bad = tmp_path / "bad.yaml"
    bad.write_text("backbone: dinov2_minilm\nlayer: [1, 2]\n")
    with pytest.raises(ValueError, match="bad.yaml: unknown AHD setting\\(s\\) \\['layer'\\]"):
        load_ahd_config(bad)
    bad.write_text("input_size: [224]\n")
    with pytest.raises(ValueError, match="input_size must be"):
        load_ahd_config(bad)
    with pytest.raises(FileNotFoundError, match="unknown AHD config 'nope'"):
        load_ahd_config("nope")
    assert load_ahd_config("qwen2_5_vl").layers == (1, 8, 16, 32)


def test_prompt_sets_are_compositional(tmp_path):
    prompts = load_prompt_set("default")
    assert len(prompts.normal) == 6 * 3 * 6 and len(prompts.abnormal) == 12 * 3 * 6
    assert "a cctv image of a street with a fight." in prompts.abnormal
    assert not set(prompts.normal) & set(prompts.abnormal)
    custom = tmp_path / "p.yaml"
    custom.write_text("states: {normal: ['{}'], abnormal: ['broken {}']}\ntemplates: ['a {}']\nobjects: [door]\n")
    assert load_prompt_set(custom).abnormal == ("a broken door",)
    custom.write_text("states: {normal: ['{}'], abnormal: ['broken']}\ntemplates: ['a {}']\n")
    with pytest.raises(ValueError, match="exactly one '\\{\\}' slot, got 'broken'"):
        load_prompt_set(custom)


def test_text_features_are_cached_per_backbone_and_prompts(tmp_path):
    from types import SimpleNamespace

    from tvau_ros.core.ahd import cached_text_features
    from tvau_ros.core.prompts import PromptSet

    calls = []

    def embed_text(prompts):
        calls.append(list(prompts))
        return torch.ones(len(prompts), 3, 4) * len(calls), torch.ones(len(prompts), 3)

    backbone = SimpleNamespace(name="fake", embed_text=embed_text)
    prompts = PromptSet(("a normal {}",), ("an abnormal {}",), "test")
    first = cached_text_features(backbone, prompts, tmp_path)
    again = cached_text_features(backbone, prompts, tmp_path)
    assert len(calls) == 2 and torch.equal(first, again)  # the second call read the file
    assert first.shape == (2, 4)
    other = cached_text_features(backbone, PromptSet(("x",), ("y",), "test"), tmp_path)
    assert len(calls) == 4 and not torch.equal(other, first)  # other prompts, other file
