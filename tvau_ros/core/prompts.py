"""Normal / abnormal prompt ensembles for the Anomaly Heatmap Decoder (paper eq. 2-3).

A prompt file composes every prompt as ``template.format(state.format(object))`` over all
(state, object, template) combinations, as WinCLIP's compositional prompt ensemble does.
The shipped ensemble is ``tvau_ros/prompts/ahd_default.yaml``.

>>> ps = load_prompt_set("default")
>>> ps.normal[0]
'a surveillance camera frame of a scene.'
>>> len(ps.normal), len(ps.abnormal)
(108, 216)
>>> compose_prompts(["broken {}"], ["car"], ["a photo of a {}."])
['a photo of a broken car.']
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

#: Order of the category axis of H_c everywhere in tvau_ros (index 1 is the heatmap, eq. 8).
CATEGORIES = ("normal", "abnormal")
NORMAL, ABNORMAL = 0, 1


@dataclass(frozen=True)
class PromptSet:
    """The prompts of both categories and where they came from."""

    normal: tuple[str, ...]
    abnormal: tuple[str, ...]
    source: str

    def by_category(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Prompt lists in ``CATEGORIES`` order."""
        return self.normal, self.abnormal

    def digest(self) -> str:
        """Short hash of the prompt text, stored in checkpoints to detect stale text features."""
        blob = json.dumps([list(self.normal), list(self.abnormal)]).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def to_dict(self) -> dict:
        return {"normal": list(self.normal), "abnormal": list(self.abnormal), "source": self.source}


def compose_prompts(states: list[str], objects: list[str], templates: list[str]) -> list[str]:
    """All ``template.format(state.format(obj))`` combinations, templates varying fastest."""
    return [t.format(s.format(o)) for s in states for o in objects for t in templates]


def _check_slots(items: object, key: str, source: str) -> list[str]:
    if not isinstance(items, list) or not items or not all(isinstance(s, str) for s in items):
        raise ValueError(f"{source}: '{key}' must be a non-empty list of strings")
    for s in items:
        if s.count("{}") != 1:
            raise ValueError(f"{source}: every entry of '{key}' needs exactly one '{{}}' slot, got {s!r}")
    return items


def _resolve(name_or_path: str | Path) -> tuple[str, str]:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"prompt file not found: {path}")
        return path.read_text(encoding="utf-8"), str(path)
    package_file = resources.files("tvau_ros") / "prompts" / f"ahd_{name_or_path}.yaml"
    if not package_file.is_file():
        raise FileNotFoundError(
            f"unknown prompt set {str(name_or_path)!r}: neither a .yaml file "
            f"nor tvau_ros/prompts/ahd_{name_or_path}.yaml"
        )
    return package_file.read_text(encoding="utf-8"), f"tvau_ros/prompts/ahd_{name_or_path}.yaml"


def load_prompt_set(name_or_path: str | Path = "default") -> PromptSet:
    """Load a prompt ensemble: a packaged name (``"default"``) or a YAML file path.

    The YAML holds ``states: {normal: [...], abnormal: [...]}``, ``templates: [...]`` and
    optionally ``objects: [...]`` (default ``["scene"]``); see ``ahd_default.yaml``.
    """
    text, source = _resolve(name_or_path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{source}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("states"), dict):
        raise ValueError(f"{source}: expected a mapping with 'states: {{normal: [...], abnormal: [...]}}'")
    unknown = set(data) - {"states", "templates", "objects"}
    if unknown:
        raise ValueError(f"{source}: unknown keys {sorted(unknown)}; allowed: states, templates, objects")
    templates = _check_slots(data.get("templates"), "templates", source)
    objects = data.get("objects", ["scene"])
    if not isinstance(objects, list) or not objects or not all(isinstance(o, str) and o for o in objects):
        raise ValueError(f"{source}: 'objects' must be a non-empty list of non-empty strings")
    per_category = {}
    for category in CATEGORIES:
        states = _check_slots(data["states"].get(category), f"states.{category}", source)
        per_category[category] = tuple(compose_prompts(states, objects, templates))
    return PromptSet(per_category["normal"], per_category["abnormal"], source)
