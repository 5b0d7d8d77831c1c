"""Words a model was never taught, read as the world's concepts through WordNet.

A model whose text side reads concepts (data/lexicon.py) knows only its training captions' words:
"an orb climbing" names nothing it can draw. WordNet (Princeton's lexical database of English)
knows that an orb is "an object with a spherical shape" and that to climb is a way to rise. This
module names each concept by the WordNet senses it means (ANCHORS, written once, as ImageNet names
its classes by WordNet synsets) and maps every other English word to the concepts its commonest
senses are, or point to in one step: a sense similar to one, derived from one, a pertainym of one,
or a kind of one (its hypernym); or the opposite concept where a sense is the antonym of one
("ascend", whose antonym is "descend", reads as up). The table it builds ships with the package
(wordnet_concepts.json, read by lexicon.py), so reading a prompt needs no WordNet at run time.

Rebuild the table from a WordNet 3.0 database folder (Debian's `wordnet-base` installs one):

    python -m kinetoscope.data.wordnet /usr/share/wordnet

No word list of the evaluation enters here: the anchors are senses of the training words.
WordNet 3.0 Copyright 2006 by Princeton University; its licence is in WORDNET_LICENSE beside this file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kinetoscope.data.lexicon import CONCEPTS, GRAMMAR, SYNONYMS_TABLE
from kinetoscope.data.scene import OPPOSITE

_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
SENSES = 3  # a word's first senses per part of speech that may be read (WordNet lists commonest first)
SHARE = 4   # ... and of those only the ones tagged at least 1/SHARE as often as its commonest sense
            # (counts + 1, WordNet's cntlist): "set" is far more often "put" than "fixed"
RELATIONS = {"&": "similar to", "+": "derived from", "\\": "pertainym of", "@": "kind of",
             "@i": "instance of"}
ANTONYM = "!"  # a sense whose antonym is an anchor of a concept reads as that concept's opposite
_PAIRS = [("large", "small"), ("fast", "slow"), ("grow", "shrink"), ("black", "white")]
OPPOSITES = {**{d: o for d, o in OPPOSITE.items() if d in CONCEPTS.values()},  # left/right, up/down
             **dict(_PAIRS), **{b: a for a, b in _PAIRS}}

# concept -> the WordNet senses that mean it, as word.pos.N (the N-th sense of the word in that part
# of speech, WordNet's own order), chosen from the senses of the concept's training words (and,
# for "still", the head adjective of its cluster, "nonmoving", whose satellites it is one of)
ANCHORS: dict[str, tuple[str, ...]] = {
    "red": ("red.n.1", "red.a.1"), "orange": ("orange.n.2", "orange.a.1"),
    "yellow": ("yellow.n.1", "yellow.a.1"), "green": ("green.n.1", "green.a.1"),
    "cyan": ("cyan.n.1", "cyan.a.1"), "blue": ("blue.n.1", "blue.a.1"),
    "purple": ("purple.n.1", "purple.a.1"), "pink": ("pink.n.1", "pink.a.1"),
    "white": ("white.n.2", "white.a.1"), "black": ("black.n.1", "black.a.1"),
    "gray": ("gray.n.1", "gray.a.1"),
    "circle": ("circle.n.1", "circle.n.3", "disc.n.2", "disc.n.4", "dot.n.1", "ball.n.1", "ball.n.3",
               "ball.n.6", "round.a.1"),
    "square": ("square.n.1", "square.n.4", "box.n.5", "block.n.1", "block.n.3"),
    "triangle": ("triangle.n.1", "triangle.n.2"),
    "star": ("star.n.5",),
    "ring": ("ring.n.2", "hoop.n.2"),
    "small": ("small.a.1",), "medium": ("medium.a.1",), "large": ("large.a.1",),
    "two": ("two.n.1", "two.a.1", "pair.n.2"), "three": ("three.n.1", "three.a.1"),
    "fast": ("fast.r.1", "fast.a.1", "quickly.r.1"), "slow": ("slow.a.1", "slowly.r.1"),
    "left": ("left.r.1", "left.a.1"), "right": ("right.r.4", "right.a.1"),
    "up": ("up.r.1", "up.a.1", "up.a.4", "rise.v.1"),
    "down": ("down.r.1", "down.a.1", "down.a.2", "sink.v.1", "descend.v.1"),
    "bounce": ("bounce.v.1", "bounce.v.3"),
    "still": ("still.a.1", "nonmoving.a.1", "rest.v.1", "stay.v.2"),
    "fall": ("fall.v.1", "drop.v.2"),
    "orbit": ("orbit.v.1",), "spin": ("spin.v.1", "rotate.v.1"),
    "grow": ("grow.v.2", "expand.v.2"), "shrink": ("shrink.v.3",),
}


def read_database(root: str | Path):
    """WordNet's index, data and sense-count files: {(word, pos): [synset offsets]},
    {(pos, offset): ([words], [(relation, pos, offset, source word number)])} and
    {(word, pos, sense number): times tagged in WordNet's corpus}."""
    root = Path(root)
    index: dict[tuple[str, str], list[int]] = {}
    data: dict[tuple[str, int], tuple[list[str], list[tuple[str, str, int, int]]]] = {}
    for pos, name in _FILES.items():
        for line in (root / f"index.{name}").read_text(encoding="latin-1").splitlines():
            if line.startswith(" ") or not line.strip():
                continue  # the licence header
            t = line.split()
            n_synsets, n_pointers = int(t[2]), int(t[3])
            rest = t[4 + n_pointers:]
            index[(t[0], pos)] = [int(o) for o in rest[2:2 + n_synsets]]
        for line in (root / f"data.{name}").read_text(encoding="latin-1").splitlines():
            if line.startswith(" ") or not line.strip():
                continue
            t = line.split(" | ")[0].split()
            n_words = int(t[3], 16)
            words = [t[4 + 2 * i].lower().split("(")[0] for i in range(n_words)]
            k = 4 + 2 * n_words
            pointers = []
            for _ in range(int(t[k])):
                rel, off, tpos, source_target = t[k + 1:k + 5]
                pointers.append((rel, "a" if tpos == "s" else tpos, int(off), int(source_target[:2], 16)))
                k += 4
            data[(pos, int(t[0]))] = (words, pointers)
    counts: dict[tuple[str, str, int], int] = {}
    for line in (root / "cntlist.rev").read_text(encoding="latin-1").splitlines():
        key, number, count = line.split()
        word, _, kind = key.partition("%")
        counts[(word, "nvara"[int(kind[0]) - 1], int(number))] = int(count)
    return index, data, counts


def anchor_senses(index, anchors: dict[str, tuple[str, ...]]) -> dict[tuple[str, int], str]:
    """{(pos, offset): concept} for `anchors`' word.pos.N names."""
    out = {}
    for concept, names in anchors.items():
        for name in names:
            word, pos, n = name.rsplit(".", 2)
            out[(pos, index[(word, pos)][int(n) - 1])] = concept
    return out


def concepts_of(word: str, index, data, counts, anchors: dict[tuple[str, int], str]) -> list[str]:
    """The concepts `word` reads as, most likely first: its common senses (SENSES, SHARE), most
    often tagged first, that are an anchor, else point to one (or are the antonym of one: the
    opposite concept)."""
    senses = sorted(((counts.get((word, pos, n + 1), 0), n, pos, offset)
                     for pos in "nvar" for n, offset in enumerate(index.get((word, pos), [])[:SENSES])),
                    key=lambda s: (-s[0], s[1], "nvar".index(s[2])))  # most tagged, then WordNet's order
    most = senses[0][0]
    found: list[str] = []
    for count, _, pos, offset in senses:
        if (count + 1) * SHARE < most + 1:
            break
        words, pointers = data[(pos, offset)]
        mine = [(rel, anchors.get((tpos, toffset))) for rel, tpos, toffset, source in pointers
                if source == 0 or words[source - 1] == word]  # the sense's pointers and this word's own
        hits = [anchors.get((pos, offset))] + [c for rel, c in mine if rel in RELATIONS] + [
            OPPOSITES.get(c) for rel, c in mine if rel == ANTONYM]
        for c in hits:
            if c and c not in found:
                found.append(c)
    return found


def build(root: str | Path, skip: set[str] | None = None,
          anchors: dict[str, tuple[str, ...]] = ANCHORS) -> dict[str, list[str]]:
    """{word: concepts} for every one-word WordNet lemma not in `skip` (default: the lexicon's own
    words and the ones its grammar parses) that reads as a concept."""
    skip = set(CONCEPTS) | GRAMMAR if skip is None else skip
    index, data, counts = read_database(root)
    anchors = anchor_senses(index, anchors)
    words = sorted({w for w, _ in index if "_" not in w and w.replace("-", "").isalpha()} - skip)
    return {w: cs for w in words if (cs := concepts_of(w, index, data, counts, anchors))}


def main(argv: list[str]) -> None:
    root = argv[0] if argv else "/usr/share/wordnet"
    table = build(root)
    SYNONYMS_TABLE.write_text(json.dumps({"source": "WordNet 3.0 (Princeton University), see WORDNET_LICENSE; "
                                           "built by python -m kinetoscope.data.wordnet",
                                 "words": table}, indent=0, sort_keys=True) + "\n")
    print(f"{len(table)} words -> {SYNONYMS_TABLE}")


if __name__ == "__main__":
    main(sys.argv[1:])
