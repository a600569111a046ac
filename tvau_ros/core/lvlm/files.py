"""Checks of the folders the LVLM path loads, each failure naming the file at fault.

A Qwen2.5-VL folder (3B / 7B Instruct, as downloaded) needs ``config.json`` of model type
``qwen2_5_vl`` and complete safetensors weights: ``model.safetensors``, or
``model.safetensors.index.json`` and every shard it lists; the tokenizer, processor and
generation JSON files are parsed when present. A shard is complete when its size
equals its header length plus the end of its last tensor (a download cut short fails here, not
deep inside transformers). An answerer folder (what ``tvau train rae`` writes) needs
``tvau_lvlm.json`` and, as it declares, ``rae.safetensors`` and the peft LoRA files
``adapter_config.json`` + ``adapter_model.safetensors``.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

ANSWERER_FILE = "tvau_lvlm.json"
RAE_FILE = "rae.safetensors"
LORA_CONFIG = "adapter_config.json"
LORA_WEIGHTS = "adapter_model.safetensors"


OPTIONAL_JSON = ("tokenizer.json", "tokenizer_config.json", "generation_config.json", "preprocessor_config.json",
                 "video_preprocessor_config.json", "chat_template.json")


class LvlmFilesError(FileNotFoundError):
    """A missing, partial or unreadable model / adapter file; the message names it."""


def read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise LvlmFilesError(f"{what}: {path} is missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise LvlmFilesError(f"{what}: {path} is not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise LvlmFilesError(f"{what}: {path} must hold a JSON object")
    return data


def check_safetensors(path: Path, what: str) -> None:
    """The file exists and is as long as its header says (not truncated)."""
    if not path.is_file():
        raise LvlmFilesError(f"{what}: {path} is missing")
    size = path.stat().st_size
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise ValueError("shorter than a safetensors header")
            (length,) = struct.unpack("<Q", head)
            if length > size - 8:
                raise ValueError(f"header of {length} bytes in a file of {size}")
            header = json.loads(fh.read(length))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    except (OSError, ValueError, KeyError, TypeError, IndexError, struct.error) as exc:
        raise LvlmFilesError(f"{what}: {path} is not a readable safetensors file ({exc})") from None
    if size != 8 + length + end:
        raise LvlmFilesError(f"{what}: {path} is incomplete ({size} bytes, its header describes {8 + length + end}); "
                             f"download it again")


def check_qwen_folder(path: str | Path) -> Path:
    """The folder of a Qwen2.5-VL checkpoint, checked; returns it as a Path."""
    folder = Path(path)
    what = "Qwen2.5-VL folder"
    if not folder.is_dir():
        raise LvlmFilesError(f"{what}: {folder} does not exist or is not a folder")
    config = read_json(folder / "config.json", what)
    if config.get("model_type") != "qwen2_5_vl":
        raise LvlmFilesError(f"{what}: {folder / 'config.json'} has model_type {config.get('model_type')!r}, "
                             f"expected 'qwen2_5_vl' (Qwen2.5-VL-3B/7B-Instruct)")
    for name in OPTIONAL_JSON:  # a cut or corrupt download fails here, naming the file
        if (folder / name).is_file():
            read_json(folder / name, what)
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = read_json(index, what).get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise LvlmFilesError(f"{what}: {index} has no weight_map")
        for shard in sorted(set(weight_map.values())):
            check_safetensors(folder / shard, what)
    elif (folder / "model.safetensors").is_file():
        check_safetensors(folder / "model.safetensors", what)
    else:
        raise LvlmFilesError(f"{what}: {folder} has neither model.safetensors nor model.safetensors.index.json")
    return folder


def check_answerer_folder(path: str | Path) -> dict:
    """An answerer folder (RAE + LoRA), checked; returns its ``tvau_lvlm.json``."""
    folder = Path(path)
    what = "LVLM adapter folder"
    if not folder.is_dir():
        raise LvlmFilesError(f"{what}: {folder} does not exist or is not a folder")
    meta = read_json(folder / ANSWERER_FILE, what)
    if meta.get("rae") is not None:
        check_safetensors(folder / RAE_FILE, what)
    if meta.get("lora") is not None:
        read_json(folder / LORA_CONFIG, what)
        check_safetensors(folder / LORA_WEIGHTS, what)
    return meta
