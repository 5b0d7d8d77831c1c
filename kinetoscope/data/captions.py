"""Captions for world scenes: random training phrasings, one canonical
phrasing (the eval prompt suite), and held-out paraphrases.

Three writers share one grammar (noun phrase + verb phrase + background +
camera) but draw from different word lists and sentence templates:

- `random_caption`: TRAIN lexicon and templates, many synonyms and orders.
- `canonical_caption`: one fixed phrasing, e.g.
  "a small red circle moving right slowly on a blue background".
- `paraphrase_caption`: PARAPHRASE lexicon and templates, none of which is
  ever used by `random_caption`, so eval can measure generalisation to
  phrasings the model never saw.

Verb phrases are stored in base form ("drift left") and conjugated: the first
word is a verb, and so is any word marked with "+" ("fall and +bounce").
"""

from __future__ import annotations

import numpy as np

from .scene import DIRECTIONS, Scene, SceneObject

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
COUNT_WORDS = {2: ("two", "2", "a pair of"), 3: ("three", "3")}

# ---- training lexicon ------------------------------------------------------
SHAPE_WORDS = {
    "circle": ("circle", "disc", "round dot", "dot", "ball"),
    "square": ("square", "box", "block"),
    "triangle": ("triangle",),
    "star": ("star", "five-pointed star"),
    "ring": ("ring", "hoop", "donut"),
    "digit": ("digit {d}", "number {d}", "{d}"),
}
SIZE_WORDS = {"small": ("small", "little", "tiny"),
              "medium": ("medium", "medium-sized", "mid-sized"),
              "large": ("large", "big", "huge")}
COLOUR_WORDS = {"gray": ("gray", "grey"), "purple": ("purple", "violet")}
MOTION_WORDS = {
    "left": ("move left", "move to the left", "go to the left", "drift left", "head left",
             "slide to the left", "travel leftward"),
    "right": ("move right", "move to the right", "go to the right", "drift right", "head right",
              "slide to the right", "travel rightward"),
    "up": ("move up", "go up", "move upward", "rise", "drift upward", "float up", "head up"),
    "down": ("move down", "go down", "move downward", "sink", "drift down", "slide down",
             "head down", "descend"),
    "diagonal": ("move {v} and to the {h}", "drift {v} and {h}", "head toward the {vt} {h}",
                 "move diagonally {v}-{h}", "slide {v} and to the {h}"),
    "bounce": ("bounce around", "bounce off the walls", "bounce", "ricochet around"),
    "fall": ("fall", "fall and +bounce", "drop to the floor", "fall under gravity",
             "drop and +bounce"),
    "orbit": ("orbit the centre", "circle around the middle", "move in a circle",
              "go around in a circle", "orbit around the center"),
    "spin": ("spin", "rotate", "spin in place", "rotate in place", "spin around"),
    "grow": ("grow", "grow larger", "get bigger", "expand", "swell"),
    "shrink": ("shrink", "get smaller", "contract", "shrink down"),
    "still": ("stay still", "sit still", "stay in place", "rest", "remain still"),
}
SPEED_WORDS = {"slow": ("slowly", "gently", "at a slow pace"),
               "fast": ("quickly", "fast", "rapidly", "swiftly")}
BACKGROUND_WORDS = {
    "plain": ("on {a} {c} background", "against {c}", "against {a} {c} background",
              "over {a} {c} backdrop", "on {c}", "in front of {a} {c} background"),
    "gradient": ("on {a} {c} gradient", "against {a} {c} gradient background",
                 "over a fading {c} backdrop", "on {a} {c} background"),
    "textured": ("on a textured {c} background", "against a patterned {c} backdrop",
                 "on {a} {c} {t} background", "on {a} {c} background"),
}
TEXTURE_WORDS = {"stripes": "striped", "checker": "checkered", "blotches": "mottled"}
CAMERA_WORDS = {
    "pan-left": ("the camera pans left", "the camera pans to the left", "the view pans left"),
    "pan-right": ("the camera pans right", "the camera pans to the right", "the view pans right"),
    "pan-up": ("the camera pans up", "the camera tilts up", "the view pans upward"),
    "pan-down": ("the camera pans down", "the camera tilts down", "the view pans downward"),
    "zoom-in": ("the camera zooms in", "the view zooms in", "the camera pushes in"),
    "zoom-out": ("the camera zooms out", "the camera pulls back", "the view zooms out"),
}
RELATION_WORDS = {"left": ("to the left of", "left of"), "right": ("to the right of", "right of"),
                  "above": ("above",), "below": ("below", "beneath", "under")}

# ---- held-out paraphrase lexicon (never used for training captions) ---------
PARA_SHAPE_WORDS = {
    "circle": ("orb", "round shape"), "square": ("square tile", "four-sided block"),
    "triangle": ("triangular shape", "three-cornered shape"), "star": ("star shape", "starburst"),
    "ring": ("loop", "doughnut shape"), "digit": ("numeral {d}", "figure {d}"),
}
PARA_MOTION_WORDS = {
    "left": ("make {its} way to the left", "scoot leftward", "travel toward the left edge"),
    "right": ("make {its} way to the right", "scoot rightward", "travel toward the right edge"),
    "up": ("climb", "ascend", "travel toward the top"),
    "down": ("make {its} way down", "travel toward the bottom", "drop downward"),
    "diagonal": ("travel toward the {vt}-{h} corner", "make {its} way {v} and {h}"),
    "bounce": ("rebound off the edges", "bounce from wall to wall"),
    "fall": ("plummet and rebound", "drop under gravity"),
    "orbit": ("revolve around the middle", "travel in a loop around the centre"),
    "spin": ("twirl", "turn round and round"),
    "grow": ("enlarge", "become larger"),
    "shrink": ("become smaller", "diminish"),
    "still": ("stay motionless", "hold {its} position"),
}
PARA_SPEED_WORDS = {"slow": ("at a leisurely pace", "unhurriedly"),
                    "fast": ("at high speed", "briskly")}
PARA_BACKGROUND = ("set against {a} {c} field", "with {a} {c} backdrop behind {it}",
                   "and the background is {c}")
PARA_CAMERA = {"pan-left": "the shot sweeps leftward", "pan-right": "the shot sweeps rightward",
               "pan-up": "the shot sweeps upward", "pan-down": "the shot sweeps downward",
               "zoom-in": "the shot moves closer", "zoom-out": "the shot widens"}

_PARTICIPLE = {"spin": "spinning", "sit": "sitting", "drop": "dropping", "travel": "travelling",
               "get": "getting"}


def _participle(verb: str) -> str:
    if verb in _PARTICIPLE:
        return _PARTICIPLE[verb]
    if verb.endswith("e") and not verb.endswith("ee"):
        return verb[:-1] + "ing"
    return verb + "ing"


def _third(verb: str) -> str:
    if verb == "go":
        return "goes"
    if verb.endswith(("s", "sh", "ch", "x")):
        return verb + "es"
    return verb + "s"


def conjugate(phrase: str, form: str, plural: bool) -> str:
    """Conjugate a base-form verb phrase: form is base | ing | finite."""
    words = phrase.split(" ")
    for i, w in enumerate(words):
        if i == 0 or w.startswith("+"):
            w = w.lstrip("+")
            if form == "ing":
                w = _participle(w)
            elif form == "finite" and not plural:
                w = _third(w)
            words[i] = w
    return " ".join(words).replace("{its}", "their" if plural else "its")


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _shape_noun(obj: SceneObject, plural: bool, words: dict, rng) -> str:
    if obj.shape.isdigit():
        w = _pick(rng, words["digit"]).format(d=obj.shape)
        if plural and words is SHAPE_WORDS:
            return _pick(rng, (f"{obj.shape}s", DIGIT_WORDS[int(obj.shape)] + "s"))
        return w + "s" if plural else w
    w = _pick(rng, words[obj.shape])
    if not plural:
        return w
    return w + ("es" if w.endswith(("x", "s")) else "s")


def _motion_phrase(obj: SceneObject, words: dict, speed_words: dict, rng, p_speed: float) -> str:
    m = obj.motion
    if m in DIRECTIONS and "-" in m:
        v, h = m.split("-")
        phrase = _pick(rng, words["diagonal"]).format(
            v=v, h=h, vt="top" if v == "up" else "bottom", its="{its}")
    else:
        phrase = _pick(rng, words[m])
    if obj.speed and m != "still" and rng.random() < p_speed:
        phrase = f"{phrase} {_pick(rng, speed_words[obj.speed])}"
    return phrase


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou8" else "a"


def _noun_phrase(obj: SceneObject, count: int, rng, shape_words: dict, p_size: float) -> str:
    colour = _pick(rng, COLOUR_WORDS.get(obj.colour, (obj.colour,)))
    size = _pick(rng, SIZE_WORDS[obj.size]) if rng.random() < p_size else ""
    noun = _shape_noun(obj, count > 1, shape_words, rng)
    body = " ".join(w for w in (size, colour, noun) if w)
    if count == 1:
        det = _pick(rng, ("a", "a", "a", "one", "a single"))
        return f"{_article(body) if det == 'a' else det} {body}"
    return f"{_pick(rng, COUNT_WORDS[count])} {body}"


def _background_phrase(scene: Scene, rng) -> str:
    bg = scene.background
    colour = _pick(rng, COLOUR_WORDS.get(bg.colour, (bg.colour,)))
    t = TEXTURE_WORDS.get(bg.params.get("texture", ""), "textured")
    return _pick(rng, BACKGROUND_WORDS[bg.kind]).format(c=colour, t=t, a=_article(colour))


def relation(a: SceneObject, b: SceneObject, min_gap: float = 4.0) -> str | None:
    """Where a is relative to b in the first frame: left/right/above/below."""
    (ax, ay), (bx, by) = a.track[0], b.track[0]
    dx, dy = ax - bx, ay - by
    if max(abs(dx), abs(dy)) < min_gap:
        return None
    if abs(dx) >= abs(dy):
        return "left" if dx < 0 else "right"
    return "above" if dy < 0 else "below"


def _units(scene: Scene) -> list[tuple[SceneObject, int]]:
    """(object, count) pairs: a group is one unit with count n."""
    if scene.layout == "group":
        return [(scene.objects[0], len(scene.objects))]
    return [(o, 1) for o in scene.objects]


def random_caption(scene: Scene, rng: np.random.Generator) -> str:
    """A training caption in one of many phrasings."""
    still_image = scene.frames == 1
    units = _units(scene)
    nps = [_noun_phrase(o, n, rng, SHAPE_WORDS, 0.8) for o, n in units]
    vps = [_motion_phrase(o, MOTION_WORDS, SPEED_WORDS, rng, 0.7) for o, _ in units]
    plural = [n > 1 for _, n in units]
    bg = _background_phrase(scene, rng) if rng.random() < 0.85 else ""
    sbg = f" {bg}" if bg else ""
    if still_image:
        text = " and ".join(nps) + sbg
        return text if rng.random() < 0.7 else f"an image of {text}"
    ing = [conjugate(v, "ing", p) for v, p in zip(vps, plural)]
    fin = [conjugate(v, "finite", p) for v, p in zip(vps, plural)]
    if len(units) == 1:
        form = int(rng.integers(5))
        if form == 0:
            text = f"{nps[0]} {ing[0]}{sbg}"
        elif form == 1:
            text = f"{nps[0]} {fin[0]}{sbg}"
        elif form == 2 and bg:
            text = f"{bg}, {nps[0]} {fin[0]}"
        elif form == 3:
            text = f"there {'are' if plural[0] else 'is'} {nps[0]} {ing[0]}{sbg}"
        else:
            text = f"{nps[0]}{sbg}, {ing[0]}"
    else:
        rel = relation(units[0][0], units[1][0]) if len(units) == 2 else None
        form = int(rng.integers(3 if rel else 2))
        if form == 0:
            parts = [f"{n} {v}" for n, v in zip(nps, ing)]
            text = ", ".join(parts[:-1]) + f" and {parts[-1]}{sbg}"
        elif form == 1:
            parts = [f"{n} {v}" for n, v in zip(nps, fin)]
            text = ", ".join(parts[:-1]) + f" while {parts[-1]}{sbg}"
        else:
            a, b = (_shape_noun(o, False, SHAPE_WORDS, rng) for o, _ in units)
            text = (f"{nps[0]} {_pick(rng, RELATION_WORDS[rel])} {nps[1]}{sbg}; "
                    f"the {a} {fin[0]} and the {b} {fin[1]}")
    if scene.camera.motion != "none":
        cam = _pick(rng, CAMERA_WORDS[scene.camera.motion])
        form = int(rng.integers(3))
        if form == 0 and len(units) == 1:
            text = f"{cam} over {nps[0]} {ing[0]}{sbg}"
        elif form == 1:
            text = f"{text} as {cam}"
        else:
            text = f"{text} while {cam}"
    return text


_CANON_MOTION = {"bounce": "bouncing", "fall": "falling", "orbit": "orbiting",
                 "spin": "spinning", "grow": "growing", "shrink": "shrinking",
                 "still": "standing still"}


def canonical_caption(scene: Scene) -> str:
    """The one fixed phrasing used by the eval prompt suite."""
    clauses = []
    for o, n in _units(scene):
        shape = f"digit {o.shape}" if o.shape.isdigit() else o.shape
        if n > 1:
            shape = f"digit {o.shape}s" if o.shape.isdigit() else shape + "s"
        det = COUNT_WORDS[n][0] if n > 1 else _article(o.size)
        clause = f"{det} {o.size} {o.colour} {shape}"
        if scene.frames > 1:
            move = _CANON_MOTION.get(o.motion) or f"moving {o.motion.replace('-', ' and ')}"
            speed = {"slow": " slowly", "fast": " quickly"}.get(o.speed or "", "")
            clause += f" {move}{speed if o.motion != 'still' else ''}"
        clauses.append(clause)
    text = clauses[0] if len(clauses) == 1 else ", ".join(clauses[:-1]) + " and " + clauses[-1]
    bg = scene.background
    kind = {"plain": "", "gradient": " gradient", "textured": " textured"}[bg.kind]
    text += f" on {_article(bg.colour)} {bg.colour}{kind} background"
    if scene.camera.motion != "none" and scene.frames > 1:
        verb, _, how = scene.camera.motion.partition("-")
        text += f", camera {verb}s {how}"
    return text


def paraphrase_caption(scene: Scene, rng: np.random.Generator) -> str:
    """A caption built only from held-out words and templates."""
    units = _units(scene)
    nps = []
    for o, n in units:
        colour = o.colour
        noun = _shape_noun(o, n > 1, PARA_SHAPE_WORDS, rng)
        det = COUNT_WORDS[n][0] if n > 1 else _article(o.size)
        nps.append(f"{det} {o.size} {colour} {noun}")
    plural = units[0][1] > 1 or len(units) > 1
    subject = nps[0] if len(nps) == 1 else ", ".join(nps[:-1]) + " and " + nps[-1]
    bg = _pick(rng, PARA_BACKGROUND).format(c=scene.background.colour,
                                             a=_article(scene.background.colour),
                                             it="them" if plural else "it")
    if scene.frames == 1:
        return f"a picture showing {subject}, {bg}"
    vps = [_motion_phrase(o, PARA_MOTION_WORDS, PARA_SPEED_WORDS, rng, 0.7) for o, _ in units]
    if len(units) == 1:
        p = units[0][1] > 1
        form = int(rng.integers(3))
        if form == 0:
            text = f"a video of {subject} that {conjugate(vps[0], 'finite', p)}, {bg}"
        elif form == 1:
            pron = "they" if p else "it"
            text = f"footage showing {subject} as {pron} {conjugate(vps[0], 'finite', p)}, {bg}"
        else:
            text = f"watch {subject} {conjugate(vps[0], 'base', p)}, {bg}"
    else:
        acts = [f"{n} {conjugate(v, 'finite', c > 1)}" for n, v, (_, c) in zip(nps, vps, units)]
        text = "a clip in which " + "; meanwhile ".join(acts) + f", {bg}"
    if scene.camera.motion != "none":
        text += f", while {PARA_CAMERA[scene.camera.motion]}"
    return text
