"""Stage 2 of the paper: train RAE + LoRA on the multi-turn dialogues, the LVLM frozen.

Loss: next-token cross-entropy over the answer tokens (each answer and its ``<|im_end|>``) of
whole dialogues, one sequence per video: ``[P_V, P_An, Q1, A1, Q2, A2, ...]``. Trainable: the
RAE and the LoRA matrices on the LLM's q/k/v/o projections; the vision tower, the merger, the
embeddings, the MLPs and the LM head stay frozen (``model.trainable: lora``). A random-weight
model built here (``model.shape``, the ablation's tiny language model) has nothing to keep
frozen, so ``model.trainable: language_model`` trains its whole LLM with the RAE (the vision
tower stays frozen at its random init, a fixed random feature map of the pixels). With the
vision tower frozen, each clip's P_V is computed once (``LvlmAnswerer.cache_video``).

Like the AHD trainer: seeded (model init, data order, dropout), resumable (``out/last.pt``:
trainable weights, optimizer, one-cycle schedule, RNG, epoch, best), and ready for ``torchrun``
(``dist_info``; DistributedDataParallel, each rank a shard of every epoch). Writes
``out/adapter`` (``tvau_lvlm.json``, ``rae.safetensors``, peft's LoRA files) from the epoch with
the lowest validation loss (the last epoch without validation), plus ``out/model`` (the whole
model folder) when the model itself was trained.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from tvau_ros.core.lvlm.answerer import VOCAB_FILE, ClipInput, LoraSettings, LvlmAnswerer
from tvau_ros.core.lvlm.chat import ChatSequence, CompactCodec, TextCodec
from tvau_ros.core.lvlm.dialogue_data import DialogueClip, load_dialogue_clips
from tvau_ros.core.lvlm.video import VideoSettings
from tvau_ros.train.ahd_trainer import dist_info
from tvau_ros.train.rae_config import RaeTrainConfig

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast


def dialogue_texts(clips: list[DialogueClip]) -> list[str]:
    """Every question (with its frame note) and every reference answer of the clips."""
    texts = []
    for clip in clips:
        texts += [q for q, _ in clip.turns()]
        texts += [a for turn in clip.sample.turns for a in turn.answers]
    return texts


def build_answerer(cfg: RaeTrainConfig, texts: list[str], device: str = "cpu",
                   vocab: list[int] | None = None) -> LvlmAnswerer:
    """The answerer to train: a local Qwen2.5-VL folder with fresh LoRA, or a random-weight model
    of ``model.shape`` (compact vocabulary from ``texts``, or ``vocab`` when resuming)."""
    spec = cfg.model
    settings = cfg.settings()
    if spec.get("model_path"):
        if not cfg.video:
            settings = dataclasses.replace(settings, video=VideoSettings.from_folder(spec["model_path"]))
        answerer = LvlmAnswerer.from_pretrained(spec["model_path"], device=device, dtype=spec.get("dtype", "auto"),
                                                settings=settings)
    else:
        from transformers import Qwen2_5_VLForConditionalGeneration

        from tvau_ros.core.backbones.qwen_tokenizer import build_qwen_tokenizer
        from tvau_ros.core.lvlm.tiny import qwen2_5_vl_config

        tokenizer = _qwen_tokenizer(build_qwen_tokenizer)
        if spec.get("compact_vocab"):
            codec = CompactCodec(tokenizer, vocab) if vocab is not None else CompactCodec.from_texts(tokenizer, texts)
        else:
            codec = TextCodec(tokenizer)
        text = {**(spec.get("text") or {}), "bos_token_id": codec.token_id("<|endoftext|>"),
                "eos_token_id": codec.token_id("<|im_end|>"), "pad_token_id": codec.token_id("<|endoftext|>")}
        config = qwen2_5_vl_config(spec["shape"], vocab_size=codec.vocab_size if spec.get("compact_vocab") else None,
                                   text=text, vision=spec.get("vision"))
        for key, token in (("video_token_id", "<|video_pad|>"), ("image_token_id", "<|image_pad|>"),
                           ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>")):
            setattr(config, key, codec.token_id(token))
        torch.manual_seed(cfg.seed)
        model = Qwen2_5_VLForConditionalGeneration(config).to(device)
        answerer = LvlmAnswerer(model.requires_grad_(False), codec, settings, device)
    if spec.get("trainable", "lora") == "language_model":
        answerer.base_model.model.language_model.requires_grad_(True)
        answerer.base_model.lm_head.requires_grad_(True)
    else:
        answerer.attach_lora(LoraSettings(**cfg.lora))
    return answerer


@functools.lru_cache(maxsize=1)
def _qwen_tokenizer(build: Callable[[], PreTrainedTokenizerFast]) -> PreTrainedTokenizerFast:
    """One tokenizer per process (building it takes seconds; the variants of an ablation share it)."""
    return build()


class _DialogueLoss(torch.nn.Module):
    """DDP needs one module whose forward computes the loss over every trainable parameter."""

    def __init__(self, answerer: LvlmAnswerer):
        super().__init__()
        self.answerer = answerer
        self.parts = torch.nn.ModuleList(answerer.modules())

    def forward(self, clips: Sequence[ClipInput], seqs: Sequence[ChatSequence]) -> torch.Tensor:
        return self.answerer.loss(clips, seqs)


def prepare_clips(answerer: LvlmAnswerer, clips: list[DialogueClip]) -> list:
    """Model inputs of every clip, P_V cached when the vision tower is frozen."""
    prepared = [answerer.prepare_clip(c.frames, c.heatmaps, c.fps) for c in clips]
    if answerer.vision_frozen:
        answerer.train(False)
        prepared = [answerer.cache_video(p) for p in prepared]
    return prepared


def _batch(answerer: LvlmAnswerer, clips: list[DialogueClip], prepared: list[ClipInput], choice: str,
           rng: random.Random) -> tuple[list[ClipInput], list[ChatSequence]]:
    return prepared, [answerer.sequence(p, c.turns(choice, rng)) for p, c in zip(prepared, clips, strict=True)]


@torch.no_grad()
def evaluate_loss(answerer: LvlmAnswerer, clips: list[DialogueClip], prepared: list, batch_size: int) -> float:
    answerer.train(False)
    total, count = 0.0, 0
    for start in range(0, len(clips), batch_size):
        part = slice(start, start + batch_size)
        batch = _batch(answerer, clips[part], prepared[part], "first", random.Random(0))
        total += float(answerer.loss(*batch)) * len(clips[part])
        count += len(clips[part])
    return total / max(count, 1)


def _trainable_state(answerer: LvlmAnswerer) -> dict[str, torch.Tensor]:
    return {name: p.detach().cpu().clone() for name, p in answerer.trainable_parameters()}


def _load_trainable_state(answerer: LvlmAnswerer, state: dict[str, torch.Tensor], path: Path) -> None:
    params = dict(answerer.trainable_parameters())
    if set(params) != set(state):
        raise ValueError(f"{path} holds other trainable parameters than this config builds "
                         f"({len(state)} vs {len(params)}); train into another out_dir, or pass --restart")
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)


def train_rae(cfg: RaeTrainConfig, resume: bool = True, progress: bool = True, device: str = "cpu",
              clips: dict[str, list[DialogueClip]] | None = None) -> Path:
    """Train and write ``out_dir/adapter`` (and ``out_dir/model`` for a model trained here);
    returns the adapter folder. ``clips`` (``{"train": [...], "validation": [...]}``) skips
    loading the dialogues again (the ablation shares one load between its variants)."""
    from tqdm import tqdm

    rank, world = dist_info(device)
    if world > 1 and device == "cuda":
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', rank))}"
        torch.cuda.set_device(device)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    source = "none" if cfg.heatmap_mode == "none" else cfg.heatmap_source
    if clips is None:
        clips = {"train": load_dialogue_clips(cfg.train_dialogues, cfg.train_root, source,
                                              cfg.num_frames, cfg.max_side, limit=cfg.limit)}
        if cfg.val_dialogues:
            clips["validation"] = load_dialogue_clips(cfg.val_dialogues, cfg.dataset, source, cfg.num_frames,
                                                      cfg.max_side, limit=cfg.limit)
    train, val = clips["train"], clips.get("validation") or []
    if not train:
        raise ValueError(f"no training dialogues in {cfg.train_dialogues}")
    state_path, log_path = out / "last.pt", out / "train_log.jsonl"
    state = torch.load(state_path, weights_only=False, map_location="cpu") if resume and state_path.is_file() else None
    answerer = build_answerer(cfg, dialogue_texts(train), device, vocab=state.get("vocab") if state else None)
    counts = answerer.parameter_count()
    named = answerer.trainable_parameters()
    optimizer = torch.optim.AdamW([p for _, p in named], lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(train) / world / cfg.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
    start_epoch, best = 0, {"val_loss": math.inf, "epoch": -1}
    if state is None and rank == 0:
        log_path.unlink(missing_ok=True)
    if state is not None:
        saved_steps = state["scheduler"].get("total_steps")
        if saved_steps != scheduler.total_steps:
            raise ValueError(f"{state_path} is a run of {saved_steps} steps and this config asks for "
                             f"{scheduler.total_steps}: a one-cycle schedule cannot be extended; train into "
                             f"another out_dir, or pass --restart")
        _load_trainable_state(answerer, state["trainable"], state_path)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        start_epoch, best = state["epoch"] + 1, state["best"]
    train_inputs, val_inputs = prepare_clips(answerer, train), prepare_clips(answerer, val)
    model: torch.nn.Module = _DialogueLoss(answerer)
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    if rank == 0 and progress:
        print(json.dumps({"parameters": counts, "train_dialogues": len(train), "val_dialogues": len(val)}), flush=True)

    generator = torch.Generator().manual_seed(cfg.seed)
    for epoch in range(start_epoch, cfg.epochs):
        answerer.train(True)
        generator.manual_seed(cfg.seed + epoch)
        rng = random.Random(cfg.seed * 1000 + epoch)
        order = torch.randperm(len(train), generator=generator)
        order = torch.cat([order, order[:(-order.numel()) % world]])[rank::world].tolist()
        running, seen, t0 = 0.0, 0, time.perf_counter()
        for start in tqdm(range(0, len(order), cfg.batch_size), desc=f"epoch {epoch + 1}/{cfg.epochs}",
                          disable=not progress or rank, leave=False):
            chosen = order[start:start + cfg.batch_size]
            part = [train[i] for i in chosen]
            loss = model(*_batch(answerer, part, [train_inputs[i] for i in chosen], cfg.answer_choice, rng))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_([p for _, p in named], cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            running += float(loss.detach()) * len(part)
            seen += len(part)
        if rank:
            continue
        val_loss = evaluate_loss(answerer, val, val_inputs, cfg.batch_size) if val else math.nan
        record = {"epoch": epoch + 1, "train_loss": running / max(seen, 1), "val_loss": val_loss,
                  "seconds": round(time.perf_counter() - t0, 2)}
        if progress:
            print(json.dumps(record), flush=True)
        if not val or val_loss < best["val_loss"]:
            best = {"val_loss": val_loss, "epoch": epoch + 1}
            _save(answerer, out, cfg, best, counts)
        vocab = answerer.codec.qwen_ids if isinstance(answerer.codec, CompactCodec) else None
        tmp = state_path.with_suffix(".tmp")
        torch.save({"trainable": _trainable_state(answerer), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(), "epoch": epoch,
                    "best": best, "vocab": vocab}, tmp)
        tmp.replace(state_path)
        with log_path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")
    if world > 1:
        torch.distributed.barrier()
    return out / "adapter"


def _save(answerer: LvlmAnswerer, out: Path, cfg: RaeTrainConfig, best: dict, counts: dict) -> None:
    trained_llm = not cfg.model.get("model_path") or cfg.model.get("trainable") == "language_model"
    # the adapter points at the weights it was trained with: out/model once the LLM itself was trained
    extra = {"train_config": cfg.to_dict(), "best": best, "parameters": counts,
             "model_path": str(out / "model") if trained_llm else cfg.model["model_path"]}
    if trained_llm:
        folder = out / "model"
        base = answerer.base_model  # peft injects LoRA layers into it: save the base weights alone
        state = {k.replace(".base_layer.", "."): v for k, v in base.state_dict().items() if "lora_" not in k}
        base.save_pretrained(str(folder), state_dict=state)
        if isinstance(answerer.codec, CompactCodec):
            (folder / VOCAB_FILE).write_text(json.dumps(answerer.codec.qwen_ids), encoding="utf-8")
    answerer.save_adapter(out / "adapter", extra)
