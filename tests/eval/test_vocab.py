"""The eval suite over a model's own vocabulary (eval/vocab.py)."""

import json
from pathlib import Path

from kinetoscope.data.world import kept_apart
from kinetoscope.eval.suite import oracle_scene
from kinetoscope.eval.vocab import vocabulary_suite, world_of

BUILTIN_WORLD = json.loads((Path(__file__).parents[2] / "kinetoscope/weights/builtin/pipeline.json").read_text())["world"]


def test_the_quick_suite_scores_every_motion_shape_and_colour_of_the_world():
    suite = vocabulary_suite(BUILTIN_WORLD, quick=True)
    singles = [p.spec["objects"][0] for p in suite if p.group == "seen" and len(p.spec["objects"]) == 1]
    for key, wanted in (("motion", "motions"), ("shape", "shapes"), ("colour", "colours")):
        counts = {v: sum(o[key] == v for o in singles) for v in BUILTIN_WORLD[wanted]}
        assert min(counts.values()) >= len(singles) // (2 * len(counts)), (key, counts)
    assert len(singles) < len(vocabulary_suite(BUILTIN_WORLD)) / 2


def test_two_copies_are_asked_where_their_ground_truth_keeps_them_apart():
    cfg = world_of(BUILTIN_WORLD)
    for quick, share in ((True, 1.0), (False, 0.6)):
        pairs = [p for p in vocabulary_suite(BUILTIN_WORLD, quick=quick) if p.id.startswith("count")]
        assert pairs and all(len(p.spec["objects"]) == 2 for p in pairs)
        apart = [all(kept_apart(oracle_scene(p.spec, s, cfg)) for s in range(4)) for p in pairs]
        assert sum(apart) >= share * len(pairs), (quick, sum(apart), len(pairs))
    assert any(p.spec["objects"][0]["size"] == "large" for p in pairs)   # only shrunk where needed
