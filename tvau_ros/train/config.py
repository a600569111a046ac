"""Training configuration (YAML) for ``tvau train ahd``."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REGIMES = ("fine_tuned", "one_shot")


@dataclass(frozen=True)
class TrainConfig:
    """Every field is a key of the YAML file; ``model`` holds the AHDConfig fields."""

    dataset: str = "data/default"          # dataset root (UBnormal or ShanghaiTech layout)
    cache_dir: str = "cache/features"      # encoder feature cache
    out_dir: str = "outputs/ahd"           # checkpoints, logs
    regime: str = "fine_tuned"             # fine_tuned | one_shot
    model: dict = field(default_factory=lambda: {"backbone": "dinov2_minilm"})
    encoder_init: str = "pretrained"       # pretrained | random (the "what pretraining buys" baseline)
    pairs_per_video: int = 12              # (t-1, t) frame pairs cached per video
    abnormal_pair_fraction: float = 0.5    # of an abnormal video's pairs, the share drawn from abnormal frames
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    target_min_fraction: float = 0.05      # a patch cell is abnormal when this much of it is
    focal_gamma: float = 2.0
    focal_alpha: float = 0.75
    dice_weight: float = 1.0
    frame_weight: float = 0.0              # weight of the frame-maximum BCE term (0: off)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.regime not in REGIMES:
            raise ValueError(f"regime must be one of {REGIMES}, got {self.regime!r}")
        if self.encoder_init not in ("pretrained", "random"):
            raise ValueError(f"encoder_init must be 'pretrained' or 'random', got {self.encoder_init!r}")
        for name in ("pairs_per_video", "epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if not 0.0 <= self.target_min_fraction < 1.0:
            raise ValueError(f"target_min_fraction must be in [0, 1), got {self.target_min_fraction}")
        if not 0.0 <= self.abnormal_pair_fraction <= 1.0:
            raise ValueError(f"abnormal_pair_fraction must be in [0, 1], got {self.abnormal_pair_fraction}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_train_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training config not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from exc
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown training setting(s) {unknown}; known: {sorted(known)}")
    return TrainConfig(**data)
