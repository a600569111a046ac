"""``LvlmAnswerer``: a frozen Qwen2.5-VL that answers questions about a clip, with RAE's anomaly
prompts spliced into its input embeddings (paper eq. 14) and LoRA on the LLM's attention.

    P = [P_V, P_An, P_Q<=t]
    P_V     the video as the Qwen2.5-VL processor tokenizes it (``video.prepare_video``), encoded
            by the model's own vision tower + merger into the ``<|video_pad|>`` positions;
    P_An    RAE(heatmaps) (``tvau_ros.core.rae``) in ``<|vision_pad|>`` slots after ``<|vision_end|>``;
    P_Q<=t  the dialogue in the chat template (``chat``).

Heatmap modes (``AnswererSettings.heatmap_mode``; the paper's Table 3 variants):
    ``rae``      full: heatmaps -> RAE -> P_An;
    ``none``     w/o AHD: RAE kept, fed no evidence (all-normal heatmaps), so P_An carries only
                 what it learned (base prompts and biases);
    ``overlay``  w/o RAE: no P_An; the heatmap reaches the model only as a red tint blended
                 into the frames it sees (the simplest way to show a heatmap to an LVLM).

>>> ans = LvlmAnswerer.from_pretrained("/models/Qwen2.5-VL-7B-Instruct", adapter="outputs/rae/adapter",
...                                    device="cuda", dtype="bfloat16")          # doctest: +SKIP
>>> ans.generate(frames, heatmaps, "Is there any anomaly in the video?")       # doctest: +SKIP
'Yes, an anomaly occurs from frame 12 to frame 40.'
"""
from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from tvau_ros.core.lvlm.chat import (DEFAULT_SYSTEM, IM_END, ChatSequence, CompactCodec, TextCodec,
                                     build_sequence)
from tvau_ros.core.lvlm.files import (ANSWERER_FILE, LORA_WEIGHTS, RAE_FILE, LvlmFilesError,
                                      check_answerer_folder, check_qwen_folder)
from tvau_ros.core.lvlm.video import VideoInput, VideoSettings, check_frames, prepare_video
from tvau_ros.core.rae import RAEConfig, RegionAwareAnomalyEncoder, heatmap_channels, resample_heatmaps

HEATMAP_MODES = ("rae", "none", "overlay")
VOCAB_FILE = "tvau_vocab.json"  # a tiny model's compact vocabulary (Qwen token ids), see chat.CompactCodec
# LoRA goes on the LLM's attention projections only (not the vision tower's qkv / proj, not the MLPs).
LORA_TARGETS = r".*language_model.*\.self_attn\.(q_proj|k_proj|v_proj|o_proj)"
DEFAULT_FPS = 2.0  # Qwen2.5-VL's usual video sampling rate


@dataclass(frozen=True)
class LoraSettings:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05

    def __post_init__(self) -> None:
        if not isinstance(self.r, int) or self.r < 1:
            raise ValueError(f"lora r must be a positive integer, got {self.r!r}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"lora dropout must be in [0, 1), got {self.dropout!r}")


@dataclass(frozen=True)
class AnswererSettings:
    """How heatmaps, video and text reach the model (stored in ``tvau_lvlm.json``)."""

    heatmap_mode: str = "rae"
    rae: RAEConfig | None = field(default_factory=RAEConfig)
    video: VideoSettings = field(default_factory=VideoSettings)
    system: str = DEFAULT_SYSTEM
    overlay_alpha: float = 0.6

    def __post_init__(self) -> None:
        if self.heatmap_mode not in HEATMAP_MODES:
            raise ValueError(f"heatmap_mode must be one of {HEATMAP_MODES}, got {self.heatmap_mode!r}")
        if self.heatmap_mode == "overlay" and self.rae is not None:
            object.__setattr__(self, "rae", None)
        if self.heatmap_mode != "overlay" and self.rae is None:
            raise ValueError(f"heatmap_mode {self.heatmap_mode!r} needs an RAE config")

    def to_dict(self) -> dict[str, Any]:
        return {"heatmap_mode": self.heatmap_mode, "rae": self.rae.to_dict() if self.rae else None,
                "video": dataclasses.asdict(self.video), "system": self.system, "overlay_alpha": self.overlay_alpha}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "answerer settings") -> AnswererSettings:
        from tvau_ros.core.config_values import dataclass_from_dict

        data = dict(data)
        if data.get("rae") is not None:
            data["rae"] = RAEConfig.from_dict(data["rae"], f"{source}: rae")
        elif data.get("heatmap_mode", "rae") == "overlay":
            data["rae"] = None
        if isinstance(data.get("video"), dict):
            data["video"] = dataclass_from_dict(VideoSettings, data["video"], f"{source}: video", "video")
        return dataclass_from_dict(cls, data, source, "answerer")


@dataclass
class ClipInput:
    """A clip prepared for the model: pixels, grid and (for RAE) the heatmaps on the patch grid."""

    video: VideoInput
    maps: torch.Tensor | None       # (T', 2, H', W') or None (overlay mode)
    fps: float = DEFAULT_FPS
    features: torch.Tensor | None = None  # P_V cached by ``LvlmAnswerer.cache_video`` (frozen vision)


def check_heatmaps(heatmaps: np.ndarray, frames: int) -> np.ndarray:
    if not isinstance(heatmaps, np.ndarray) or heatmaps.ndim != 3:
        raise ValueError(f"heatmaps must be a (T, h, w) float array, got shape {getattr(heatmaps, 'shape', None)}")
    if heatmaps.shape[0] != frames:
        raise ValueError(f"heatmaps cover {heatmaps.shape[0]} frames but the clip has {frames}")
    values = heatmaps.astype(np.float32, copy=False)
    if not np.isfinite(values).all():
        raise ValueError("heatmaps contain NaN or infinite values")
    if values.min() < -1e-3 or values.max() > 1.0 + 1e-3:
        raise ValueError(f"heatmaps must lie in [0, 1], got values in [{values.min():.3g}, {values.max():.3g}]")
    return np.clip(values, 0.0, 1.0)


def tint_frames(frames: np.ndarray, heatmaps: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """Blend red into each frame in proportion to its heatmap (the w/o RAE variant's input).

    >>> tint_frames(np.zeros((1, 2, 2, 3), np.uint8), np.ones((1, 1, 1), np.float32), 0.5)[0, 0, 0].tolist()
    [128, 0, 0]
    """
    h = torch.from_numpy(np.ascontiguousarray(heatmaps, dtype=np.float32))[:, None]
    h = F.interpolate(h, size=frames.shape[1:3], mode="bilinear", align_corners=False)[:, 0, :, :, None].numpy()
    red = np.array([255.0, 0.0, 0.0], np.float32)
    out = frames.astype(np.float32) * (1.0 - alpha * h) + alpha * h * red
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def check_device(device: str) -> str:
    """``device`` if torch can use it here; a ValueError naming it otherwise (before any weight loads).

    >>> check_device("cpu")
    'cpu'
    >>> check_device("tpu")
    Traceback (most recent call last):
    ...
    ValueError: device 'tpu' is not a torch device (cpu, cuda, cuda:N, mps)
    """
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device {device!r} is not a torch device (cpu, cuda, cuda:N, mps)") from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (parsed.index or 0) >= count:
            raise ValueError(f"device {device!r} is not available here ({count} CUDA device(s) visible to torch)")
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r} is not available here")
    return device


def _dtype(value: str | torch.dtype) -> torch.dtype | str:
    if isinstance(value, torch.dtype) or value == "auto":
        return value
    try:
        return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[str(value)]
    except KeyError:
        raise ValueError(f"unknown dtype {value!r}; choose auto, bfloat16, float16 or float32") from None


class LvlmAnswerer:
    """Qwen2.5-VL + RAE (+ LoRA). ``model`` is a ``Qwen2_5_VLForConditionalGeneration`` (or a peft
    model around one); build one with ``from_pretrained`` (a local folder) or pass it in (tests,
    the GPU benchmark, the tiny ablation model)."""

    def __init__(self, model: torch.nn.Module, codec: TextCodec, settings: AnswererSettings = AnswererSettings(),
                 device: str | torch.device = "cpu"):
        self.model, self.codec, self.settings = model, codec, settings
        self.device = torch.device(device)
        self.lora: LoraSettings | None = None
        embed = self.base_model.get_input_embeddings().weight
        self.embed_dim = int(embed.shape[1])
        self.rae = None
        if settings.rae is not None:
            rows = embed[:: max(1, embed.shape[0] // 4096)].detach().float()
            self.rae = RegionAwareAnomalyEncoder(settings.rae, self.embed_dim,
                                                 init_std=float(rows.std())).to(self.device)
            self.rae.calibrate_(float(rows.norm(dim=-1).mean()))  # prompts start at the size of tokens
        self.eos_id = codec.token_id(IM_END)
        self.pad_id = codec.token_id("<|endoftext|>")

    # ---------------------------------------------------------------- loading and saving
    @classmethod
    def from_pretrained(cls, model_path: str | Path, adapter: str | Path | None = None, device: str = "cpu",
                        dtype: str | torch.dtype = "auto", settings: AnswererSettings | None = None) -> LvlmAnswerer:
        """A Qwen2.5-VL folder (3B / 7B Instruct) and, optionally, an answerer folder written by
        ``tvau train rae`` (RAE + LoRA). Missing or partial files raise ``LvlmFilesError``
        naming the file, a device torch cannot use here or an unknown dtype ``ValueError``,
        both before any weight is read; nothing is downloaded."""
        from tvau_ros.core.backbones.qwen2_5_vl import Qwen25VLBackbone

        folder = check_qwen_folder(model_path)
        meta = check_answerer_folder(adapter) if adapter is not None else None
        device, torch_dtype = check_device(device), _dtype(dtype)
        try:
            backbone = Qwen25VLBackbone.from_pretrained(folder, layers=(1,), dtype=torch_dtype, device=device)
        except (OSError, ValueError) as exc:
            raise LvlmFilesError(f"Qwen2.5-VL folder {folder}: cannot load ({exc})") from None
        except RuntimeError as exc:   # e.g. out of GPU memory while moving the weights
            raise ValueError(f"Qwen2.5-VL folder {folder}: cannot load on {device} ({exc})") from None
        template = folder / "chat_template.json"  # newer folders keep the template beside the tokenizer
        if getattr(backbone.tokenizer, "chat_template", None) is None and template.is_file():
            backbone.tokenizer.chat_template = json.loads(template.read_text(encoding="utf-8")).get("chat_template")
        codec = TextCodec(backbone.tokenizer)
        vocab = folder / VOCAB_FILE
        if vocab.is_file():
            codec = CompactCodec(backbone.tokenizer, json.loads(vocab.read_text(encoding="utf-8")))
        if meta is not None:
            settings = AnswererSettings.from_dict(meta.get("settings", {}), str(Path(adapter) / ANSWERER_FILE))
        settings = settings or AnswererSettings(video=VideoSettings.from_folder(folder))
        answerer = cls(backbone.model, codec, settings, device)
        if adapter is not None:
            answerer.load_adapter(adapter, meta)
        return answerer

    @property
    def base_model(self) -> torch.nn.Module:
        """The ``Qwen2_5_VLForConditionalGeneration`` itself (inside peft's wrapper, if any)."""
        return self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model

    def attach_lora(self, lora: LoraSettings = LoraSettings()) -> None:
        """Wrap the model with fresh LoRA adapters on the LLM's q/k/v/o projections."""
        from peft import LoraConfig, get_peft_model

        if self.lora is not None:
            raise ValueError("LoRA is already attached")
        config = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=LORA_TARGETS,
                            bias="none")
        self.model = get_peft_model(self.model, config)
        self.lora = lora

    def merge_lora(self) -> None:
        """Fold the LoRA weights into the base weights (faster inference; no longer separable)."""
        if self.lora is None:
            raise ValueError("no LoRA attached")
        self.model = self.model.merge_and_unload()
        self.lora = None

    def save_adapter(self, folder: str | Path, extra: dict | None = None) -> Path:
        """Write RAE, LoRA and the settings (``tvau_lvlm.json``, written last) into ``folder``."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ANSWERER_FILE).unlink(missing_ok=True)
        if self.rae is not None:
            state = {k: v.detach().float().cpu().contiguous() for k, v in self.rae.state_dict().items()}
            save_file(state, str(folder / RAE_FILE), metadata={"rae": json.dumps(self.settings.rae.to_dict())})
        if self.lora is not None:
            self.model.save_pretrained(str(folder))
        meta = {"format": 1, "settings": self.settings.to_dict(), "embed_dim": self.embed_dim,
                "lora": dataclasses.asdict(self.lora) if self.lora else None,
                "rae": self.settings.rae.to_dict() if self.settings.rae else None, **(extra or {})}
        tmp = folder / (ANSWERER_FILE + ".tmp")
        tmp.write_text(json.dumps(meta, indent=1), encoding="utf-8")
        tmp.replace(folder / ANSWERER_FILE)
        return folder

    def load_adapter(self, folder: str | Path, meta: dict | None = None) -> None:
        """Load RAE and LoRA weights saved by ``save_adapter`` (settings must match this answerer's)."""
        from safetensors.torch import load_file

        folder = Path(folder)
        meta = meta if meta is not None else check_answerer_folder(folder)
        if int(meta.get("embed_dim", self.embed_dim)) != self.embed_dim:
            raise LvlmFilesError(f"{folder / ANSWERER_FILE}: adapter made for an LLM of width {meta['embed_dim']}, "
                                 f"this model's is {self.embed_dim} (a 3B adapter on a 7B model?)")
        if self.rae is not None:
            try:
                self.rae.load_state_dict(load_file(str(folder / RAE_FILE)))
            except (RuntimeError, OSError) as exc:
                raise LvlmFilesError(f"{folder / RAE_FILE}: does not fit this RAE "
                                     f"({str(exc).splitlines()[0]})") from None
        if meta.get("lora") is not None:
            from peft import PeftModel

            if self.lora is not None:
                raise ValueError("LoRA is already attached")
            try:
                self.model = PeftModel.from_pretrained(self.model, str(folder), is_trainable=False)
            except (RuntimeError, OSError, ValueError, KeyError) as exc:
                raise LvlmFilesError(f"{folder / LORA_WEIGHTS}: cannot load the LoRA adapter "
                                     f"({str(exc).splitlines()[0]})") from None
            self.lora = LoraSettings(**meta["lora"])

    # ---------------------------------------------------------------- parameters
    def modules(self) -> list[torch.nn.Module]:
        return [self.model] + ([self.rae] if self.rae is not None else [])

    def trainable_parameters(self) -> list[tuple[str, torch.nn.Parameter]]:
        named = [(f"model.{n}", p) for n, p in self.model.named_parameters() if p.requires_grad]
        if self.rae is not None:
            named += [(f"rae.{n}", p) for n, p in self.rae.named_parameters() if p.requires_grad]
        return named

    def parameter_count(self) -> dict[str, int]:
        """Total, trainable, RAE and LoRA parameters."""
        total = sum(p.numel() for m in self.modules() for p in m.parameters())
        lora = sum(p.numel() for n, p in self.model.named_parameters() if "lora_" in n)
        rae = sum(p.numel() for p in self.rae.parameters()) if self.rae is not None else 0
        return {"total": total, "trainable": sum(p.numel() for _, p in self.trainable_parameters()),
                "rae": rae, "lora": lora}

    def train(self, mode: bool = True) -> None:
        for m in self.modules():
            m.train(mode)

    # ---------------------------------------------------------------- inputs
    def prepare_clip(self, frames: np.ndarray, heatmaps: np.ndarray | None, fps: float | None = None) -> ClipInput:
        """Frames (T, H, W, 3) uint8 RGB + heatmaps (T, h, w) in [0, 1] -> model inputs."""
        check_frames(frames)
        mode = self.settings.heatmap_mode
        fps = DEFAULT_FPS if fps is None else float(fps)
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if heatmaps is None and mode != "none":
            raise ValueError(f"heatmap_mode {mode!r} needs heatmaps (T, h, w) in [0, 1]")
        if heatmaps is not None:
            heatmaps = check_heatmaps(heatmaps, frames.shape[0])
        if mode == "overlay":
            tinted = tint_frames(frames, heatmaps, self.settings.overlay_alpha)
            return ClipInput(prepare_video(tinted, self.settings.video), None, fps)
        video = prepare_video(frames, self.settings.video)
        steps, grid_h, grid_w = video.grid_thw
        if steps < 2:
            raise ValueError(f"RAE needs at least 2 temporal patches: give at least "
                             f"{self.settings.video.temporal_patch_size + 1} frames, got {frames.shape[0]}")
        if mode == "none":
            maps = heatmap_channels(torch.zeros(steps, grid_h, grid_w))
        else:
            maps = heatmap_channels(resample_heatmaps(torch.from_numpy(heatmaps), steps, (grid_h, grid_w)))
        return ClipInput(video, maps, fps)

    def num_prompt_tokens(self, clip: ClipInput) -> int:
        return self.rae.num_tokens(clip.maps.shape[0]) if self.rae is not None else 0

    def sequence(self, clip: ClipInput, turns: Sequence[tuple[str, str | None]]) -> ChatSequence:
        return build_sequence(self.codec, turns, clip.video.num_tokens, self.num_prompt_tokens(clip),
                              self.settings.system)

    def embed(self, clips: Sequence[ClipInput], seqs: Sequence[ChatSequence]) -> dict[str, torch.Tensor]:
        """Right-padded batch -> ``inputs_embeds`` (P_V and P_An spliced in), attention mask, 3-D
        rope positions, labels and the ``input_ids`` / ``mm_token_type_ids`` generation needs."""
        qwen = self.base_model.model
        length = max(len(s.input_ids) for s in seqs)

        def pad(values: list[torch.Tensor], fill: float) -> torch.Tensor:
            return torch.stack([F.pad(v, (0, length - len(v)), value=fill) for v in values]).to(self.device)

        input_ids = pad([s.input_ids for s in seqs], self.pad_id)
        attention = pad([torch.ones(len(s.input_ids), dtype=torch.long) for s in seqs], 0)
        labels = pad([s.labels for s in seqs], -100)
        video_mask = pad([s.video_mask for s in seqs], False)
        prompt_mask = pad([s.prompt_mask for s in seqs], False)
        mm_types = video_mask.int() * 2
        embeds = self.base_model.get_input_embeddings()(input_ids)
        grid = torch.tensor([c.video.grid_thw for c in clips], dtype=torch.long, device=self.device)
        if all(c.features is not None for c in clips):
            video = torch.cat([c.features for c in clips]).to(self.device)
        else:
            video = self._video_features(clips, grid)
        embeds = embeds.masked_scatter(video_mask[..., None], video.to(embeds.dtype))
        if self.rae is not None:
            prompts = torch.cat([self.rae(c.maps.to(self.device)) for c in clips])
            embeds = embeds.masked_scatter(prompt_mask[..., None], prompts.to(embeds.dtype))
        seconds = torch.tensor([self.settings.video.temporal_patch_size / c.fps for c in clips], device=self.device)
        positions, _ = qwen.get_rope_index(input_ids, mm_types, video_grid_thw=grid, second_per_grid_ts=seconds,
                                           attention_mask=attention)
        return {"inputs_embeds": embeds, "attention_mask": attention, "position_ids": positions, "labels": labels,
                "input_ids": input_ids, "mm_token_type_ids": mm_types, "video_grid_thw": grid,
                "second_per_grid_ts": seconds}

    def _video_features(self, clips: Sequence[ClipInput], grid: torch.Tensor) -> torch.Tensor:
        qwen = self.base_model.model
        pixels = torch.cat([c.video.pixel_values for c in clips]).to(self.device, qwen.visual.dtype)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.vision_frozen):
            return torch.cat(qwen.get_video_features(pixels, grid).pooler_output)

    @property
    def vision_frozen(self) -> bool:
        return not any(p.requires_grad for p in self.base_model.model.visual.parameters())

    @torch.no_grad()
    def cache_video(self, clip: ClipInput) -> ClipInput:
        """Run the (frozen) vision tower once and keep P_V in the clip, so later ``embed`` calls
        (training epochs, each dialogue turn) skip it. The clip's pixel values are dropped."""
        if not self.vision_frozen:
            raise ValueError("the vision tower is being trained: its output cannot be cached")
        grid = torch.tensor([clip.video.grid_thw], dtype=torch.long, device=self.device)
        clip.features = self._video_features([clip], grid).detach()
        clip.video.pixel_values = clip.video.pixel_values[:0]  # no longer needed; frees memory
        return clip

    def loss(self, clips: Sequence[ClipInput], seqs: Sequence[ChatSequence]) -> torch.Tensor:
        """Mean next-token cross-entropy over the answer tokens of a batch."""
        batch = self.embed(clips, seqs)
        out = self.model(inputs_embeds=batch["inputs_embeds"], attention_mask=batch["attention_mask"],
                         position_ids=batch["position_ids"], labels=batch["labels"], use_cache=False)
        return out.loss

    # ---------------------------------------------------------------- answering
    def generate(self, frames: np.ndarray, heatmaps: np.ndarray | None, question: str,
                 history: Sequence[tuple[str, str]] = (), max_new_tokens: int = 128, stream: bool = False,
                 fps: float | None = None) -> str | Iterator[str]:
        """Answer ``question`` about the clip, after the earlier (question, answer) ``history``.
        Greedy decoding. ``stream=True`` returns an iterator of text pieces as they are
        generated (transformers' TextIteratorStreamer; generation runs in a worker thread)."""
        if not isinstance(question, str) or not question.strip():
            raise ValueError("question must be a non-empty string")
        if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
        turns = [(str(q), str(a)) for q, a in history] + [(question, None)]
        clip = self.prepare_clip(frames, heatmaps, fps)
        if not stream:
            return self.answer(clip, turns, max_new_tokens)
        return self._stream(self.generation_inputs(clip, turns, max_new_tokens))

    def answer(self, clip: ClipInput, turns: Sequence[tuple[str, str | None]], max_new_tokens: int = 128) -> str:
        """The answer to the last (unanswered) turn about a prepared clip."""
        kwargs = self.generation_inputs(clip, turns, max_new_tokens)
        with torch.inference_mode():
            out = self.model.generate(**kwargs)
        return self.codec.decode(out[0, kwargs["input_ids"].shape[1]:], skip_special_tokens=True).strip()

    def generation_inputs(self, clip: ClipInput, turns: Sequence[tuple[str, str | None]], max_new_tokens: int) -> dict:
        """Keyword arguments of ``model.generate`` for one conversation (greedy)."""
        for m in self.modules():
            m.eval()
        with torch.inference_mode():
            batch = self.embed([clip], [self.sequence(clip, turns)])
        return {"input_ids": batch["input_ids"], "inputs_embeds": batch["inputs_embeds"],
                "attention_mask": batch["attention_mask"], "mm_token_type_ids": batch["mm_token_type_ids"],
                "video_grid_thw": batch["video_grid_thw"], "second_per_grid_ts": batch["second_per_grid_ts"],
                "max_new_tokens": max_new_tokens, "do_sample": False, "eos_token_id": self.eos_id,
                "pad_token_id": self.pad_id}

    def _stream(self, kwargs: dict) -> Iterator[str]:
        """Text pieces as generated. Closing the iterator early (a cancelled query) stops the
        generation at its next token instead of letting it run to ``max_new_tokens``."""
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        streamer = TextIteratorStreamer(self.codec, skip_prompt=True, skip_special_tokens=True)
        failure: list[BaseException] = []
        stop = threading.Event()

        class _Stopped(StoppingCriteria):
            def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
                return torch.full((input_ids.shape[0],), stop.is_set(), dtype=torch.bool, device=input_ids.device)

        def work() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(**kwargs, streamer=streamer,
                                        stopping_criteria=StoppingCriteriaList([_Stopped()]))
            except BaseException as exc:  # re-raised in the consumer's thread
                failure.append(exc)
                streamer.end()

        thread = threading.Thread(target=work, name="lvlm-generate", daemon=True)

        def pieces() -> Iterator[str]:
            thread.start()   # here, not before: a stream closed before it was read never generates
            try:
                for text in streamer:
                    if text:
                        yield text
            finally:   # also on close(): the consumer stopped listening
                stop.set()
                thread.join()
            if failure:
                raise failure[0]

        return pieces()
