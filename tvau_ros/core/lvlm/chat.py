"""The chat side of the LVLM input: tokenizer access, the Qwen2.5-VL chat format, and the token
sequence of eq. 14, P = [P_V, P_An, P_Q<=t].

Chat format (Qwen2.5-VL-Instruct's template; a model folder's own ``chat_template`` is used
instead when its tokenizer has one)::

    <|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n
    <|im_start|>user\\n<|vision_start|><|video_pad|><|vision_end|>{question 1}<|im_end|>\\n
    <|im_start|>assistant\\n{answer 1}<|im_end|>\\n
    <|im_start|>user\\n{question 2}<|im_end|>\\n
    <|im_start|>assistant\\n

The single ``<|video_pad|>`` is then expanded to one token per merged video patch (P_V, as
the processor does) and the anomaly prompts P_An get ``<|vision_pad|>`` placeholder tokens right
after ``<|vision_end|>``; their embeddings are replaced by RAE's output (``answerer``).
Training labels cover each answer and its ``<|im_end|>``.

>>> render_chat([("Is there any anomaly?", "Yes."), ("Where?", None)]).splitlines()[2]
'<|im_start|>user'
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

DEFAULT_SYSTEM = "You are a helpful assistant."
VIDEO_TOKEN = "<|video_pad|>"
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"
PROMPT_SLOT = "<|vision_pad|>"  # unused by Qwen2.5-VL itself; marks where P_An goes
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
IGNORE = -100


class TextCodec:
    """Text <-> token ids for the answerer over a transformers tokenizer (Qwen's)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase):
        self.tokenizer = tokenizer
        self.chat_template = getattr(tokenizer, "chat_template", None)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: int | Sequence[int] | torch.Tensor, skip_special_tokens: bool = True,
               **kwargs: Any) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=skip_special_tokens, **kwargs)

    def token_id(self, token: str) -> int:
        value = self.tokenizer.convert_tokens_to_ids(token)
        if value is None or value == getattr(self.tokenizer, "unk_token_id", object()):
            raise ValueError(f"the tokenizer has no token {token!r}")
        return int(value)

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)


class CompactCodec(TextCodec):
    """The Qwen tokenizer restricted to a fixed set of its ids, renumbered 0..K-1: a tiny
    language model trained here needs no 152k-row output layer for a few hundred words. Ids
    outside the set encode to ``<|endoftext|>`` (counted in ``unknown``)."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase, qwen_ids: Sequence[int]):
        super().__init__(tokenizer)
        self.chat_template = None
        self.qwen_ids = sorted({int(i) for i in qwen_ids}
                               | {int(tokenizer.convert_tokens_to_ids(t)) for t in SPECIAL_TOKENS})
        self.to_compact = {q: c for c, q in enumerate(self.qwen_ids)}
        self.unknown = 0

    @classmethod
    def from_texts(cls, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str]) -> CompactCodec:
        ids: set[int] = set()
        for text in list(texts) + [DEFAULT_SYSTEM, "system\nuser\nassistant\n", "0123456789 .,-:;?!()"]:
            ids.update(tokenizer(text, add_special_tokens=False)["input_ids"])
        return cls(tokenizer, sorted(ids))

    def encode(self, text: str) -> list[int]:
        out = []
        pad = self.to_compact[int(self.tokenizer.convert_tokens_to_ids("<|endoftext|>"))]
        for q in super().encode(text):
            c = self.to_compact.get(q)
            if c is None:
                self.unknown += 1
                c = pad
            out.append(c)
        return out

    def decode(self, ids: int | Sequence[int] | torch.Tensor, skip_special_tokens: bool = True,
               **kwargs: Any) -> str:
        ids = [ids] if isinstance(ids, int) else [int(i) for i in (ids.tolist() if hasattr(ids, "tolist") else ids)]
        return super().decode([self.qwen_ids[i] for i in ids if 0 <= i < len(self.qwen_ids)], skip_special_tokens,
                              **kwargs)

    def token_id(self, token: str) -> int:
        return self.to_compact[super().token_id(token)]

    @property
    def vocab_size(self) -> int:
        return len(self.qwen_ids)


SPECIAL_TOKENS = ("<|endoftext|>", IM_START, IM_END, VISION_START, VISION_END, PROMPT_SLOT, VIDEO_TOKEN,
                  "<|image_pad|>")


def _messages(turns: Sequence[tuple[str, str | None]], system: str) -> list[dict]:
    messages = [{"role": "system", "content": [{"type": "text", "text": system}]}]
    for i, (question, answer) in enumerate(turns):
        content = ([{"type": "video"}] if i == 0 else []) + [{"type": "text", "text": question}]
        messages.append({"role": "user", "content": content})
        if answer is not None:
            messages.append({"role": "assistant", "content": [{"type": "text", "text": answer}]})
    return messages


def render_chat(turns: Sequence[tuple[str, str | None]], system: str = DEFAULT_SYSTEM,
                codec: TextCodec | None = None) -> str:
    """The prompt text of ``turns`` [(question, answer or None), ...]; a last answer of None ends
    the text with the assistant's opening (the generation prompt). The video goes with the
    first question. Uses the codec's chat template when it has one."""
    if not turns:
        raise ValueError("a chat needs at least one question")
    open_end = turns[-1][1] is None
    if any(a is None for _, a in turns[:-1]):
        raise ValueError("only the last turn may be unanswered")
    messages = _messages(turns, system)
    if codec is not None and codec.chat_template:
        return codec.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=open_end)
    parts = []
    for m in messages:
        text = "".join(f"{VISION_START}{VIDEO_TOKEN}{VISION_END}" if c["type"] == "video" else c["text"]
                       for c in m["content"])
        parts.append(f"{IM_START}{m['role']}\n{text}{IM_END}\n")
    return "".join(parts) + (f"{IM_START}assistant\n" if open_end else "")


@dataclass
class ChatSequence:
    """Token ids of one conversation with its video and anomaly-prompt positions."""

    input_ids: torch.Tensor     # (L,)
    labels: torch.Tensor        # (L,) IGNORE except answer tokens
    video_mask: torch.Tensor    # (L,) bool, the P_V positions
    prompt_mask: torch.Tensor   # (L,) bool, the P_An positions

    @property
    def mm_token_type_ids(self) -> torch.Tensor:
        return self.video_mask.int() * 2  # 0 text, 2 video (Qwen2.5-VL's rope index)


def build_sequence(codec: TextCodec, turns: Sequence[tuple[str, str | None]], num_video_tokens: int,
                   num_prompt_tokens: int, system: str = DEFAULT_SYSTEM) -> ChatSequence:
    """Tokenize ``turns``, expand the video placeholder to ``num_video_tokens`` and insert
    ``num_prompt_tokens`` P_An slots after it. Answers become labels (with their ``<|im_end|>``)."""
    ids: list[int] = []
    labels: list[int] = []
    for i in range(len(turns)):
        question, answer = turns[i]
        prompt = codec.encode(render_chat(list(turns[:i]) + [(question, None)], system, codec))
        if prompt[:len(ids)] != ids:
            raise ValueError("the chat template does not render conversations as prefixes of each other")
        labels += [IGNORE] * (len(prompt) - len(ids))
        ids = prompt
        if answer is None:
            break
        full = codec.encode(render_chat(list(turns[:i]) + [(question, answer)], system, codec))
        if full[:len(ids)] != ids:
            raise ValueError("the chat template does not render an answer after its generation prompt")
        end = codec.token_id(IM_END)
        answer_ids = full[len(ids):]
        cut = answer_ids.index(end) + 1 if end in answer_ids else len(answer_ids)
        labels += answer_ids[:cut] + [IGNORE] * (len(answer_ids) - cut)
        ids = full
    video, vend, slot = codec.token_id(VIDEO_TOKEN), codec.token_id(VISION_END), codec.token_id(PROMPT_SLOT)
    if ids.count(video) != 1:
        raise ValueError(f"expected one {VIDEO_TOKEN} in the rendered chat, found {ids.count(video)}")
    k = ids.index(video)
    if ids[k + 1] != vend:
        raise ValueError(f"{VIDEO_TOKEN} is not followed by {VISION_END} in the rendered chat")
    insert_ids = [video] * num_video_tokens + [vend] + [slot] * num_prompt_tokens
    ids = ids[:k] + insert_ids + ids[k + 2:]
    labels = labels[:k] + [IGNORE] * len(insert_ids) + labels[k + 2:]
    input_ids = torch.tensor(ids, dtype=torch.long)
    video_mask = torch.zeros(len(ids), dtype=torch.bool)
    video_mask[k:k + num_video_tokens] = True
    prompt_mask = torch.zeros(len(ids), dtype=torch.bool)
    prompt_mask[k + num_video_tokens + 1:k + num_video_tokens + 1 + num_prompt_tokens] = True
    return ChatSequence(input_ids, torch.tensor(labels, dtype=torch.long), video_mask, prompt_mask)
