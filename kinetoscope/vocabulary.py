"""The words a model knows: a prompt's words, the ones its training captions never used, and the one
warning that names them.

A model folder's pipeline.json may carry "vocabulary", the sorted words of its training captions
(`kinetoscope train export` writes it). A model that knows only those (the built-in one) draws
nothing reliable for any other word, so the command line and the studio warn, naming them.

No torch here (nor anything that imports it): the command line warns before the model loads.
"""

from __future__ import annotations

import re
from pathlib import Path

from kinetoscope.data.scene import COLOURS, DIGITS, GEOMETRIC_SHAPES, MOTIONS
from kinetoscope.request import BUILTIN_WEIGHTS, read_config

_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def words_of(prompt: str) -> list[str]:
    return _WORD.findall(prompt.lower())


_SHOT_TIME = re.compile(r"[0-9]+s")  # a storyboard's "2s a blue square": a time, not a word of the prompt


def unknown_words(prompt: str, vocabulary: set[str]) -> list[str]:
    """The prompt's words that are not in `vocabulary` (shot times aside), in order, once each."""
    return list(dict.fromkeys(w for w in words_of(prompt) if w not in vocabulary and not _SHOT_TIME.fullmatch(w)))


def read_vocabulary(folder: str | Path | None = None) -> list[str] | None:
    """A model folder's vocabulary (the built-in model's when None) from its pipeline.json; None where
    the folder records none (it is not limited to its training words, or there is no such folder)."""
    config = read_config(folder)
    return list(config.vocabulary) if config and config.vocabulary else None


def unknown_in(vocabulary: list[str] | set[str] | None, *prompts: str | None) -> list[str]:
    """The words of all `prompts` (empty ones skipped) that are not in `vocabulary`, in order, once
    each; none when there is no vocabulary."""
    if not vocabulary:
        return []
    known = set(vocabulary)
    return list(dict.fromkeys(w for p in prompts if p for w in unknown_words(p, known)))


def _known_kinds(vocabulary: list[str]) -> str:
    """What the vocabulary covers, by kind where it is the procedural world's (colours, shapes,
    motions), else its first words."""
    known = set(vocabulary)
    kinds = [(name, [w for w in words if w in known]) for name, words in
             (("colours", COLOURS), ("shapes", GEOMETRIC_SHAPES), ("motions", MOTIONS))]
    if sum(bool(ws) for _, ws in kinds) < 2:  # not the procedural world's words
        more = f", ... ({len(vocabulary)} words)" if len(vocabulary) > 12 else ""
        return ", ".join(sorted(vocabulary)[:12]) + more
    if all(d in known for d in DIGITS):
        kinds[1][1].append(f"digits {DIGITS[0]}-{DIGITS[-1]}")
    return "; ".join(f"{name} {', '.join(ws)}" for name, ws in kinds if ws)


def where_to_look(folder: str | Path | None = None) -> str:
    """Where a model folder (the built-in model's when None) lists what it knows: its model card, else
    its pipeline.json."""
    folder = Path(folder or BUILTIN_WEIGHTS)
    card = folder / "README.md"
    return f"the model card {card}" if card.is_file() else f"the vocabulary in {folder / 'pipeline.json'}"


def warning(words: list[str], vocabulary: list[str], see: str = "the model card") -> str:
    """One line naming the unknown `words` and what the model does know; `see`: where to read more."""
    return (f"the model never saw these words in training, so it draws nothing reliable for them: {', '.join(words)} "
            f"(it knows: {_known_kinds(vocabulary)}; see {see})")
