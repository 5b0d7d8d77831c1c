"""The concept reader (data/lexicon.py): every training phrasing of a scene reads as its scene's
concepts, and the background colour is told apart from the object's."""

import numpy as np
import torch

from kinetoscope.data.captions import canonical_caption, paraphrase_caption, random_caption
from kinetoscope.data.lexicon import concepts
from kinetoscope.data.world import WorldConfig, sample_scene
from kinetoscope.models.text import text_encoder


def test_synonyms_merge_and_filler_drops():
    assert concepts("a big red box drifting leftward rapidly") == ["large", "red", "square", "left", "fast"]
    assert concepts("one large red square moving left quickly") == ["large", "red", "square", "left", "fast"]
    assert concepts("a pair of grey balls rising") == ["two", "gray", "circle", "up"]
    assert concepts("") == []


def test_the_background_colour_is_not_the_objects():
    a = concepts("a red circle bouncing on a blue background")
    b = concepts("a blue circle bouncing on a red background")
    assert a == ["red", "circle", "bounce", "bg-blue"] and b == ["blue", "circle", "bounce", "bg-red"]
    assert concepts("against grey, a white star stays still") == ["bg-gray", "white", "star", "still"]
    assert concepts("in front of a black backdrop, a pink dot") == ["bg-black", "pink", "circle"]
    assert concepts("an image of a red box")[0] == "red"  # "of" alone is not a background
    # the background named before its colour, linked by a verb
    assert concepts("a red circle moving left, and the background is black") == ["red", "circle", "left", "bg-black"]
    assert concepts("the background is green and a red star moves up") == ["bg-green", "red", "star", "up"]
    assert concepts("a red star with the backdrop coloured blue") == ["red", "star", "bg-blue"]
    assert concepts("a red box is blue") == ["red", "square", "blue"]  # no background named: the object's
    # a link word skipped for "background is" does not make "on" a background's either
    assert concepts("a red box with the lid on is blue") == ["red", "square", "blue"]


def test_every_training_phrasing_names_its_scenes_colour_shape_motion_and_background():
    cfg = WorldConfig(height=32, width=32, frames=16, colours=("red", "blue", "purple", "white"),
                      shapes=("circle", "square", "triangle", "star"),
                      motions=("left", "right", "up", "down", "bounce", "still"), max_objects=2, group_prob=1.0,
                      background_colours=("black", "gray", "blue"))
    rng = np.random.default_rng(0)
    for i in range(200):
        scene = sample_scene(np.random.default_rng(i), cfg)
        o = scene.objects[0]
        got = concepts(random_caption(scene, rng))
        assert {o.colour, o.shape, o.motion} <= set(got), (random_caption(scene, rng), got)
        bg = [c for c in got if c.startswith("bg-")]
        assert bg in ([], [f"bg-{scene.background.colour}"])
        assert set(concepts(canonical_caption(scene))) >= {o.colour, o.shape, o.motion, f"bg-{scene.background.colour}"}


def test_held_out_paraphrase_words_are_not_read():
    # the eval's paraphrase group measures words the model was never taught: the reader does not know them
    cfg = WorldConfig(height=32, width=32, frames=16, shapes=("triangle",), motions=("up",), max_objects=1)
    scene = sample_scene(np.random.default_rng(3), cfg)
    para = paraphrase_caption(scene, np.random.default_rng(0))
    assert "triangle" not in concepts(para) and "up" not in concepts(para)


def test_the_concept_encoder_gives_one_input_for_two_phrasings():
    enc = text_encoder("concepts")
    s, m = enc(["a big red box drifting leftward rapidly", "one large red square moving left quickly"])
    assert m.tolist()[0] == m.tolist()[1]
    assert torch.equal(s[0], s[1])


WORLD = {"colours": ["red", "blue"], "shapes": ["circle", "square"], "motions": ["left", "down"],
         "background_colours": ["black"]}
VOCABULARY = ["a", "red", "blue", "black", "circle", "ball", "square", "moving", "left", "down", "downward",
              "on", "background"]


def test_trained_concepts_are_the_vocabulary_s_within_the_world():
    from kinetoscope.data.lexicon import trained_concepts

    # "black" is a word of the captions but only ever a background's colour
    assert trained_concepts(VOCABULARY, WORLD) == {"red", "blue", "circle", "square", "left", "down", "bg-black"}
    assert trained_concepts(None, WORLD) is None  # a model not limited to a vocabulary reads everything
    assert "bg-red" in trained_concepts(VOCABULARY)  # no world: every colour it names, either way


def test_concepts_a_model_never_trained_on_are_left_out_not_fed_as_noise():
    from kinetoscope.data.lexicon import trained_concepts

    known = trained_concepts(VOCABULARY, WORLD)
    assert concepts("a red ball falling on a blue background") == ["red", "circle", "fall", "bg-blue"]
    assert concepts("a red ball falling on a blue background", known) == ["red", "circle"]
    # "drop" reads as falling, which this world never drew; the direction it names is kept
    assert concepts("a blue box that drops downward, on a black background", known) == ["blue", "square", "down", "bg-black"]
    assert concepts("a black square moving left", known) == ["square", "left"]  # black: only backgrounds were
    enc = text_encoder("concepts", VOCABULARY, WORLD)
    s, m = enc(["a red ball falling on a blue background", "a red ball"])
    assert m.tolist()[0] == m.tolist()[1] and torch.equal(s[0], s[1])
    everything = text_encoder("concepts")  # no vocabulary recorded (a run's own encoder): every concept
    s, m = everything(["a red ball falling", "a red ball"])
    assert m.tolist()[0] != m.tolist()[1]
