"""A prompt's words: the one split that the vocabulary warning (kinetoscope/vocabulary.py), the
lexicon (lexicon.py) and the word encoder (models/words.py) share.

Imports nothing of ours, nor numpy or torch. It sits below both: the vocabulary reads the lexicon
(for the background colours a prompt asks for), so the lexicon takes this split from here, not from
the vocabulary, and the two form no circle of imports.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def words_of(prompt: str) -> list[str]:
    return _WORD.findall(prompt.lower())
