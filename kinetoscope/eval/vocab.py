"""The eval suite over a model's own vocabulary (pipeline.json's "world"): every (colour, shape,
motion) the world can draw, one clip each on a background colour it allows, canonical captions;
compositions training never shows (HELD_OUT) form the "heldout" group, and every third seen one
captioned with held-out words and templates the "paraphrase" group. Where the world draws two
objects (`max_objects`), every `pair_every`-th seen scene is also asked for as two copies ("two red
stars moving left"), scored in "seen" (the count), placed again or made a size smaller until the two
copies are kept apart, as training's placement does. `quick` keeps every third composition, rotating
the kept motion from one (colour, shape) to the next so that every motion is scored. A model trained
on a narrow world is scored on what it was taught, with the same analyzer and scoring as the full
suite."""

from __future__ import annotations

import itertools

import numpy as np

from kinetoscope.data.captions import canonical_caption, paraphrase_caption
from kinetoscope.data.motion import MIN_GAP
from kinetoscope.data.world import HELD_OUT_SET, SIZES, SPIN_INVARIANT, WorldConfig, kept_apart, scene_from_spec
from kinetoscope.eval.suite import SuitePrompt, build_suite, oracle_scene


def world_of(world: dict, **geometry) -> WorldConfig:
    return WorldConfig(**geometry, **{k: tuple(v) if isinstance(v, list) else v for k, v in (world or {}).items()})


def vocabulary_suite(world: dict, paraphrase_every: int = 3, pair_every: int = 4,
                     quick: bool = False) -> list[SuitePrompt]:
    """One single-object prompt per (colour, shape, motion) of `world` (WorldConfig overrides), and
    two-object ones where it draws two."""
    cfg = world_of(world)
    prompts: list[SuitePrompt] = []
    n_seen = n_held = n_pair = 0
    for k, (colour, shape, motion) in enumerate(itertools.product(cfg.colours, cfg.shapes, cfg.motions)):
        if motion == "spin" and shape in SPIN_INVARIANT:
            continue
        if quick and (k + k // len(cfg.motions)) % 3 and (colour, shape, motion) not in HELD_OUT_SET:
            continue
        bgs = [c for c in cfg.background_colours if c != colour]
        spec = {"objects": [{"shape": shape, "colour": colour, "size": cfg.sizes[k % len(cfg.sizes)], "motion": motion,
                             "speed": None if motion == "still" else cfg.speeds[k % len(cfg.speeds)]}],
                "background": {"kind": "plain", "colour": bgs[k % len(bgs)]}, "camera": "none", "seed": k}
        scene = scene_from_spec(spec, cfg)
        if (colour, shape, motion) in HELD_OUT_SET:
            prompts.append(SuitePrompt(f"heldout-{n_held:02d}", "heldout", canonical_caption(scene), spec))
            n_held += 1
            continue
        prompts.append(SuitePrompt(f"seen-{n_seen:02d}", "seen", canonical_caption(scene), spec))
        if cfg.max_objects >= 2 and n_seen % pair_every == pair_every - 1:
            pair = _pair(spec, cfg, seed=500 + k)
            prompts.append(SuitePrompt(f"count-{n_pair:02d}", "seen", canonical_caption(scene_from_spec(pair, cfg)), pair))
            n_pair += 1
        if n_seen % paraphrase_every == 0:
            rng = np.random.default_rng(1000 + k)
            prompts.append(SuitePrompt(f"paraphrase-{n_seen // paraphrase_every:02d}", "paraphrase",
                                       paraphrase_caption(scene, rng), spec))
        n_seen += 1
    return prompts


def _pair(spec: dict, cfg: WorldConfig, seed: int, tries: int = 8, gap: float = MIN_GAP,
          seeds: int = 4) -> dict:
    """Two copies of spec's one object whose ground truth (the oracle's scene at sampling seeds
    0..seeds-1) keeps them `gap` x S apart in every frame (placement asks it of three quarters of
    the frames, so paths may cross and soft edges join): placed again (up to `tries` seeds), then a
    size smaller among the world's sizes, as training's placement does; the last tried if none fits."""
    obj = spec["objects"][0]
    smaller = [s for s in reversed(SIZES) if s in cfg.sizes and SIZES[s] <= SIZES[obj["size"]]] or [obj["size"]]
    for size in smaller:
        for i in range(tries):
            pair = {**spec, "objects": [{**obj, "size": size}] * 2, "seed": seed + 1000 * i}
            if all(kept_apart(oracle_scene(pair, s, cfg), gap) for s in range(seeds)):
                return pair
    return pair


def model_suite(world: dict | None, quick: bool = False) -> list[SuitePrompt]:
    """The prompts a model is scored on: its own vocabulary's where its pipeline.json names a
    world, else the eval suite's."""
    if world:
        return vocabulary_suite(world, quick=quick)
    return build_suite(quick=quick)
