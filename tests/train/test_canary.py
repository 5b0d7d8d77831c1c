"""The canary recipe (configs/canary.yaml) runs in the project's own training code: pixel space, a
narrowed world, canonical captions read as a bag of words; its export knows its world and words, and
the vocabulary suite scores it."""

import json
from pathlib import Path

import torch
import yaml

from kinetoscope.eval.vocab import vocabulary_suite
from kinetoscope.pipeline import GenerationRequest, Pipeline
from kinetoscope.train.config import load_config
from kinetoscope.train.data import world_batch
from kinetoscope.train.export import export
from kinetoscope.train.loop import Trainer

CANARY = Path(__file__).resolve().parents[2] / "configs" / "canary.yaml"
TINY = ["unet_model={channels: [16, 32], blocks: 1, heads: 2, patch: [2, 8, 8], stem: linear, head: concat, text_whiten: true}",
        "batch_size=2", "steps=3", "latent_pool=8", "threads=1", "log_every=1", "precision=fp32"]


def test_canary_world_and_captions_are_the_narrowed_vocabulary():
    cfg = load_config(str(CANARY))
    video, caps = world_batch(cfg, 0, range(32))
    assert video.shape == (32, 3, 16, 32, 32)
    world = yaml.safe_load(CANARY.read_text())["world"]
    for c in caps:
        words = c.split()
        assert words[0] == "a" and words[1] == "medium" and words[2] in world["colours"] and words[3] in world["shapes"]
        assert words[5] in world["motions"] and c.endswith("on a black background")


def test_canary_trains_exports_and_generates_on_its_vocabulary(tmp_path):
    cfg = load_config(str(CANARY), [f"run_dir={tmp_path / 'run'}", *TINY])
    trainer = Trainer(cfg)
    assert not torch.equal(trainer.model.pool_whiten, torch.eye(384))  # fitted on the run's captions
    assert torch.equal(trainer.ema.model.pool_whiten, trainer.model.pool_whiten)
    metrics = trainer.train()
    assert metrics["step"] == 3
    model = export(tmp_path / "run", tmp_path / "model")
    pipe_cfg = json.loads((model / "pipeline.json").read_text())
    assert pipe_cfg["text"] == "words" and pipe_cfg["world"]["shapes"] == ["circle", "square", "triangle"]
    assert {"red", "circle", "left", "quickly"} <= set(pipe_cfg["vocabulary"]) and "star" not in pipe_cfg["vocabulary"]
    pipe = Pipeline.from_pretrained(model)
    assert pipe.unknown_words("a medium red orb moving left") == ["orb"]
    video = pipe.generate(GenerationRequest(prompt="a medium red circle moving left quickly on a black background", steps=2))
    assert video.frames.shape == (16, 32, 32, 3)
    prompts = vocabulary_suite(pipe_cfg["world"])
    assert sum(p.group == "seen" for p in prompts) == 6 * 3 * 4 - 1  # (pink, square, down) is held out
    assert [p.group for p in prompts].count("heldout") == 1


def test_the_shipped_model_names_the_words_it_never_saw():
    pipe = Pipeline.from_pretrained()
    assert pipe.unknown_words("a red circle bouncing on a blue background") == []
    assert pipe.unknown_words("a crimson dragon flying", "a red circle") == ["crimson", "dragon", "flying"]


def test_canary_benchmark_scores_a_run_beside_the_record(tmp_path, monkeypatch, capsys):
    import sys

    sys.path.insert(0, str(CANARY.parents[1]))
    from benchmarks import canary

    cfg = load_config(str(CANARY), [f"run_dir={tmp_path / 'run'}", *TINY])
    Trainer(cfg).train()
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"scores": {"seen": {"colour": 0.5, "direction": 0.25}}, "train_steps": 9, "run": "x"}))
    monkeypatch.setattr(canary, "RECORD", record)
    monkeypatch.setattr(canary, "RESULTS", tmp_path)
    monkeypatch.setattr("kinetoscope.eval.vocab.vocabulary_suite",
                        lambda world, **kw: [p for p in vocabulary_suite(world, **kw) if p.prompt.startswith("a medium red circle")])
    assert canary.main(["--run", str(tmp_path / "run"), "--no-train", "--seeds", "1", "--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "| seen |" in out and "(50.0)" in out and "canary FAILS: seen direction" in out
    last = json.loads((tmp_path / "canary-last.json").read_text())
    assert last["train_steps"] == 3 and 0 <= last["scores"]["seen"]["direction"] <= 1 and last["scores"]["seen"]["clips"] == 4
