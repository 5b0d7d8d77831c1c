"""A bag-of-words text encoder: every word is a fixed random 384-d vector, the same on every machine
(seeded by the word's hash), so a caption's tokens are its words and nothing else.

With captions written from a small vocabulary this is class-label conditioning in the text
encoder's interface (the pooled mean of the word vectors is a sum of one embedding per word,
which the denoiser's projections learn). It knows no synonyms: a word never seen in training is a
vector the denoiser never learned, which `unknown_words` (kinetoscope/vocabulary.py) names so
callers can warn.
"""

from __future__ import annotations

import zlib

import torch
from torch import nn

from kinetoscope.vocabulary import unknown_words, words_of  # noqa: F401 (named here, where they were first)

TEXT_DIM = 384
START = "<s>"  # every caption starts with it, so an empty caption (dropped for guidance) is one token


def word_vector(word: str, dim: int = TEXT_DIM) -> torch.Tensor:
    g = torch.Generator().manual_seed(zlib.crc32(word.encode()))
    return torch.randn(dim, generator=g)


class WordEncoder(nn.Module):
    """read: how a prompt becomes tokens, its words (`words_of`) or its world concepts
    (data/lexicon.py `concepts`: synonyms merged, filler dropped, background colours marked)."""

    def __init__(self, dim: int = TEXT_DIM, max_tokens: int = 64, read=words_of):
        super().__init__()
        self.dim, self.max_tokens, self.read = dim, max_tokens, read
        self._cache: dict[str, torch.Tensor] = {}

    def _vec(self, word: str) -> torch.Tensor:
        if word not in self._cache:
            self._cache[word] = word_vector(word, self.dim)
        return self._cache[word]

    @torch.no_grad()
    def forward(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """prompts -> states (B, L, dim), mask (B, L) bool (True = real token)."""
        toks = [[START] + self.read(p)[: self.max_tokens - 1] for p in prompts]
        L = max(len(t) for t in toks)
        states = torch.zeros(len(prompts), L, self.dim)
        mask = torch.zeros(len(prompts), L, dtype=torch.bool)
        for i, t in enumerate(toks):
            states[i, : len(t)] = torch.stack([self._vec(w) for w in t])
            mask[i, : len(t)] = True
        return states, mask
