"""The pipeline's configuration: one YAML (``configs/pipeline_default.yaml``) deep-merged with a
user file and overrides, then typed into ``PipelineConfig`` (a wrong type or range is a
ValueError naming the key).

>>> cfg = load_pipeline_config(overrides={"regions": {"threshold": 0.6}})
>>> PipelineConfig.from_dict(cfg).regions.threshold
0.6
>>> load_pipeline_config(overrides={"regions": {"treshold": 0.6}})  # doctest: +NORMALIZE_WHITESPACE
Traceback (most recent call last):
...
ValueError: unknown pipeline option 'regions.treshold'; known: ['candidate_threshold', 'label', 'max_regions',
'merge_fraction', 'min_area_fraction', 'smoothing_sigma', 'threshold']
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from tvau_ros.core.config_values import typed_section, typed_value
from tvau_ros.core.ground_projection import CameraIntrinsics, GroundProjector, Pose
from tvau_ros.core.regions import RegionConfig
from tvau_ros.core.tracking import TrackerConfig


def default_config_path() -> Path:
    return Path(str(resources.files("tvau_ros") / "configs" / "pipeline_default.yaml"))


def _merge(base: dict, update: dict, where: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in (update or {}).items():
        if key not in out:
            raise ValueError(f"unknown pipeline option '{where}{key}'; known: {sorted(out)}")
        if isinstance(out[key], dict) and value is not None and not isinstance(value, dict):
            raise ValueError(f"pipeline option '{where}{key}' must be a mapping, got {value!r}")
        if isinstance(out[key], dict):  # an empty section (every key commented out) keeps the defaults
            out[key] = _merge(out[key], value or {}, f"{where}{key}.")
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_pipeline_config(path: str | Path | None = None, overrides: dict | None = None) -> dict:
    """Default config, deep-merged with the YAML file ``path`` and then ``overrides``.

    Unknown keys raise ValueError naming them (typos fail loudly).
    """
    import yaml

    with open(default_config_path(), encoding="utf-8") as file:
        cfg = yaml.safe_load(file)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"pipeline config not found: {path}")
        try:
            with open(path, encoding="utf-8") as file:
                user = yaml.safe_load(file) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"pipeline config {path} is not valid YAML: {exc}".splitlines()[0]) from None
        if not isinstance(user, dict):
            raise ValueError(f"pipeline config {path} must be a mapping, got {type(user).__name__}")
        cfg = _merge(cfg, user)
    return _merge(cfg, overrides or {})


@dataclass(frozen=True)
class GroundConfig:
    frame_id: str
    camera_pose: Pose
    ground_z: float = 0.0
    hfov_deg: float = 0.0
    max_range_m: float = 50.0

    def __post_init__(self):
        if not (0.0 <= self.hfov_deg < 180.0 and self.max_range_m > 0):
            raise ValueError(f"pipeline options 'ground.hfov_deg' must be in [0, 180) and 'ground.max_range_m' > 0, "
                             f"got {self.hfov_deg} and {self.max_range_m}")

    def projector(self, camera: CameraIntrinsics | None = None,
                  source_size: tuple[int, int] | None = None) -> GroundProjector | None:
        """Projector from CameraInfo intrinsics, else from ``hfov_deg`` at ``source_size``."""
        if camera is None:
            if not self.hfov_deg or source_size is None:
                return None
            camera = CameraIntrinsics.from_hfov(source_size[1], source_size[0], self.hfov_deg)
        return GroundProjector(camera, self.camera_pose, self.frame_id, self.ground_z, self.max_range_m)


@dataclass(frozen=True)
class PipelineConfig:
    clip_length: int = 0           # 0 = the engine's
    stride: int = 1
    max_side: int = 640
    reset_after_backward_jump_s: float = 2.0
    reset_after_forward_jump_s: float = 10.0
    regions: RegionConfig = field(default_factory=RegionConfig)
    tracking: TrackerConfig = field(default_factory=TrackerConfig)
    evidence_max_items: int = 64
    evidence_max_bytes: int = 256 * 1024 * 1024
    ground: GroundConfig | None = None

    @classmethod
    def from_dict(cls, cfg: dict) -> PipelineConfig:
        """From a dict as returned by ``load_pipeline_config``; a value of the wrong type or out
        of range is a ValueError naming its key."""
        def number(key: str, kind: str, minimum: float, value: object = None) -> int | float:
            section, name = key.split(".")
            value = typed_value(cfg[section][name] if value is None else value, kind, key)
            if not value >= minimum:
                raise ValueError(f"pipeline option '{key}' must be >= {minimum}, got {value}")
            return value

        ground = typed_section(GroundConfig, {**{k: v for k, v in cfg["ground"].items() if k != "enabled"},
                                              "hfov_deg": cfg["ground"].get("hfov_deg") or 0.0}, "ground")
        enabled = typed_value(cfg["ground"].get("enabled", True), "bool", "ground.enabled")
        try:
            pose = Pose.from_list(ground["camera_pose"]) if enabled else None
        except (TypeError, ValueError) as exc:
            raise ValueError(f"pipeline option 'ground.camera_pose': {exc}") from None
        return cls(
            clip_length=number("clip.length", "int", 0, cfg["clip"]["length"] or 0),
            stride=number("clip.stride", "int", 1),
            max_side=number("input.max_side", "int", 0, cfg["input"]["max_side"] or 0),
            reset_after_backward_jump_s=number("stamps.reset_after_backward_jump_s", "float", 0.0),
            reset_after_forward_jump_s=number("stamps.reset_after_forward_jump_s", "float", 0.0),
            regions=RegionConfig(**typed_section(RegionConfig, cfg["regions"], "regions")),
            tracking=TrackerConfig(**typed_section(TrackerConfig, cfg["tracking"], "tracking")),
            evidence_max_items=number("evidence.max_items", "int", 1),
            evidence_max_bytes=number("evidence.max_bytes", "int", 1),
            ground=(GroundConfig(camera_pose=pose, **{k: v for k, v in ground.items() if k != "camera_pose"})
                    if enabled else None),
        )


