"""Generator configuration: YAML files ``tvau_ros/configs/data_{name}.yaml`` or any path.

>>> cfg = load_generator_config("smoke")
>>> cfg.name, sorted(cfg.splits)
('smoke', ['test', 'train', 'validation'])
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


class ConfigError(ValueError):
    """A bad generator config; the message names the file and key."""


@dataclass
class SplitConfig:
    videos: int
    abnormal_fraction: float
    anomaly_types: list[str]


@dataclass
class EffectsConfig:
    noise_sigma: tuple[float, float] = (1.0, 5.0)
    jpeg_probability: float = 0.5
    jpeg_quality: tuple[int, int] = (30, 85)
    blur_probability: float = 0.2
    fog_probability: float = 0.15
    lighting_gain: tuple[float, float] = (0.65, 1.2)
    lighting_drift: float = 0.12
    cloud_probability: float = 0.35


@dataclass
class GeneratorConfig:
    name: str
    seed: int = 0
    width: int = 320
    height: int = 240
    fps: float = 15.0
    frames: tuple[int, int] = (120, 200)
    scenes: int = 28
    pedestrians: tuple[int, int] = (3, 15)
    subtle_fraction: float = 0.35
    second_target_fraction: float = 0.2
    shanghaitech_splits: list[str] = field(default_factory=lambda: ["test"])
    splits: dict[str, SplitConfig] = field(default_factory=dict)
    effects: EffectsConfig = field(default_factory=EffectsConfig)
    source: str = ""


def _pair(value: object, key: str, source: str, kind: type = float) -> tuple:
    if not (isinstance(value, (list, tuple)) and len(value) == 2):
        raise ConfigError(f"{source}: {key} must be a [min, max] pair, got {value!r}")
    lo, hi = kind(value[0]), kind(value[1])
    if lo > hi:
        raise ConfigError(f"{source}: {key} has min {lo} > max {hi}")
    return lo, hi


def _check_keys(data: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def config_from_dict(data: dict, source: str = "<dict>") -> GeneratorConfig:
    """Validate a parsed YAML mapping into a :class:`GeneratorConfig`."""
    from tvau_ros.data.synthetic.anomalies import ANOMALY_TYPES

    if not isinstance(data, dict):
        raise ConfigError(f"{source}: top level must be a mapping")
    top = {f.name for f in fields(GeneratorConfig)} - {"source"}
    _check_keys(data, top, source)
    if "name" not in data:
        raise ConfigError(f"{source}: missing key 'name'")
    cfg = GeneratorConfig(name=str(data["name"]), source=source)
    for key in ("seed", "width", "height", "scenes"):
        if key in data:
            setattr(cfg, key, int(data[key]))
    for key in ("fps", "subtle_fraction", "second_target_fraction"):
        if key in data:
            setattr(cfg, key, float(data[key]))
    if "frames" in data:
        cfg.frames = _pair(data["frames"], "frames", source, int)
    if "pedestrians" in data:
        cfg.pedestrians = _pair(data["pedestrians"], "pedestrians", source, int)
    if "shanghaitech_splits" in data:
        cfg.shanghaitech_splits = [str(s) for s in data["shanghaitech_splits"]]
    if cfg.width < 64 or cfg.height < 48:
        raise ConfigError(f"{source}: width x height {cfg.width}x{cfg.height} too small (min 64x48)")
    if cfg.frames[0] < 16:
        raise ConfigError(f"{source}: frames min {cfg.frames[0]} too small (min 16)")
    if cfg.scenes < 1:
        raise ConfigError(f"{source}: scenes must be >= 1")
    eff = data.get("effects", {}) or {}
    _check_keys(eff, {f.name for f in fields(EffectsConfig)}, f"{source}: effects")
    for f in fields(EffectsConfig):
        if f.name in eff:
            val = eff[f.name]
            setattr(cfg.effects, f.name, _pair(val, f"effects.{f.name}", source)
                    if isinstance(f.default, tuple) else float(val))
    splits = data.get("splits")
    if not isinstance(splits, dict) or not splits:
        raise ConfigError(f"{source}: 'splits' must map train/validation/test to settings")
    _check_keys(splits, {"train", "validation", "test"}, f"{source}: splits")
    seen: dict[str, str] = {}
    for split, sd in splits.items():
        _check_keys(sd, {"videos", "abnormal_fraction", "anomaly_types"}, f"{source}: splits.{split}")
        types = [str(t) for t in sd.get("anomaly_types", [])]
        for t in types:
            if t not in ANOMALY_TYPES:
                raise ConfigError(f"{source}: splits.{split}: unknown anomaly type {t!r}; "
                                  f"known: {', '.join(sorted(ANOMALY_TYPES))}")
            if t in seen:
                raise ConfigError(f"{source}: anomaly type {t!r} is in both {seen[t]} and {split}; "
                                  f"splits must have disjoint types (open set)")
            seen[t] = split
        sc = SplitConfig(int(sd.get("videos", 0)), float(sd.get("abnormal_fraction", 0.5)), types)
        if sc.videos < 0 or not 0 <= sc.abnormal_fraction <= 1:
            raise ConfigError(f"{source}: splits.{split}: videos must be >= 0 and abnormal_fraction in [0, 1]")
        if sc.abnormal_fraction > 0 and sc.videos and not types:
            raise ConfigError(f"{source}: splits.{split}: abnormal_fraction > 0 needs anomaly_types")
        cfg.splits[split] = sc
    return cfg


def available_configs() -> list[str]:
    return sorted(p.stem[len("data_"):] for p in CONFIG_DIR.glob("data_*.yaml"))


def load_generator_config(name_or_path: str) -> GeneratorConfig:
    """Load a config by packaged name (``default``, ``smoke``) or by YAML path."""
    path = Path(name_or_path)
    if not path.is_file():
        packaged = CONFIG_DIR / f"data_{name_or_path}.yaml"
        if not packaged.is_file():
            raise ConfigError(f"config {name_or_path!r} is neither a file nor a packaged config "
                              f"(available: {', '.join(available_configs())})")
        path = packaged
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from None
    return config_from_dict(data, str(path))
