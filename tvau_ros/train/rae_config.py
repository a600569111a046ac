"""Training configuration (YAML) for ``tvau train rae`` (the paper's stage 2)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tvau_ros.core.config_values import dataclass_from_dict
from tvau_ros.core.lvlm.answerer import HEATMAP_MODES, AnswererSettings, LoraSettings
from tvau_ros.core.lvlm.video import VideoSettings
from tvau_ros.core.rae import RAEConfig

TRAINABLE = ("lora", "language_model")
MODEL_KEYS = {"model_path", "shape", "text", "vision", "dtype", "trainable", "compact_vocab"}


@dataclass(frozen=True)
class RaeTrainConfig:
    """Every field is a key of the YAML file.

    ``model``: ``model_path`` (a local Qwen2.5-VL folder; frozen, LoRA trained) or, without one,
    ``shape`` (``tiny``) with ``text`` / ``vision`` overrides: a random-weight model built
    here (``trainable: language_model`` trains its whole LLM, the vision tower stays frozen at its
    random init; ``compact_vocab`` keeps only the Qwen token ids
    of the training dialogues). ``dtype``: auto | bfloat16 | float16 | float32.
    """

    dataset: str = "data/default"
    train_dialogues: str = "data/default/ann_train.jsonl"
    train_dataset: str | None = None                  # root of train_dialogues' videos (default: dataset)
    val_dialogues: str | None = "data/default/ann_validation.jsonl"
    out_dir: str = "outputs/rae"
    model: dict = field(default_factory=lambda: {"model_path": None, "trainable": "lora"})
    lora: dict = field(default_factory=dict)          # LoraSettings fields
    rae: dict = field(default_factory=dict)           # RAEConfig fields
    video: dict = field(default_factory=dict)         # VideoSettings fields (pixel bounds)
    heatmap_mode: str = "rae"                         # rae | none (w/o AHD) | overlay (w/o RAE)
    heatmap_source: str = "ground_truth"              # ground_truth | none
    num_frames: int = 16
    max_side: int | None = None                       # shrink stored frames (memory), pixels
    answer_choice: str = "first"                      # first | random reference per turn
    epochs: int = 3
    batch_size: int = 2
    lr: float = 2e-4
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    seed: int = 0
    limit: int | None = None                          # first N dialogues only (smoke runs)

    @property
    def train_root(self) -> str:
        """Where the training dialogues' videos are: ``train_dataset``, else ``dataset``."""
        return self.train_dataset or self.dataset

    def __post_init__(self) -> None:
        self._check_types()
        unknown = sorted(set(self.model) - MODEL_KEYS)
        if unknown:
            raise ValueError(f"unknown model setting(s) {unknown}; known: {sorted(MODEL_KEYS)}")
        if self.model.get("trainable", "lora") not in TRAINABLE:
            raise ValueError(f"model.trainable must be one of {TRAINABLE}, got {self.model.get('trainable')!r}")
        if not self.model.get("model_path") and not self.model.get("shape"):
            raise ValueError("model needs a model_path (a local Qwen2.5-VL folder; or pass --model-path) "
                             "or a shape (tiny)")
        if self.heatmap_mode not in HEATMAP_MODES:
            raise ValueError(f"heatmap_mode must be one of {HEATMAP_MODES}, got {self.heatmap_mode!r}")
        if self.heatmap_source not in ("ground_truth", "none"):
            raise ValueError(f"heatmap_source must be ground_truth or none, got {self.heatmap_source!r}")
        if self.answer_choice not in ("first", "random"):
            raise ValueError(f"answer_choice must be first or random, got {self.answer_choice!r}")
        self.settings()  # checks rae / video / lora sections
        LoraSettings(**self.lora)

    def _check_types(self) -> None:
        """Every key's type, before any data is loaded (a wrong one would surface hours later)."""
        def fail(name: str, what: str) -> None:
            raise ValueError(f"{name} must be {what}, got {getattr(self, name)!r}")

        for name in ("dataset", "train_dialogues", "out_dir", "heatmap_mode", "heatmap_source", "answer_choice"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                fail(name, "a non-empty string")
        for name in ("val_dialogues", "train_dataset"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                fail(name, "a path or null")
        for name in ("model", "lora", "rae", "video"):
            if not isinstance(getattr(self, name), dict):
                fail(name, "a mapping")
        def number(value: Any) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool)

        if not (number(self.lr) and self.lr > 0):
            fail("lr", "a positive number")
        if not (number(self.weight_decay) and self.weight_decay >= 0):
            fail("weight_decay", "a number >= 0")
        if not (number(self.grad_clip) and self.grad_clip >= 0):
            fail("grad_clip", "a number >= 0 (0: no clipping)")
        for name in ("num_frames", "epochs", "batch_size"):
            value = getattr(self, name)
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
                fail(name, "a positive integer")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            fail("seed", "an integer >= 0")
        for name in ("limit", "max_side"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                fail(name, "a positive integer or null")

    def settings(self) -> AnswererSettings:
        video = dataclass_from_dict(VideoSettings, dict(self.video), "video", "video")
        rae = None if self.heatmap_mode == "overlay" else RAEConfig.from_dict(self.rae, "rae")
        return AnswererSettings(heatmap_mode=self.heatmap_mode, rae=rae, video=video)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_rae_config(path: str | Path, overrides: dict[str, Any] | None = None,
                    model_path: str | None = None) -> RaeTrainConfig:
    """The YAML at ``path`` with top-level ``overrides`` (None values ignored) and, if given, the
    model folder ``model_path`` (``--model-path``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training config not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from None
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    if model_path:
        data["model"] = {**(data.get("model") or {}), "model_path": str(model_path)}
    return dataclass_from_dict(RaeTrainConfig, data, str(path), "training")
