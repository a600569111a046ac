"""Region-aware Anomaly Encoder (RAE), paper §3.2.2, eq. 9-13: heatmaps -> anomaly prompts P_An.

Input   a category-wise heatmap sequence ``(T', 2, H', W')`` (or a batch ``(B, T', 2, H', W')``),
        channel 0 normal, channel 1 abnormal. Any heatmap source works: ``heatmap_channels``
        turns a ``(T, H, W)`` anomaly heatmap in [0, 1] (the AHD engine's output, eq. 8, or a
        ground-truth mask) into ``[1 - H, H]``, which is the softmax of eq. 7 (H~); for the AHD
        that is ``softmax(logit_scale * H_c)`` of its ``class_maps``. We feed H~ rather than the
        raw similarities H_c so that every source, ground truth included, has one scale.
Eq. 9   X[t] = H[t+1] - H[t], t = 1..T'-1                      -> (T'-1, 2, H', W')
Eq. 10  F = ConvBackbone(X): ``conv_layers`` 3x3 convolutions (padding 1, GELU), stride 1, so F
        keeps H' x W'                                          -> (T'-1, C_h, H', W')
Eq. 11  F_grid = AdaptiveAvgPool(F, 3 x 3); P_region = MLP_region(F_grid)  -> (T'-1, 9, D)
Eq. 12  P_global = MLP_global(MeanPool_{H', W'}(F))                        -> (T'-1, 1, D)
Eq. 13  P_An[t] = [P_base, P_region[t], P_global[t]], P_base (1, N_base, D) shared across time
                                                                           -> (T'-1, N_base + 10, D)
The LVLM reads P_An flattened in time order, ``(T'-1) * (N_base + 10)`` embeddings (eq. 14 puts
them between the visual tokens P_V and the dialogue P_Q). MLPs are Linear-GELU-Linear.

Defaults (``RAEConfig``): N_base 8, C_h 64, two conv layers, MLP width 1024, no biases. At
D = 3584 (Qwen2.5-VL-7B) that is 7.54 M parameters, as the paper's Table 3 implies (8324.67 M
with RAE vs 8317.13 M without). ``RAEConfig.parameter_count(D)`` computes it for any D.

>>> rae = RegionAwareAnomalyEncoder(RAEConfig(n_base=2, conv_channels=4, mlp_hidden=8), embed_dim=6)
>>> maps = heatmap_channels(torch.rand(5, 7, 9))           # T' = 5 heatmaps of 7 x 9
>>> tuple(rae(maps).shape), rae.num_tokens(5)              # (T'-1) * (2 + 9 + 1) prompts of D = 6
((48, 6), 48)
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

GRID = 3  # the paper's 3 x 3 regions
REGIONS = GRID * GRID


@dataclass(frozen=True)
class RAEConfig:
    """Shape settings of an RAE (stored next to its weights)."""

    n_base: int = 8            # N_base learnable base prompts
    conv_channels: int = 64    # C_h
    conv_layers: int = 2
    mlp_hidden: int = 1024     # hidden width of MLP_region and MLP_global
    bias: bool = False         # biases in the conv and MLP layers (off: no change in -> zero prompts out)

    def __post_init__(self) -> None:
        if not isinstance(self.bias, bool):
            raise ValueError(f"RAE bias must be true or false, got {self.bias!r}")
        for name in ("n_base", "conv_channels", "conv_layers", "mlp_hidden"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < (0 if name == "n_base" else 1):
                raise ValueError(f"RAE {name} must be a {'non-negative' if name == 'n_base' else 'positive'} integer, "
                                 f"got {value!r}")

    @property
    def tokens_per_step(self) -> int:
        """N_base + 9 + 1 prompts per temporal difference."""
        return self.n_base + REGIONS + 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, source: str = "rae") -> RAEConfig:
        from tvau_ros.core.config_values import dataclass_from_dict

        return dataclass_from_dict(cls, dict(data or {}), source, "RAE")

    def parameter_count(self, embed_dim: int) -> int:
        """Trainable parameters of an RAE with this config for an LLM of width ``embed_dim``.

        >>> RAEConfig().parameter_count(3584)
        7537792
        """
        c, h, b = self.conv_channels, self.mlp_hidden, int(self.bias)
        conv = (2 * 9 * c + b * c) + (self.conv_layers - 1) * (c * 9 * c + b * c)
        mlp = c * h + b * h + h * embed_dim + b * embed_dim
        return conv + 2 * mlp + self.n_base * embed_dim


def heatmap_channels(heatmaps: torch.Tensor) -> torch.Tensor:
    """``(..., T, H, W)`` anomaly probabilities in [0, 1] -> ``(..., T, 2, H, W)`` = [normal, abnormal].

    >>> heatmap_channels(torch.tensor([[[0.25]]])).flatten().tolist()
    [0.75, 0.25]
    """
    heatmaps = heatmaps.float().clamp(0.0, 1.0)
    return torch.stack([1.0 - heatmaps, heatmaps], dim=-3)


def _mlp(in_dim: int, hidden: int, out_dim: int, bias: bool) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden, bias=bias), nn.GELU(), nn.Linear(hidden, out_dim, bias=bias))


class RegionAwareAnomalyEncoder(nn.Module):
    """Eq. 9-13. ``forward(maps)`` returns P_An flattened to ``([B,] (T'-1)(N_base+10), D)``;
    ``prompts(maps)`` keeps the ``(B, T'-1, N_base+10, D)`` structure. ``init_std`` sets the
    scale of P_base and of the MLPs' output layers (the LVLM passes its token embeddings' std).
    Without biases (the default) the map X -> prompts is zero at X = 0: frames without change
    give all-zero region and global prompts, whatever training does."""

    def __init__(self, config: RAEConfig, embed_dim: int, init_std: float = 0.02):
        super().__init__()
        self.config, self.embed_dim = config, int(embed_dim)
        layers: list[nn.Module] = []
        channels = 2
        for _ in range(config.conv_layers):
            layers += [nn.Conv2d(channels, config.conv_channels, 3, padding=1, bias=config.bias), nn.GELU()]
            channels = config.conv_channels
        self.conv = nn.Sequential(*layers)
        self.mlp_region = _mlp(config.conv_channels, config.mlp_hidden, self.embed_dim, config.bias)
        self.mlp_global = _mlp(config.conv_channels, config.mlp_hidden, self.embed_dim, config.bias)
        self.base = nn.Parameter(torch.randn(1, config.n_base, self.embed_dim) * init_std)
        for mlp in (self.mlp_region, self.mlp_global):
            nn.init.normal_(mlp[-1].weight, std=init_std)
        # biases (if any) start at zero: a still heatmap (X = 0) starts as zero region / global
        # prompts, so what the LLM sees of them is signal, not a wiggle on a constant vector
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)) and module.bias is not None:
                nn.init.zeros_(module.bias)

    @torch.no_grad()
    def calibrate_(self, target_norm: float, grid: tuple[int, int] = (12, 16), steps: int = 8) -> float:
        """Scale the output layers of MLP_region and MLP_global so that, for a reference input (a
        one-cell blob crossing the grid), their prompts have the mean norm ``target_norm`` (the
        LLM's token embeddings'). Without it the first prompts are thousands of times smaller
        than ordinary tokens and the LLM needs long to notice them. Returns the applied factor."""
        height, width = grid
        blob = torch.zeros(steps, height, width)
        for t in range(steps):
            blob[t, height // 2, round(t * (width - 1) / (steps - 1))] = 1.0
        param = self.base
        prompts = self.prompts(heatmap_channels(blob)[None].to(param.device, param.dtype))[0, :, self.config.n_base:]
        norm = float(prompts.norm(dim=-1).mean())
        if not norm > 0:
            return 1.0
        factor = float(target_norm) / norm
        for mlp in (self.mlp_region, self.mlp_global):
            mlp[-1].weight.mul_(factor)
        return factor

    def num_tokens(self, steps: int) -> int:
        """Prompt embeddings produced for a sequence of ``steps`` heatmaps (T')."""
        if steps < 2:
            raise ValueError(f"RAE needs at least 2 heatmaps (eq. 9 takes differences), got {steps}")
        return (steps - 1) * self.config.tokens_per_step

    def prompts(self, maps: torch.Tensor) -> torch.Tensor:
        """``(B, T', 2, H', W')`` -> P_An ``(B, T'-1, N_base + 10, D)``."""
        if maps.ndim != 5 or maps.shape[2] != 2:
            raise ValueError(f"RAE input must be (B, T', 2, H', W') heatmaps, got shape {tuple(maps.shape)}")
        batch, steps = maps.shape[:2]
        self.num_tokens(steps)  # checks T' >= 2
        param = self.base
        diffs = (maps[:, 1:] - maps[:, :-1]).to(param.device, param.dtype)           # eq. 9
        feats = self.conv(diffs.flatten(0, 1))                                         # eq. 10
        grid = F.adaptive_avg_pool2d(feats, GRID).flatten(2).transpose(1, 2)           # (N, 9, C_h)
        region = self.mlp_region(grid)                                                 # eq. 11
        global_ = self.mlp_global(feats.mean(dim=(2, 3))).unsqueeze(1)                 # eq. 12
        base = self.base.expand(feats.shape[0], -1, -1)
        prompts = torch.cat([base, region, global_], dim=1)                            # eq. 13
        return prompts.unflatten(0, (batch, steps - 1))

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        single = maps.ndim == 4
        out = self.prompts(maps[None] if single else maps).flatten(1, 2)
        return out[0] if single else out


def resample_heatmaps(heatmaps: torch.Tensor, steps: int, size: tuple[int, int]) -> torch.Tensor:
    """``(T, H, W)`` -> ``(steps, h, w)``: frames split into ``steps`` consecutive equal groups
    (the last ones take the remainder) and averaged, then area-resized to ``size`` (the
    LVLM's patch grid), e.g. 16 frames -> 8 temporal patches of Qwen2.5-VL.

    >>> resample_heatmaps(torch.arange(4.0).reshape(4, 1, 1).expand(4, 2, 2), 2, (1, 1)).flatten().tolist()
    [0.5, 2.5]
    """
    if heatmaps.ndim != 3:
        raise ValueError(f"heatmaps must be (T, H, W), got shape {tuple(heatmaps.shape)}")
    frames = heatmaps.shape[0]
    if not 1 <= steps <= frames:
        raise ValueError(f"cannot resample {frames} heatmaps to {steps} steps")
    bounds = torch.linspace(0, frames, steps + 1).round().long().tolist()
    grouped = torch.stack([heatmaps[a:b].float().mean(0) for a, b in zip(bounds, bounds[1:], strict=False)])
    return F.adaptive_avg_pool2d(grouped[:, None], tuple(size))[:, 0]
