"""Engines by name: the pipeline config's ``engine`` key -> a ``HeatmapEngine``.

``ENGINES`` maps each name to its builder, which reads its own config section; shipped
models are looked up by model card name in ``models_dirs()``.

>>> sorted(ENGINES)
['ahd', 'behaviour', 'motion_baseline']
>>> build_engine({"engine": "nope"})
Traceback (most recent call last):
...
tvau_ros.core.engine_registry.EngineLoadError: unknown engine 'nope'; choose one of ahd, behaviour, motion_baseline
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tvau_ros.core.config_values import typed_value
from tvau_ros.core.engine import HeatmapEngine

if TYPE_CHECKING:
    from tvau_ros.core.behaviour.person_detector import PersonDetector

CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".onnx", ".yaml", ".yml", ".json", ".ckpt")


class EngineLoadError(ValueError):
    """The configured engine cannot be built; the message names the engine and the reason."""


def models_dirs() -> list[Path]:
    """Where shipped models are looked up by name: $TVAU_MODELS_DIR, the installed package's
    share/tvau_ros/models (colcon), the source tree's models/ (pip -e)."""
    dirs = [Path(p) for p in os.environ.get("TVAU_MODELS_DIR", "").split(os.pathsep) if p]
    try:
        from ament_index_python.packages import get_package_share_directory

        dirs.append(Path(get_package_share_directory("tvau_ros")) / "models")
    except Exception:  # noqa: BLE001 - no ament index / package not installed with colcon
        pass
    dirs.append(Path(__file__).resolve().parents[2] / "models")
    return dirs


def shipped_model(name: str) -> Path:
    """``name`` (a model card name such as ``tvau_ahd_dinov2s_minilm``) -> its .safetensors."""
    for folder in models_dirs():
        candidate = folder / f"{name}.safetensors"
        if candidate.is_file():
            return candidate
    return models_dirs()[-1] / f"{name}.safetensors"


def _motion_baseline(cfg: dict) -> HeatmapEngine:
    """The classical baseline; ``clip.length``, when set, overrides its clip length."""
    from tvau_ros.core.motion_baseline import MotionBaselineConfig, MotionBaselineEngine

    options = dict(cfg.get("motion_baseline") or {})
    length = typed_value((cfg.get("clip") or {}).get("length") or 0, "int", "clip.length")
    if length:
        options["clip_length"] = length
    try:
        return MotionBaselineEngine(MotionBaselineConfig.from_dict(options))
    except (TypeError, ValueError) as exc:
        raise EngineLoadError(f"engine 'motion_baseline': {exc}") from None


def resolve_checkpoint(name_or_path: str) -> Path:
    """A model card name (``tvau_ahd_dinov2s_minilm``) -> its shipped file; a path stays a path."""
    looks_like_path = "/" in name_or_path or Path(name_or_path).suffix.lower() in CHECKPOINT_SUFFIXES
    return Path(name_or_path) if looks_like_path else shipped_model(name_or_path)


def _ahd(cfg: dict) -> HeatmapEngine:
    """The AHD from ``ahd.checkpoint`` (a path or a shipped model's name)."""
    ahd = cfg.get("ahd") or {}
    if not str(ahd.get("checkpoint") or ""):
        raise EngineLoadError("engine 'ahd' needs ahd.checkpoint (a trained AHD checkpoint)")
    checkpoint = resolve_checkpoint(str(ahd["checkpoint"]))
    if not checkpoint.exists():
        raise EngineLoadError(f"engine 'ahd': checkpoint not found: {checkpoint}")
    from tvau_ros.core.ahd_spec import load_ahd_engine
    try:
        return load_ahd_engine(checkpoint, str(ahd.get("backend", "torch")), str(ahd.get("device", "cpu")))
    except (OSError, ValueError, RuntimeError, KeyError, AssertionError) as exc:  # torch asserts on a missing CUDA
        raise EngineLoadError(f"engine 'ahd': cannot load {checkpoint} on {ahd.get('device', 'cpu')!r}: "
                              f"{exc}") from None


def scene_dir(cfg: dict) -> Path:
    """Where scene models are looked up by name: ``behaviour.scene_dir``, else models/scenes."""
    folder = str((cfg.get("behaviour") or {}).get("scene_dir") or "")
    if folder:
        return Path(folder)
    return next((d / "scenes" for d in models_dirs() if (d / "scenes").is_dir()), models_dirs()[-1] / "scenes")


def _behaviour(cfg: dict) -> HeatmapEngine:
    """The behaviour engine with the scene model named by ``scene`` (the generic model when
    ``scene`` is empty; when the scene's model cannot be loaded the engine still starts, on the
    generic model, and its status says why)."""
    from tvau_ros.core.behaviour.engine import BehaviourConfig, BehaviourEngine, load_scene_model
    from tvau_ros.core.behaviour.scene_model import SceneModel, SceneModelError

    section = cfg.get("behaviour") or {}
    try:
        options = BehaviourConfig.from_dict(section)
    except (TypeError, ValueError) as exc:
        raise EngineLoadError(f"engine 'behaviour': {exc}") from None
    generic_name = str(section.get("generic_model") or "tvau_scene_generic")
    try:  # "none": no fallback model (every object scores 0 without a scene model; for learning the first)
        generic = SceneModel.empty() if generic_name == "none" else SceneModel.load(resolve_checkpoint(generic_name))
    except SceneModelError as exc:
        raise EngineLoadError(f"engine 'behaviour': generic model: {exc}") from None
    scene, warning = None, ""
    name = str(cfg.get("scene") or "")
    if name:
        try:
            scene = load_scene_model(name, scene_dir(cfg))
        except SceneModelError as exc:
            warning = f"{exc}; using the generic model"
    detector, detector_warning = _person_detector(options.detector)
    return BehaviourEngine(options, generic, scene, warning, detector, detector_warning)


def _person_detector(name: str) -> tuple[PersonDetector | None, str]:
    """(detector, warning) for ``behaviour.detector``: a missing or unreadable file leaves the
    engine on foreground blobs only, and the warning (diagnostics) names the file and why."""
    if not name:
        return None, ""
    from tvau_ros.core.behaviour.person_detector import PersonDetector, PersonDetectorError

    path = resolve_checkpoint(name)
    try:
        return PersonDetector.load(path), ""
    except PersonDetectorError as exc:
        return None, f"{exc}; using foreground objects only"


ENGINES: dict[str, Callable[[dict], HeatmapEngine]] = {
    "motion_baseline": _motion_baseline, "ahd": _ahd, "behaviour": _behaviour}


def build_engine(cfg: dict) -> HeatmapEngine:
    """The engine named by ``cfg["engine"]`` (a dict from ``load_pipeline_config``).

    Raises EngineLoadError with the reason (missing checkpoint, unknown engine, ...).
    """
    name = cfg.get("engine", "motion_baseline")
    builder = ENGINES.get(name)
    if builder is None:
        raise EngineLoadError(f"unknown engine {name!r}; choose one of {', '.join(sorted(ENGINES))}")
    return builder(cfg)
