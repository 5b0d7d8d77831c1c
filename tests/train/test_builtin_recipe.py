"""The built-in model's recipe (configs/builtin.yaml): its world reads through the concept lexicon,
its export says what it was trained on, and the vocabulary suite it is scored on is one the analyzer
reads right at its 32x32 size (an oracle that renders each prompt's own scene scores >= 95%)."""

import json
from pathlib import Path

import pytest
import yaml

from kinetoscope.eval.suite import GROUPS, SCORE_KEYS, OracleGenerator, run_suite
from kinetoscope.eval.vocab import vocabulary_suite
from kinetoscope.train.config import load_config
from kinetoscope.train.data import world_batch
from kinetoscope.train.export import export
from kinetoscope.train.loop import Trainer

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "builtin.yaml"
TINY = ["unet_model={channels: [16, 32], blocks: 1, heads: 2, patch: [2, 8, 8], stem: linear, head: concat, text_whiten: true}",
        "batch_size=2", "steps=2", "latent_pool=8", "threads=1", "log_every=1", "precision=fp32"]


def _world():
    cfg = yaml.safe_load(RECIPE.read_text())
    return {**cfg["world"], "max_objects": cfg["max_objects"]}


def test_recipe_world_draws_its_vocabulary_in_many_phrasings():
    cfg = load_config(str(RECIPE))
    video, caps = world_batch(cfg, 0, range(24))
    assert video.shape == (24, 3, 16, 32, 32)
    assert len(set(caps)) == 24 and any(c.startswith(("two", "2", "a pair")) for c in caps)


def test_vocabulary_suite_covers_the_world_with_pairs_and_a_quick_subset():
    world = _world()
    full, quick = vocabulary_suite(world), vocabulary_suite(world, quick=True)
    seen = [p for p in full if p.group == "seen"]
    assert {p.spec["objects"][0]["motion"] for p in seen} == set(world["motions"])
    pairs = [p for p in full if p.id.startswith("count-")]
    assert pairs and all(len(p.spec["objects"]) == 2 and p.prompt.startswith("two ") for p in pairs)
    assert len(quick) < len(full) / 2 and {p.group for p in quick} == {"seen", "heldout", "paraphrase"}


@pytest.mark.slow
def test_the_analyzer_reads_the_recipe_world_at_its_size():
    world = _world()
    suite = vocabulary_suite(world, quick=True)
    report = run_suite(OracleGenerator(suite), suite, seeds=[0], frames=16, width=32, height=32, psnr_clips=0,
                       sensitivity_clips=0)
    for group in ("seen", "heldout", "overall"):
        for key in SCORE_KEYS:
            assert report["scores"][group][key] >= 0.95, (group, key, report["scores"][group])


def test_export_says_what_the_model_was_trained_on(tmp_path):
    cfg = load_config(str(RECIPE), [f"run_dir={tmp_path / 'run'}", *TINY])
    Trainer(cfg).train()
    model = export(tmp_path / "run", tmp_path / "model")
    pipe = json.loads((model / "pipeline.json").read_text())
    assert pipe["text"] == "concepts" and pipe["trained_sizes"] == ["32x32"] and pipe["trained_seconds"] == 2.0 and pipe["seconds"] == 1.875
    assert pipe["world"]["max_objects"] == 2 and pipe["world"]["motions"] == _world()["motions"]
    assert {"box", "drifting", "bouncing", "two"} <= set(pipe["vocabulary"])
