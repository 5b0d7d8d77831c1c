"""A caption read as the world's concepts: each word that names a colour, shape, size, count, motion
or speed becomes that concept ("box" -> square, "drifting leftward" -> left, "rapidly" -> fast); a
colour in the background phrase becomes a background colour ("on blue" -> bg-blue); every other
word is dropped.

A trained model reads a word outside these lists through WordNet (data/wordnet.py: "orb" as
circle, "climbing" as up, "crimson" as red), as the concept it knows that the word's common senses
are; training does not (its captions' other words, "round" in "round dot", "sitting" in "sitting
still", read as nothing new there), so every training caption reads as the same concepts either way.

The synonyms are the training captions' own word lists (data/captions.py), so a model whose text
encoder reads concepts (`text: concepts`) sees one input per scene however it is phrased, and
"a red circle on a blue background" differs from "a blue circle on a red background", which a bag
of words cannot tell apart. Words outside the lists are dropped here and named by the vocabulary
warning (kinetoscope/vocabulary.py), as is a background colour the model's world never drew. The
held-out paraphrase lists are deliberately not read: the eval's paraphrase group measures words the
model was never taught.
"""

from __future__ import annotations

import json
from pathlib import Path

from kinetoscope.data.captions import (COLOUR_WORDS, COUNT_WORDS, SIZE_WORDS, SPEED_WORDS,
                                       _participle, _third)
from kinetoscope.data.scene import COLOURS, GEOMETRIC_SHAPES
from kinetoscope.data.words import words_of

BACKGROUND = "bg-"  # prefix of a background colour concept
_BG_BEFORE = {"on", "against", "over", "behind"}  # "on a blue background"; "in front of" below
_BG_AFTER = {"background", "backdrop", "backgrounds", "gradient", "field"}
_ARTICLES = {"a", "an", "the", "one"}
_BG_LINK = {"is", "was", "colored", "coloured"}  # "the background is blue", "a backdrop coloured blue"
GRAMMAR = _BG_BEFORE | _BG_AFTER | _ARTICLES | _BG_LINK  # words the reader parses, never read as concepts


def _forms(word: str) -> set[str]:
    """A word with its plural / third-person and -ing forms."""
    forms = {word, _third(word), word + "s"}
    if word.isalpha():
        forms.add(_participle(word))
    return forms


def _table() -> dict[str, str]:
    t: dict[str, str] = {}

    def put(concept: str, *words: str) -> None:
        for w in words:
            for f in _forms(w):
                t.setdefault(f, concept)

    for c in COLOURS:
        put(c, c)
    for c, syns in COLOUR_WORDS.items():
        put(c, *syns)
    put("circle", "circle", "disc", "dot", "ball")
    put("square", "square", "box", "block")
    put("ring", "ring", "hoop", "donut")
    for s in GEOMETRIC_SHAPES:
        put(s, s)
    for size, syns in SIZE_WORDS.items():
        put(size, *syns)
    for n, syns in COUNT_WORDS.items():
        put(syns[0], *(w for s in syns for w in s.split() if w not in ("a", "of")))
    for speed, phrases in SPEED_WORDS.items():
        put(speed, *(w for p in phrases for w in p.split() if w not in ("at", "a", "pace")))
    put("left", "left", "leftward")
    put("right", "right", "rightward")
    put("up", "up", "upward", "rise")
    put("down", "down", "downward", "sink", "descend")
    put("bounce", "bounce", "ricochet")
    put("still", "still", "rest", "stay")
    put("fall", "fall", "drop")
    put("orbit", "orbit")
    put("spin", "spin", "rotate")
    put("grow", "grow", "expand", "swell", "bigger", "larger")
    put("shrink", "shrink", "contract", "smaller")
    return t


CONCEPTS: dict[str, str] = _table()
SYNONYMS_TABLE = Path(__file__).with_name("wordnet_concepts.json")  # built by data/wordnet.py
SYNONYMS: dict[str, list[str]] = json.loads(SYNONYMS_TABLE.read_text())["words"]  # word -> concepts, likeliest first


def _stems(word: str) -> list[str]:
    """The word and the base forms it may be inflected from ("orbs" orb, "climbing" climb,
    "rising" rise, "dropped" drop, "rebounded" rebound, "bodies" body)."""
    out = [word]
    for suffix, adds in (("ies", ("y",)), ("es", ("", "e")), ("s", ("",)), ("ing", ("", "e")),
                         ("ed", ("", "e"))):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            out += [stem + a for a in adds]
            if suffix in ("ing", "ed") and len(stem) > 2 and stem[-1] == stem[-2]:
                out.append(stem[:-1])  # "dropped", "spinning"
    return out


def synonym(word: str, known: set[str] | None = None) -> str | None:
    """The concept WordNet reads `word` (or the word it is inflected from) as: the most likely one
    of those in `known` (`trained_concepts`; any where None); None where it reads as none of them."""
    ok = None if known is None else {k.removeprefix(BACKGROUND) for k in known}
    for stem in _stems(word):
        for c in SYNONYMS.get(stem, ()):
            if ok is None or c in ok:
                return c
    return None


def readings(prompt: str, vocabulary: set[str], known: set[str] | None = None) -> dict[str, str]:
    """The words of `prompt` outside `vocabulary` (the training captions' words) that are read
    through WordNet, with the concept each is read as."""
    return {w: c for w in words_of(prompt)
            if w not in vocabulary and w not in CONCEPTS and (c := synonym(w, known)) is not None}


def trained_concepts(vocabulary: list[str] | None, world: dict | None = None) -> set[str] | None:
    """The concepts a model was trained on: those its training captions' words name (pipeline.json
    "vocabulary"), an object's colour only where its world (pipeline.json "world") drew objects in
    it and a background colour only where it drew backgrounds in it (else any colour the words
    name); None where it records no vocabulary (it is not limited to one)."""
    if not vocabulary:
        return None
    named = {CONCEPTS[w] for w in vocabulary if w in CONCEPTS}
    world = world or {}
    objects = set(world.get("colours") or named)
    backgrounds = world.get("background_colours") or [c for c in named if c in COLOURS]
    return {c for c in named if c not in COLOURS or c in objects} | {BACKGROUND + c for c in backgrounds}


def concepts(prompt: str, known: set[str] | None = None, synonyms: bool = False) -> list[str]:
    """The prompt's concepts in order, once each (a colour in a background phrase as bg-<colour>);
    with `known` (`trained_concepts`), only those: a concept the model never trained on ("falling"
    for a model that only moves things up, down, left and right) is a vector it never learned to
    read, so it is left out rather than added as noise (the vocabulary warning names its word). With
    `synonyms` (a trained model reading a prompt), a word outside the lists is read through WordNet."""
    words = words_of(prompt)
    out = []
    for i, w in enumerate(words):
        c = CONCEPTS.get(w)
        if c is None and synonyms:
            c = synonym(w, known)
        if c is None:
            continue
        if c in COLOURS:
            j = i - 1
            while j >= 0 and words[j] in _ARTICLES:
                j -= 1
            after = words[i + 1] if i + 1 < len(words) else ""
            before = j >= 0 and words[j] in _BG_BEFORE  # "on blue", not "on is blue"
            front = j >= 1 and words[j] == "of" and words[j - 1] == "front"
            while j >= 1 and words[j] in _BG_LINK:
                j -= 1
            named = j >= 0 and words[j] in _BG_AFTER and words[j + 1] in _BG_LINK  # "background is blue"
            if before or front or named or after in _BG_AFTER:
                c = BACKGROUND + c
        if known is None or c in known:
            out.append(c)
    return list(dict.fromkeys(out))
