"""Smoke test: the engine-overhead benchmark runs and both sides make the same video. Nothing about speed."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("diffusers")

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import engine_overhead  # noqa: E402


@pytest.mark.slow
def test_engine_overhead_benchmark_runs(tmp_path, capsys):
    out = tmp_path / "engine_overhead.json"
    result = engine_overhead.main(["--quick", "--threads", "1", "--steps", "2", "--device", "cpu",
                                   "--families", "ltx", "cogvideox", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["rows"] == result["rows"] and [r["family"] for r in saved["rows"]] == ["ltx", "cogvideox"]
    for r in saved["rows"]:
        assert r["same_video"], r  # the engine makes exactly what the direct call makes
        assert r["ours_s"] > 0 and r["direct_s"] > 0 and math.isfinite(r["ratio"])
    assert "ours/direct" in capsys.readouterr().out
