"""The words a model knows: a prompt's words, the ones its training captions never used, the
background colours its world never drew, and the one warning that names them.

A model folder's pipeline.json may carry "vocabulary", the sorted words of its training captions
(`kinetoscope train export` writes it). A model that knows only those (the built-in one) draws
nothing reliable for any other word, so the command line and the studio warn, naming them. It may
also carry "world", the procedural world it was trained on: a colour word is in the vocabulary
because objects have it, yet the world may have drawn only some of the colours as backgrounds
("background_colours"), so a background asked for in any other colour is named too.

No torch here (nor anything that imports it): the command line warns before the model loads.
"""

from __future__ import annotations

import re
from pathlib import Path

from kinetoscope.data.scene import COLOURS, DIGITS, GEOMETRIC_SHAPES, MOTIONS
from kinetoscope.data.words import words_of
from kinetoscope.request import BUILTIN_WEIGHTS, read_config


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


def unseen_backgrounds(world: dict | None, *prompts: str | None) -> list[str]:
    """The background colours that `prompts` (empty ones skipped) ask for ("on a blue background":
    blue) and that `world`, a model folder's pipeline.json "world", never drew (not among its
    background_colours), in order, once each; none when there is no world or it records no
    background colours."""
    drawn = (world or {}).get("background_colours")
    if not drawn:
        return []
    from kinetoscope.data.lexicon import BACKGROUND, concepts  # numpy (no torch): only where it is needed

    asked = (c.removeprefix(BACKGROUND) for p in prompts if p for c in concepts(p) if c.startswith(BACKGROUND))
    return list(dict.fromkeys(c for c in asked if c not in drawn))


def _known_kinds(vocabulary: list[str], world: dict | None = None) -> str:
    """What the vocabulary covers, by kind where it is the procedural world's (colours, shapes,
    motions), else its first words; colours are the objects' (`world`'s colours where it records
    them: a background-only colour such as black is listed with the backgrounds)."""
    known = set(vocabulary)
    colours = (world or {}).get("colours") or COLOURS
    kinds = [(name, [w for w in words if w in known]) for name, words in
             (("colours", colours), ("shapes", GEOMETRIC_SHAPES), ("motions", MOTIONS))]
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


def warning(words: list[str], vocabulary: list[str] | None, see: str = "the model card",
            backgrounds: list[str] | tuple[str, ...] = (), world: dict | None = None) -> str:
    """One line naming the unknown `words` and the `backgrounds` (colours) that `world` never drew, and
    what the model does know; `see`: where to read more."""
    what = " and ".join(kind for kind, given in (("words", words), ("backgrounds", backgrounds)) if given)
    named = [*words, *(f"{c} background" for c in backgrounds)]
    knows = [_known_kinds(vocabulary, world)] if vocabulary else []
    if backgrounds:
        knows.append(f"backgrounds {', '.join(world['background_colours'])}")
    return (f"the model never saw these {what} in training, so it draws nothing reliable for them: {', '.join(named)} "
            f"(it knows: {'; '.join(knows)}; see {see})")


def prompt_warning(config, *prompts: str | None, see: str = "the model card") -> str | None:
    """The one warning line for `prompts` (empty ones skipped) on a model folder's `config` (its
    pipeline.json, read_config's): the words it never saw and the backgrounds its world never drew;
    None when there are none, or no config."""
    if config is None:
        return None
    read = wordnet_readings(config, *prompts)
    words = [w for w in unknown_in(config.vocabulary, *prompts) if w not in read]
    backgrounds = unseen_backgrounds(config.world, *prompts)
    lines = [warning(words, config.vocabulary, see, backgrounds, config.world)] if words or backgrounds else []
    if read:
        lines.append("it reads these words as ones it was taught (WordNet): "
                     + ", ".join(f"{w} as {c}" for w, c in read.items()))
    return "; ".join(lines) or None


def wordnet_readings(config, *prompts: str | None) -> dict[str, str]:
    """The words of `prompts` that a model reading concepts (`text: concepts`) never saw in training
    but reads through WordNet, with the concept each is read as (data/lexicon.py `readings`)."""
    if not config.vocabulary or config.text != "concepts":
        return {}
    from kinetoscope.data.lexicon import readings, trained_concepts

    known = trained_concepts(config.vocabulary, config.world)
    vocabulary = set(config.vocabulary)
    return {w: c for p in prompts if p for w, c in readings(p, vocabulary, known).items()}
