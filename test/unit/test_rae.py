"""RAE (paper eq. 9-13): shapes, the temporal difference, the grid and global branches, counts."""
import pytest
import torch
import torch.nn.functional as F

from tvau_ros.core.rae import RAEConfig, RegionAwareAnomalyEncoder, heatmap_channels, resample_heatmaps

SMALL = RAEConfig(n_base=3, conv_channels=4, conv_layers=2, mlp_hidden=8)


def _rae(config=SMALL, dim=6, seed=0):
    torch.manual_seed(seed)
    return RegionAwareAnomalyEncoder(config, embed_dim=dim)


def test_prompt_layout_is_base_then_nine_regions_then_global_per_step():
    rae = _rae()
    maps = heatmap_channels(torch.rand(2, 5, 9, 12))              # B = 2, T' = 5
    prompts = rae.prompts(maps)
    assert prompts.shape == (2, 4, 3 + 9 + 1, 6)                 # (B, T'-1, N_base + 10, D)
    assert torch.equal(prompts[:, :, :3], rae.base.expand(2, 4, 3, 6))  # P_base shared across time and batch
    flat = rae(maps)
    assert flat.shape == (2, 4 * 13, 6) and torch.equal(flat, prompts.flatten(1, 2))
    assert rae(maps[0]).shape == (4 * 13, 6) and rae.num_tokens(5) == 52


def test_branches_follow_eq_10_to_12_on_the_temporal_difference():
    rae = _rae()
    maps = heatmap_channels(torch.rand(1, 3, 6, 9))
    diff = maps[0, 1:] - maps[0, :-1]                            # eq. 9
    feats = rae.conv(diff)                                        # eq. 10, keeps H' x W'
    assert feats.shape == (2, 4, 6, 9)
    grid = F.adaptive_avg_pool2d(feats, 3).flatten(2).transpose(1, 2)
    region = rae.mlp_region(grid)                                 # eq. 11
    global_ = rae.mlp_global(feats.mean(dim=(2, 3)))              # eq. 12
    prompts = rae.prompts(maps)[0]
    assert torch.allclose(prompts[:, 3:12], region, atol=1e-6)
    assert torch.allclose(prompts[:, 12], global_, atol=1e-6)


def test_only_changes_between_heatmaps_matter():
    rae = _rae()
    static = heatmap_channels(torch.rand(1, 6, 7).expand(4, 6, 7))[None]
    blank = heatmap_channels(torch.zeros(1, 4, 6, 7))
    assert torch.allclose(rae(static), rae(blank))               # X = 0 either way (eq. 9)
    moving = torch.zeros(4, 6, 7)
    for t in range(4):
        moving[t, 2, t] = 1.0                                     # a blob walking left to right
    assert not torch.allclose(rae(heatmap_channels(moving)), rae(blank[0]))


def test_without_biases_no_change_gives_zero_region_and_global_prompts():
    rae = _rae()
    with torch.no_grad():
        for p in rae.parameters():
            p.add_(torch.randn_like(p))                            # whatever training made of the weights
    still = rae.prompts(heatmap_channels(torch.rand(1, 5, 6).expand(3, 5, 6))[None])[0]
    assert still[:, 3:].abs().max() == 0 and still[:, :3].abs().max() > 0
    biased = _rae(RAEConfig(n_base=3, conv_channels=4, mlp_hidden=8, bias=True))
    with torch.no_grad():
        for p in biased.parameters():
            p.add_(torch.randn_like(p))
    assert biased.prompts(heatmap_channels(torch.zeros(1, 3, 5, 6)))[0, :, 3:].abs().max() > 0


def test_calibration_brings_prompts_to_the_token_norm():
    rae = _rae(dim=32)
    factor = rae.calibrate_(2.0, grid=(12, 16))
    blob = torch.zeros(8, 12, 16)
    for t in range(8):
        blob[t, 6, round(t * 15 / 7)] = 1.0
    with torch.no_grad():
        prompts = rae.prompts(heatmap_channels(blob)[None])[0, :, 3:]
    assert factor > 1 and abs(float(prompts.norm(dim=-1).mean()) - 2.0) < 1e-3


def test_regions_see_where_the_change_is():
    rae = _rae()
    left, right = torch.zeros(2, 15, 15), torch.zeros(2, 15, 15)
    left[1, 7, 0], right[1, 7, 14] = 1.0, 1.0  # two 3x3 convs spread a change by 2 cells, within the middle row
    pl, pr = rae.prompts(heatmap_channels(left)[None])[0, 0], rae.prompts(heatmap_channels(right)[None])[0, 0]
    # region order is row-major: 3 = middle-left, 5 = middle-right
    assert not torch.allclose(pl[3 + 3], pr[3 + 3]) and not torch.allclose(pl[3 + 5], pr[3 + 5])
    assert torch.allclose(pl[3 + 0], pr[3 + 0])                  # the top-left region saw nothing in either


def test_parameter_count_formula_matches_the_module():
    for config, dim in ((SMALL, 6), (RAEConfig(), 64), (RAEConfig(n_base=0, conv_layers=3, bias=True), 10)):
        assert config.parameter_count(dim) == sum(p.numel() for p in _rae(config, dim).parameters())
    assert RAEConfig().parameter_count(3584) == 7_537_792       # Qwen2.5-VL-7B width; the paper implies 7.54 M
    assert RAEConfig().parameter_count(2048) == 4_379_776       # 3B
    assert RAEConfig(bias=True).parameter_count(3584) == 7_547_136


def test_gradients_reach_every_parameter():
    rae = _rae()
    moving = torch.rand(1, 4, 2, 6, 6)
    rae(moving).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in rae.parameters())


def test_init_std_sets_the_prompt_scale():
    big = RegionAwareAnomalyEncoder(RAEConfig(n_base=64), embed_dim=256, init_std=0.5)
    small = RegionAwareAnomalyEncoder(RAEConfig(n_base=64), embed_dim=256, init_std=0.01)
    assert 0.4 < float(big.base.detach().std()) < 0.6 and float(small.base.detach().std()) < 0.02


def test_bad_inputs_and_settings_are_clear_errors():
    rae = _rae()
    with pytest.raises(ValueError, match=r"RAE input must be \(B, T', 2, H', W'\)"):
        rae(torch.rand(1, 4, 3, 6, 6))
    with pytest.raises(ValueError, match="at least 2 heatmaps"):
        rae(torch.rand(1, 1, 2, 6, 6))
    with pytest.raises(ValueError, match="conv_channels must be a positive integer"):
        RAEConfig(conv_channels=0)
    with pytest.raises(ValueError, match=r"rae: unknown RAE setting\(s\) \['width'\]"):
        RAEConfig.from_dict({"width": 3})
    assert RAEConfig.from_dict(SMALL.to_dict()) == SMALL


def test_heatmap_channels_and_resampling():
    maps = heatmap_channels(torch.tensor([[[0.0, 1.5]]]))
    assert maps.shape == (1, 2, 1, 2) and maps[0, :, 0, 1].tolist() == [0.0, 1.0]   # clipped to [0, 1]
    seq = torch.arange(5.0)[:, None, None].expand(5, 4, 6)
    out = resample_heatmaps(seq, 2, (2, 3))
    assert out.shape == (2, 2, 3) and out[:, 0, 0].tolist() == [0.5, 3.0]             # groups [0, 1] and [2, 3, 4]
    with pytest.raises(ValueError, match="cannot resample 5 heatmaps to 6 steps"):
        resample_heatmaps(seq, 6, (2, 3))
