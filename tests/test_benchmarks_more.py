"""Smoke tests: the training-throughput and generation benchmarks run end to end (tiny models)
and report finite positive numbers. They assert nothing about speed."""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import pytest

from kinetoscope.request import BUILTIN_WEIGHTS

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks/` sits beside the package, not inside it
    sys.path.insert(0, str(ROOT))

from benchmarks import generate, train_step  # noqa: E402


def positive(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def test_train_step_benchmark_runs(tmp_path, capsys):
    out = tmp_path / "train_step.json"
    # one thread: on a busy 2-core machine two OpenMP threads make tiny ops wait on each other
    train_step.main(["--quick", "--tiny", "--threads", "1", "--out", str(out)])

    saved = json.loads(out.read_text())
    assert isinstance(saved["header"]["fast_bf16"], bool) and saved["header"]["cpu_capability"]
    rows = saved["rows"]
    assert {(r["stage"], r["dtype"]) for r in rows} >= {("denoiser", "fp32"), ("denoiser", "bf16"),
                                                        ("vae", "fp32"), ("vae", "bf16")}
    assert sum(r["stage"] == "world" for r in rows) == 3
    for r in rows:
        assert positive(r["rate"]) and positive(r["step_s"]) and positive(r["ratio"]), r
    assert all(r["ratio"] == 1.0 for r in rows if r["dtype"] == "fp32")
    assert "samples/s" in capsys.readouterr().out


def test_generate_benchmark_runs(tmp_path, capsys):
    generate.main(["--quick", "--random", "--tiny", "--threads", "1", "--out", str(tmp_path)])

    saved = json.loads((tmp_path / "generate.json").read_text())
    assert (tmp_path / "scaling.png").stat().st_size > 0
    assert "random" in saved["header"]["weights"]
    clip = saved["default_clip"]
    for stage in ("text", "denoise", "decode", "write", "total", "ratio_total_goal"):
        assert positive(clip[stage]), (stage, clip[stage])
    assert clip["total"] >= clip["denoise"] + clip["decode"]
    assert [r["seconds"] for r in saved["per_second"]] == [2, 4, 8]
    for r in saved["per_second"]:
        assert positive(r["total_s"]) and positive(r["compute_per_video_s"])
    assert [r["frames"] for r in saved["scaling"]["frames"]] == [17, 65]
    assert [r["size"] for r in saved["scaling"]["size"]] == [64, 128]
    for r in saved["scaling"]["frames"] + saved["scaling"]["size"]:
        assert positive(r["seconds"]) and positive(r["rss_peak_mib"]) and r["rss_peak_mib"] >= r["rss_loaded_mib"]
    printed = capsys.readouterr().out
    assert "goal <= 10 s" in printed and "random weights" in printed


@pytest.mark.slow
def test_levers_give_the_eager_output():
    """channels-last, bf16 autocast and torch.compile each return what eager fp32 returns
    (bf16 within its precision); the benchmark's rows say how far each one is off."""
    import torch

    from benchmarks import levers
    from kinetoscope.models import ConvUNet, UNetConfig

    torch.manual_seed(0)
    net = ConvUNet(UNetConfig(in_channels=4, channels=(16, 32), blocks=1, heads=2, patch=(1, 4, 4))).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x, text, mask = torch.randn(2, 4, 3, 8, 8), torch.randn(2, 5, 384), torch.ones(2, 5, dtype=torch.bool)

    def call(m, cl):
        xi = x.contiguous(memory_format=torch.channels_last_3d) if cl else x
        return m(xi, torch.tensor([0.3, 0.6]), text, mask)

    if not any(shutil.which(c) for c in ("g++", "c++", "clang++")):
        pytest.skip("torch.compile (inductor) needs a C++ compiler; none on PATH")
    rows = levers.measure("tiny", net, call, repeats=1)  # any other failure is ours: it fails the test
    by = {r["lever"]: r for r in rows}
    assert set(by) == {"eager fp32", "channels-last 3D", "bf16 autocast", "torch.compile"}
    assert by["eager fp32"]["max_abs_diff"] == 0
    assert by["channels-last 3D"]["max_abs_diff"] < 1e-4
    assert by["torch.compile"]["max_abs_diff"] < 1e-4
    assert 0 < by["bf16 autocast"]["max_abs_diff"] < 0.1
    assert all(positive(r["seconds"]) for r in rows)


def test_levers_run_on_the_pixel_space_built_in_model(tmp_path):
    """The shipped model has no autoencoder: the benchmark times its denoiser step and decodes nothing."""
    from benchmarks import levers

    out = levers.main(["--quick", "--skip-compile", "--threads", "1", "--out", str(tmp_path / "levers.json")])
    assert {r["stage"] for r in out["rows"]} == {"denoiser step (CFG batch 2)"}
    assert {r["lever"] for r in out["rows"]} >= {"eager fp32", "bf16 autocast"}
    assert (tmp_path / "levers.json").exists()


@pytest.mark.slow
def test_fast_benchmark_scores_the_distilled_setting_against_the_full_one(tmp_path, capsys, tiny_model_dir):
    import shutil

    from benchmarks import fast

    folder = tmp_path / "model"  # a model whose fast setting is a distilled denoiser
    shutil.copytree(tiny_model_dir, folder)
    shutil.copytree(folder / "denoiser", folder / "denoiser-fast")
    cfg = json.loads((folder / "pipeline.json").read_text())
    (folder / "pipeline.json").write_text(json.dumps({**cfg, "fast": {"denoiser": "denoiser-fast", "steps": 2, "guidance": 1.0}}))
    fast.main(["--weights", str(folder), "--limit", "2", "--threads", "1", "--no-large", "--out", str(tmp_path / "fast.json")])
    saved = json.loads((tmp_path / "fast.json").read_text())
    full, few, distilled = saved["rows"]
    assert full["speedup"] == 1.0 and full["score_change_points"] == 0.0
    assert few["steps"] == distilled["steps"] < full["steps"]
    assert distilled["guidance"] == 1.0 and full["guidance"] > 1.0
    assert distilled["model_calls_per_clip"] == distilled["steps"] and full["model_calls_per_clip"] == full["steps"]
    for r in saved["rows"]:
        assert positive(r["seconds_per_clip"]) and 0 <= r["mean_score"] <= 1 and r["large_clip_s"] is None
    assert "distilled" in capsys.readouterr().out

    fast.main(["--limit", "1", "--threads", "1", "--no-large", "--out", str(tmp_path / "builtin.json")])  # no student:
    full, few = json.loads((tmp_path / "builtin.json").read_text())["rows"]  # its fast setting is row 2
    entry = json.loads((BUILTIN_WEIGHTS / "pipeline.json").read_text())["fast"]
    assert few["setting"] == f"full, {entry['steps']} steps (fast)" and few["steps"] == entry["steps"]
    assert few["guidance"] == entry.get("guidance", full["guidance"])  # the fast entry's own settings
    assert few["guidance_floor"] == entry.get("guidance_floor", full["guidance_floor"])
