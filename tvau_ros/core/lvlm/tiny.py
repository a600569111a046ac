"""Qwen2.5-VL configurations written out in code (no hub): the real 3B / 7B shapes, for the GPU
benchmark, and tiny ones for tests and the ablation's language model trained here.

Values of the released Qwen2.5-VL-{3B,7B}-Instruct ``config.json`` files.

>>> cfg = qwen2_5_vl_config("tiny")
>>> cfg.text_config.hidden_size, cfg.vision_config.depth
(64, 2)
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import Qwen2_5_VLConfig

_VISION = dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, patch_size=14, spatial_merge_size=2,
               temporal_patch_size=2, window_size=112, fullatt_block_indexes=[7, 15, 23, 31], tokens_per_second=2,
               hidden_act="silu")
_TEXT = dict(rms_norm_eps=1e-6, hidden_act="silu", max_position_embeddings=128000, use_sliding_window=False,
             rope_theta=1000000.0, rope_scaling={"type": "mrope", "mrope_section": [16, 24, 24]})
SHAPES = {
    "7b": dict(vision={**_VISION, "out_hidden_size": 3584},
               text={**_TEXT, "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
                     "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064,
                     "max_window_layers": 28, "sliding_window": 32768},
               tie_word_embeddings=False),
    "3b": dict(vision={**_VISION, "out_hidden_size": 2048},
               text={**_TEXT, "hidden_size": 2048, "intermediate_size": 11008, "num_hidden_layers": 36,
                     "num_attention_heads": 16, "num_key_value_heads": 2, "vocab_size": 151936,
                     "max_window_layers": 70, "sliding_window": 32768},
               tie_word_embeddings=True),
    # tests: the smallest shapes that still exercise windows, full-attention blocks and mrope
    "tiny": dict(vision=dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                             patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=56,
                             fullatt_block_indexes=[1], tokens_per_second=2),
                 text=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                           num_key_value_heads=1, vocab_size=151936, rope_theta=1000000.0,
                           rope_scaling={"type": "mrope", "mrope_section": [4, 6, 6]}),
                 tie_word_embeddings=True),
}


def qwen2_5_vl_config(shape: str = "tiny", vocab_size: int | None = None, text: dict | None = None,
                      vision: dict | None = None) -> Qwen2_5_VLConfig:
    """A ``Qwen2_5_VLConfig`` of a named shape (``7b``, ``3b``, ``tiny``), optionally overridden."""
    from transformers import Qwen2_5_VLConfig

    if shape not in SHAPES:
        raise ValueError(f"unknown Qwen2.5-VL shape {shape!r}; choose one of {sorted(SHAPES)}")
    spec = copy.deepcopy(SHAPES[shape])
    spec["text"].update(text or {})
    spec["vision"].update(vision or {})
    if vocab_size is not None:
        spec["text"]["vocab_size"] = int(vocab_size)
    return Qwen2_5_VLConfig(vision_config=spec["vision"], text_config=spec["text"],
                            tie_word_embeddings=spec["tie_word_embeddings"])
