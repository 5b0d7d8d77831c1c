"""The shipped built-in model: its folder holds what rebuilds and describes it, and it draws the
colour, background and direction a prompt asks for (the eval suite measures the rest)."""

import json
from pathlib import Path

import pytest
import yaml

from kinetoscope.eval.analyzer import analyze
from kinetoscope.pipeline import BUILTIN_WEIGHTS, GenerationRequest, Pipeline

RECIPE = Path(__file__).resolve().parents[1] / "configs" / "builtin.yaml"


@pytest.fixture(scope="module")
def builtin():
    assert (BUILTIN_WEIGHTS / "pipeline.json").is_file(), "the built-in weights must ship in kinetoscope/weights/builtin"
    return Pipeline.from_pretrained()


def test_card_config_and_recipe_ship_with_the_weights():
    for name in ("pipeline.json", "README.md", "samples.png", "training.json", "denoiser/model.safetensors"):
        assert (BUILTIN_WEIGHTS / name).is_file(), name
    assert json.loads((BUILTIN_WEIGHTS / "vae" / "config.json").read_text())["class"] == "PixelSpace"  # no decoder
    size = sum(p.stat().st_size for p in BUILTIN_WEIGHTS.rglob("*") if p.is_file())
    assert size < 100 * 2**20
    training = json.loads((BUILTIN_WEIGHTS / "training.json").read_text())
    recipe = yaml.safe_load(RECIPE.read_text())
    assert not training["config"]["init_from"]  # rebuilt from scratch by the recipe in the repository
    for key in ("world", "text", "captions", "width", "height", "frames", "lr", "batch_size", "given_prob"):
        assert training["config"][key] == recipe[key], key
    assert {k: training["config"]["unet_model"][k] for k in recipe["unet_model"]} == recipe["unet_model"]
    pipe = json.loads((BUILTIN_WEIGHTS / "pipeline.json").read_text())
    assert pipe["text"] == "concepts" and pipe["trained_sizes"] == [f"{recipe['width']}x{recipe['height']}"]
    assert pipe["world"]["colours"] == recipe["world"]["colours"]


@pytest.mark.slow
@pytest.mark.parametrize("prompt,colour,motion", [
    ("a large red circle moving right", "red", "right"),
    ("a large yellow square moving down on a black background", "yellow", "down"),
])
def test_colour_and_direction_follow_the_prompt(builtin, prompt, colour, motion):
    v = builtin.generate(GenerationRequest(prompt=prompt, seed=0))
    assert v.frames.shape == (16, 32, 32, 3)
    seen = analyze(v.frames)
    assert seen.background == "black"  # the one background it was trained on
    assert colour in [o.colour for o in seen.objects]
    assert motion in [o.motion for o in seen.objects]


@pytest.mark.slow
def test_the_fast_setting_ships_and_draws_the_asked_colour():
    fast = Pipeline.from_pretrained(fast=True)
    assert fast.config.steps < 20 and fast.config.name.endswith("-fast")
    v = fast.generate(GenerationRequest(prompt="a large red circle moving right", seed=0))
    assert v.metadata["model_calls"] == fast.config.steps
    seen = analyze(v.frames)
    assert seen.background == "black" and "red" in [o.colour for o in seen.objects]
