"""Words a model was never taught, read through WordNet (data/wordnet.py, data/lexicon.py): the
table's rules on a small WordNet-format database, the shipped table rebuilt from Debian's WordNet,
and the reader: only a trained model reads them, only as concepts it knows, and never so that a
training caption reads differently."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from kinetoscope.data import wordnet
from kinetoscope.data.captions import random_caption
from kinetoscope.data.lexicon import CONCEPTS, GRAMMAR, SYNONYMS, concepts, readings, synonym, trained_concepts
from kinetoscope.data.world import sample_scene
from kinetoscope.eval.vocab import world_of
from kinetoscope.request import read_config

# (pos, offset): (words, pointers as (relation, pos, offset, source/target hex)) -- a few senses of a
# made-up database in WordNet 3.0's file format
SYNSETS = {
    ("n", 100): (["circle"], []),
    ("n", 300): (["eyeball", "orb"], []),                             # sense 1 of "orb"
    ("n", 200): (["ball", "globe", "orb"], []),                       # sense 2 of "orb"
    ("n", 400): (["marble"], [("@", "n", 200, "0000")]),             # a kind of ball
    ("a", 500): (["round", "circular"], []),
    ("a", 550): (["spherical", "globular"], [("+", "n", 200, "0201")]),  # "globular" (word 2) from ball
    ("a", 600): (["roundish"], [("&", "a", 500, "0000")]),           # similar to round
    ("n", 700): (["set"], []),
    ("a", 800): (["set", "fixed"], [("&", "a", 500, "0000")]),       # a rare sense of "set"
    ("n", 900): (["disc", "disk"], []),
    ("n", 910): (["record", "disc"], []), ("n", 920): (["drive", "disc"], []),
    ("n", 930): (["plate", "disc"], [("@", "n", 100, "0000")]),      # "disc"'s 4th sense
    ("n", 950): (["round_shape"], [("@", "n", 100, "0000")]),        # two words: not read
    ("v", 1000): (["descend"], []),
    ("v", 1100): (["ascend", "mount"], [("!", "v", 1000, "0101")]),   # "ascend" (word 1) is descend's antonym
}
COUNTS = {("orb", "n", 1): 2, ("set", "n", 1): 30, ("set", "a", 1): 1}
ANCHORS = {"circle": ("circle.n.1", "ball.n.1", "round.a.1"), "down": ("descend.v.1",)}  # senses in SYNSETS' order


def write_database(root: Path) -> Path:
    root.mkdir()
    for pos, name in wordnet._FILES.items():
        senses: dict[str, list[int]] = {}
        lines = []
        for (p, off), (words, pointers) in SYNSETS.items():
            if p != pos:
                continue
            for w in words:
                senses.setdefault(w, []).append(off)
            ptrs = " ".join(f"{r} {o:08d} {tp} {st}" for r, tp, o, st in pointers)
            ws = " ".join(f"{w} 0" for w in words)
            lines.append(f"{off:08d} 00 {pos} {len(words):02x} {ws} {len(pointers):03d} {ptrs} | a gloss")
        (root / f"data.{name}").write_text("  1 licence header\n" + "\n".join(lines) + "\n")
        index = [f"{w} {pos} {len(offs)} 0 {len(offs)} 0 " + " ".join(f"{o:08d}" for o in offs)
                 for w, offs in sorted(senses.items())]
        (root / f"index.{name}").write_text("  1 licence header\n" + "\n".join(index) + "\n")
    kind = {"n": 1, "v": 2, "a": 3, "r": 4}
    (root / "cntlist.rev").write_text("".join(f"{w}%{kind[p]}:00:00:: {n} {c}\n" for (w, p, n), c in COUNTS.items()))
    return root


def test_the_table_s_rules(tmp_path):
    table = wordnet.build(write_database(tmp_path / "wn"), skip={"circle", "ball", "descend"}, anchors=ANCHORS)
    assert table["orb"] == ["circle"]        # its second sense is an anchor (a ball)
    assert table["globe"] == ["circle"] and table["marble"] == ["circle"]  # a synonym; a kind of one
    assert table["globular"] == ["circle"]   # derived from an anchor
    assert "spherical" not in table          # ... the derivation is "globular"'s, not "spherical"'s
    assert table["roundish"] == ["circle"] and table["circular"] == ["circle"]  # similar to one; in one
    assert "fixed" in table and "set" not in table                # its sense similar to "round" is rare: 30 nouns for 1
    assert "disc" not in table               # the anchor is its 4th sense: past SENSES
    assert "circle" not in table and "ball" not in table  # skipped (training words)
    assert not any("_" in w for w in table)  # "round_shape": two words, not read
    assert table["ascend"] == ["up"]         # the antonym of an anchor of down: down's opposite
    assert "mount" not in table              # ... the antonym is "ascend"'s, not its synonym's


def test_the_shipped_table_reads_common_synonyms_and_no_training_word():
    table = SYNONYMS
    assert len(table) > 300
    for word, concept in {"orb": "circle", "crimson": "red", "scarlet": "red", "azure": "blue", "climb": "up", "ascend": "up",
                          "soar": "up", "plunge": "down", "rebound": "bounce", "motionless": "still",
                          "triangular": "triangle", "cube": "square", "enormous": "large", "tiny": None,
                          "twirl": "spin", "dragon": None}.items():
        assert (concept in table.get(word, [])) if concept else word not in table, word
    assert not set(table) & (set(CONCEPTS) | GRAMMAR)
    known = set(CONCEPTS.values()) | {"three"}
    assert all(set(cs) <= known for cs in table.values())


@pytest.mark.skipif(not Path("/usr/share/wordnet/data.noun").exists()
                    and os.environ.get("KINETOSCOPE_REQUIRE_SERVICES") != "1",
                    reason="no WordNet database (Debian: apt-get install wordnet-base)")
def test_the_shipped_table_is_what_wordnet_rebuilds():
    rebuilt = wordnet.build("/usr/share/wordnet")
    assert rebuilt == SYNONYMS


def test_a_trained_model_reads_them_as_the_concepts_it_knows():
    prompt = "a crimson orb climbing on an azure background"
    assert concepts(prompt) == []  # training's reader: only its own words
    assert concepts(prompt, synonyms=True) == ["red", "orbit", "up", "bg-blue"]  # orb: orbit is more common
    known = {"red", "circle", "up", "bg-black"}
    assert concepts(prompt, known, synonyms=True) == ["red", "circle", "up"]  # no orbit, no blue backgrounds
    assert concepts("two orbs rebounded", synonyms=True) == ["two", "orbit", "bounce"]  # inflected forms
    assert synonym("climbs") == synonym("climbing") == "up" and synonym("dragon") is None
    assert readings(prompt, {"a", "on", "an", "background"}, known) == {"crimson": "red", "orb": "circle",
                                                                         "climbing": "up"}


def test_no_training_caption_of_the_built_in_world_reads_differently():
    config = read_config(None)
    cfg = world_of(config.world, height=32, width=32, frames=16)
    known = trained_concepts(config.vocabulary, config.world)
    rng = np.random.default_rng(0)
    for i in range(300):
        caption = random_caption(sample_scene(np.random.default_rng(i), cfg), rng)
        assert concepts(caption, known, synonyms=True) == concepts(caption, known), caption


def test_the_warning_says_how_it_read_them(tmp_path):
    from kinetoscope.vocabulary import prompt_warning

    builtin = read_config(None)
    line = prompt_warning(builtin, "a crimson orb climbing")
    assert line == "it reads these words as ones it was taught (WordNet): crimson as red, orb as circle, climbing as up"
    line = prompt_warning(builtin, "a crimson dragon climbing")
    assert "so it draws nothing reliable for them: dragon (" in line and "crimson" not in line.split("(")[0]
    assert line.endswith("; it reads these words as ones it was taught (WordNet): crimson as red, climbing as up")
    folder = tmp_path / "minilm"
    folder.mkdir()
    (folder / "pipeline.json").write_text(json.dumps({"vocabulary": builtin.vocabulary, "text": "minilm"}))
    assert "WordNet" not in prompt_warning(read_config(folder), "a crimson orb")  # it reads no concepts
