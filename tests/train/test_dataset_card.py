"""Every training run writes a dataset card; consent is respected: refused entries stop the run and are listed."""

import json

import numpy as np
import pytest

from kinetoscope.data.folder import ConsentError
from kinetoscope.media import write_video
from kinetoscope.train.card import write_dataset_card
from kinetoscope.train.config import load_config
from kinetoscope.train.loop import Trainer

TINY_VAE_OPT = "{channels: [8, 8, 16, 16], latent_channels: 4}"


def entry(path, **kw):
    return {"path": path, "caption": "a grey clip", "licence": "CC-BY-4.0", "consent": True, "source": "my camera", **kw}


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "clips"
    d.mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        write_video(d / name, np.full((20, 64, 64, 3), 90, np.uint8), 8)
    return d


def manifest(folder, rows):
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def vae_cfg(run, data):
    over = [f"run_dir={run}", f"data={data}", f"vae_model={TINY_VAE_OPT}", "batch_size=1", "steps=1", "threads=1",
            "sample_every=0", "eval_every=0", "log_every=1", "warmup=1", "image_prob=0", "precision=fp32"]
    return load_config(None, over, base={"stage": "vae"})


def test_card_counts_sources_licences_consent_and_refusals(folder, tmp_path):
    manifest(folder, [entry("a.mp4"), entry("b.mp4", licence="CC0-1.0", source="archive"),
                      entry("c.mp4", consent="no"), entry("gone.mp4")])
    path = write_dataset_card(vae_cfg(tmp_path / "run", folder), tmp_path / "run")
    card = json.loads(path.read_text())["data"]
    assert card["entries"] == 4 and card["used"] == 2 and card["videos"] == 2
    assert card["sources"] == {"my camera": 1, "archive": 1}
    assert card["licences"] == {"CC-BY-4.0": 1, "CC0-1.0": 1}
    assert card["consent"] == {"needed": True, "granted_and_used": 2, "refused_no_consent": 1, "refused_total": 2}
    assert {r["path"]: r["reasons"] for r in card["refused"]} == {"c.mp4": ["no consent"], "gone.mp4": ["file missing"]}
    md = (tmp_path / "run" / "dataset_card.md").read_text()
    assert "`c.mp4`: no consent" in md and "CC0-1.0: 1" in md


def test_training_writes_the_card_and_refuses_unconsented_data(folder, tmp_path):
    manifest(folder, [entry("a.mp4"), entry("b.mp4")])
    Trainer(vae_cfg(tmp_path / "ok", folder)).train()
    card = json.loads((tmp_path / "ok" / "dataset_card.json").read_text())
    assert card["run"]["stage"] == "vae" and card["data"]["used"] == 2 and card["data"]["refused"] == []

    manifest(folder, [entry("a.mp4"), entry("c.mp4", consent=False)])
    with pytest.raises(ConsentError, match="c.mp4: no consent"):
        Trainer(vae_cfg(tmp_path / "refused", folder)).train()
    card = json.loads((tmp_path / "refused" / "dataset_card.json").read_text())["data"]
    assert card["refused"] == [{"path": "c.mp4", "reasons": ["no consent"]}] and "refuses to start" in card["note"]
    assert not (tmp_path / "refused" / "metrics.jsonl").read_text()  # not one step was trained


def test_world_runs_say_no_consent_is_needed(tmp_path):
    cfg = load_config(None, [f"run_dir={tmp_path}"])
    card = json.loads(write_dataset_card(cfg, tmp_path).read_text())["data"]
    assert card["kind"] == "procedural world" and card["consent"]["needed"] is False and card["refused"] == []
    assert "held out" in (tmp_path / "dataset_card.md").read_text().lower()
