"""Does WordNet (data/wordnet.py) read a word the built-in model was never taught as the right
concept? The same test word_neighbours.py put to MiniLM: each word of the model's training
vocabulary that names a concept is left out in turn, with the words sharing its first four letters
("rise"/"rises"), and so are the anchor senses those words gave (an anchor is a sense of a
training word); the word is then read by the table's rule from the remaining anchors. The filler
words, which name nothing, should read as nothing. Needs a WordNet 3.0 database (Debian's
wordnet-base).

    python experiments/paraphrase/wordnet_neighbours.py [/usr/share/wordnet]
"""

import json
import sys

from kinetoscope.data import wordnet
from kinetoscope.data.lexicon import CONCEPTS, _stems
from kinetoscope.request import BUILTIN_WEIGHTS


def main(root: str) -> None:
    index, data, counts = wordnet.read_database(root)
    vocabulary = json.loads((BUILTIN_WEIGHTS / "pipeline.json").read_text())["vocabulary"]
    named = [w for w in vocabulary if w in CONCEPTS and not w.isdigit()]
    filler = [w for w in vocabulary if w not in CONCEPTS]

    def read(word: str, exclude: set[str]) -> list[str]:
        anchors = wordnet.anchor_senses(index, {c: tuple(s for s in senses if s.rsplit(".", 2)[0] not in exclude)
                                                for c, senses in wordnet.ANCHORS.items()})
        lemma = next((s for s in _stems(word) if any((s, p) in index for p in "nvar")), None)
        return wordnet.concepts_of(lemma, index, data, counts, anchors) if lemma else []

    tally = {"right": 0, "wrong": 0, "none": 0}
    print("left out -> read as (all readings, most likely first)")
    for w in named:
        family = {x for x in named if x[:4] == w[:4]} | {w}
        got = read(w, family)
        verdict = "none" if not got else "right" if got[0] == CONCEPTS[w] else "wrong"
        tally[verdict] += 1
        print(f"  {w:13s} {CONCEPTS[w]:9s} -> {', '.join(got) or '-':20s} {'' if verdict == 'right' else verdict}")
    print(f"{tally['right']} right, {tally['wrong']} wrong, {tally['none']} read as nothing, of {len(named)}")
    print("filler -> read as")
    for w in filler:
        print(f"  {w:13s} -> {', '.join(read(w, set())) or '-'}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/wordnet")
