"""The eval suite: fixed prompts from the world, scores computed from the clips, reports written."""

import json
import math

import numpy as np
import pytest

from kinetoscope.cli import main
from kinetoscope.data.captions import canonical_caption
from kinetoscope.data.world import (COLOURS, GEOMETRIC_SHAPES, HELD_OUT, HELD_OUT_SET, MOTIONS,
                                    WorldConfig, render, scene_from_spec)
from kinetoscope.eval.analyzer import analyze
from kinetoscope.eval.report import markdown_table, write_report
from kinetoscope.eval.suite import (ATTRIBUTES, GROUPS, SCORE_KEYS, OracleGenerator, build_suite,
                                    limit_suite, run_suite, score_clip)
from tests.conftest import tiny_pipeline

REPORT_KEYS = {"suite", "config", "scores", "temporal", "timing", "vae", "records"}
CONFIG_KEYS = {"weights", "weights_hash", "seeds", "steps", "guidance", "date", "threads"}
RECORD_KEYS = {"id", "group", "prompt", "seed", "spec", "analysis", "correct", "flicker", "seconds", "sheet"}


@pytest.mark.parametrize("quick", [False, True])
def test_suite_has_three_groups_and_keeps_held_out_triples_out_of_the_rest(quick):
    suite = build_suite(quick=quick)
    assert 30 <= len(suite) <= 70 if not quick else 30 <= len(suite) <= 40
    assert {p.group for p in suite} == set(GROUPS)
    assert len({p.id for p in suite}) == len({p.prompt for p in suite}) == len(suite)
    seen = [p for p in suite if p.group == "seen"]
    objs = [o for p in seen for o in p.spec["objects"]]
    assert not any((o["colour"], o["shape"], o["motion"]) in HELD_OUT_SET for o in objs)
    assert {o["colour"] for o in objs} == set(COLOURS)
    assert {o["motion"] for o in objs} == set(MOTIONS)
    assert set(GEOMETRIC_SHAPES) <= {o["shape"] for o in objs}
    assert any(o["shape"].isdigit() for o in objs)
    assert any(len(p.spec["objects"]) == 2 for p in seen)              # the count is tested
    for p in seen:                                                     # plain, unlike the objects
        assert p.spec["background"]["kind"] == "plain"
        assert p.spec["background"]["colour"] not in {o["colour"] for o in p.spec["objects"]}
    held = [p for p in suite if p.group == "heldout"]
    assert sorted(tuple(o[k] for k in ("colour", "shape", "motion")) for p in held
                  for o in p.spec["objects"]) == sorted(HELD_OUT)
    seen_specs = [p.spec for p in seen]
    cfg = WorldConfig()
    for p in (p for p in suite if p.group == "paraphrase"):
        assert p.spec in seen_specs                                    # same scene, other words
        assert p.prompt != canonical_caption(scene_from_spec(p.spec, cfg))
    assert build_suite(quick=quick) == suite                           # fixed
    if quick:                                                          # a part of the full suite
        full = {p.id: p for p in build_suite()}
        assert all(full[p.id] == p for p in suite)


def test_limit_keeps_every_group():
    small = limit_suite(build_suite(quick=True), 4)
    assert len(small) == 4 and {p.group for p in small} == set(GROUPS)


def test_oracle_scores_at_least_95_percent_on_every_attribute():
    suite = build_suite()
    report = run_suite(OracleGenerator(suite), suite, seeds=[0], frames=17, psnr_clips=0)
    for group in GROUPS + ("overall",):
        for key in SCORE_KEYS:
            assert report["scores"][group][key] >= 0.95, (group, key, report["scores"][group])
    assert report["temporal"]["flicker_mean"] < 0.5                    # a static background
    assert report["vae"] is None


def test_a_wrong_clip_is_scored_wrong():
    spec = {"objects": [{"shape": "square", "colour": "red", "size": "medium", "motion": "right",
                         "speed": "fast"}], "background": {"kind": "plain", "colour": "blue"}, "seed": 3}
    cfg = WorldConfig()
    right = score_clip(analyze(render(scene_from_spec(spec, cfg))), spec)
    assert all(right[a] for a in ATTRIBUTES) and right["all"]
    other = {**spec, "objects": [{**spec["objects"][0], "colour": "green", "motion": "up"}]}
    wrong = score_clip(analyze(render(scene_from_spec(other, cfg))), spec)
    assert not wrong["colour"] and not wrong["motion"] and not wrong["all"]
    assert wrong["shape"] and wrong["count"] and wrong["background"]
    two = {**spec, "objects": spec["objects"] * 2}
    assert not score_clip(analyze(render(scene_from_spec(spec, cfg))), two)["count"]


def test_random_model_scores_far_below_the_oracle_and_the_report_is_written(text_encoder, tmp_path):
    pipe = tiny_pipeline()
    pipe._text = text_encoder
    suite = limit_suite(build_suite(quick=True), 6)
    geometry = dict(seeds=[0], frames=9, width=64, height=64)
    oracle = run_suite(OracleGenerator(suite), suite, psnr_clips=0, **geometry)
    report = run_suite(pipe, suite, steps=2, psnr_clips=2, out_dir=tmp_path, weights="tiny", **geometry)
    o, r = oracle["scores"]["overall"], report["scores"]["overall"]
    assert o["all"] == 1.0 and r["all"] <= 0.5
    assert sum(r[a] for a in ATTRIBUTES) <= sum(o[a] for a in ATTRIBUTES) - 2

    paths = write_report(report, tmp_path)
    data = json.loads(paths["json"].read_text())
    assert REPORT_KEYS <= set(data) and CONFIG_KEYS <= set(data["config"])
    assert data["config"]["weights_hash"] == pipe.weights_hash and data["config"]["steps"] == 2
    assert set(data["scores"]) == set(GROUPS) | {"overall"}
    assert all(set(SCORE_KEYS) | {"flicker", "prompts", "clips"} <= set(s) for s in data["scores"].values())
    assert len(data["records"]) == 6 and all(RECORD_KEYS <= set(x) for x in data["records"])
    assert data["timing"]["seconds_per_clip"] > 0
    assert math.isfinite(data["vae"]["psnr_db"]) and len(data["vae"]["per_clip"]) == 2
    # an untrained autoencoder loses what the ground truth shows: its ceiling is below the oracle's
    ceiling = data["vae"]["ceiling"]["scores"]
    assert ceiling["clips"] == 6 and sum(ceiling[a] for a in ATTRIBUTES) < sum(o[a] for a in ATTRIBUTES)
    assert "autoencoder ceiling" in paths["md"].read_text() and "chunk seams" in paths["md"].read_text()
    assert data["vae"]["chunk_seam_ratio"] > 0 and data["vae"]["chunk_seam_ratio_ground_truth"] > 0
    for x in data["records"]:
        assert (tmp_path / x["sheet"]).is_file()
    md, page = paths["md"].read_text(), paths["html"].read_text()
    assert "| group |" in md and "![" in md and md.count(".png)") == 6
    assert page.count("<img src=\"sheets/") == 6 and "<table>" in page
    assert markdown_table(data).splitlines()[0].startswith("| group | prompts")


def test_cli_eval_writes_a_report(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "rep"
    code = main(["eval", "--weights", str(tiny_model_dir), "--limit", "3", "--steps", "2",
                 "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    stdout = capsys.readouterr().out
    assert "| group |" in stdout and "report.json" in stdout
    data = json.loads((out / "report.json").read_text())
    assert data["config"]["weights"] == str(tiny_model_dir) and data["config"]["seeds"] == [0, 1]
    assert data["suite"]["prompts"] == 3 and len(data["records"]) == 6
    assert (out / "report.md").is_file() and (out / "report.html").is_file()
    assert data["vae"]["clips"] == 16


@pytest.mark.parametrize("args,needle", [
    (["--seeds", "0"], "--seeds 0"),
    (["--limit", "0"], "--limit 0"),
    (["--steps", "0"], "steps 0 is out of range"),
])
def test_cli_eval_bad_inputs(tiny_model_dir, tmp_path, capsys, args, needle):
    assert main(["eval", "--weights", str(tiny_model_dir), "--out", str(tmp_path / "r"), *args]) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "r" / "report.json").exists()


def test_cli_eval_missing_weights(tmp_path, capsys):
    assert main(["eval", "--weights", str(tmp_path / "none"), "--out", str(tmp_path / "r")]) == 2
    assert "no model at" in capsys.readouterr().err


def test_chunk_seam_ratio_reads_the_steps_at_latent_chunk_boundaries():
    from kinetoscope.eval.suite import chunk_seam_ratio

    frames = np.zeros((9, 4, 4, 3), np.uint8)
    frames[:, :, :, 0] = np.arange(9)[:, None, None] * 2  # steady steps of 2
    assert chunk_seam_ratio(frames, 4) == 1.0
    frames[5:, :, :, 0] += 12  # a jump from frame 4 to 5, where the second 4-frame chunk begins
    assert chunk_seam_ratio(frames, 4) == pytest.approx((2 + 14) / 2 / 2)  # steps 0->1 and 4->5 over the median 2
