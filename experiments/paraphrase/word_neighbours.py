"""Can the frozen sentence encoder (MiniLM, models/text.py) read a word the built-in model was never
taught, by the nearest word it was? Each word of the model's training vocabulary that names a
concept is left out in turn (with the words sharing its first four letters: "rise"/"rises") and
read as the concept of its nearest remaining vocabulary word (cosine of mean-pooled MiniLM
states); the filler words, which name nothing, should read as nothing (a large margin would give
them a concept). Prints each reading, its cosine and its margin over the next concept.

    python experiments/paraphrase/word_neighbours.py
"""

import json

import torch

from kinetoscope.data.lexicon import CONCEPTS
from kinetoscope.models.text import TextEncoder
from kinetoscope.request import BUILTIN_WEIGHTS


def main() -> None:
    enc = TextEncoder()

    def embed(words: list[str]) -> torch.Tensor:
        batch = enc.tokenizer(words, padding=True, return_tensors="pt")
        with torch.no_grad():
            states = enc.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((states * mask).sum(1) / mask.sum(1), dim=-1)

    vocabulary = json.loads((BUILTIN_WEIGHTS / "pipeline.json").read_text())["vocabulary"]
    named = [w for w in vocabulary if w in CONCEPTS and not w.isdigit()]
    filler = [w for w in vocabulary if w not in CONCEPTS]
    keys = embed(named)

    def read(word: str, exclude: set[str]) -> tuple[str, float, float]:
        sims = (keys @ embed([word])[0]).tolist()
        best: dict[str, float] = {}
        for w, s in zip(named, sims):
            if w not in exclude:
                best[CONCEPTS[w]] = max(best.get(CONCEPTS[w], -1.0), s)
        (c, s), (_, s2) = sorted(best.items(), key=lambda kv: -kv[1])[:2]
        return c, s, s - s2

    right = 0
    print("left out -> read as (cosine, margin over the next concept)")
    for w in named:
        family = {x for x in named if x[:4] == w[:4]}
        c, s, m = read(w, family)
        right += c == CONCEPTS[w]
        print(f"  {w:13s} {CONCEPTS[w]:9s} -> {c:9s} {s:.2f} +{m:.2f}{'' if c == CONCEPTS[w] else '  wrong'}")
    print(f"{right} of {len(named)} read as their own concept")
    print("filler -> read as")
    for w in filler:
        c, s, m = read(w, set())
        print(f"  {w:13s} -> {c:9s} {s:.2f} +{m:.2f}")


if __name__ == "__main__":
    main()
