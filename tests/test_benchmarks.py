"""Smoke test: the step benchmark runs end to end and reports a finite ratio per row.

It asserts nothing about speed.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("diffusers")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks/` sits beside the package, not inside it
    sys.path.insert(0, str(ROOT))

from benchmarks import step  # noqa: E402


def test_step_benchmark_runs(tmp_path, capsys):
    out = tmp_path / "step.json"
    # one thread: on a busy 2-core machine two OpenMP threads make tiny ops wait on each other
    result = step.main(["--quick", "--tiny", "--threads", "1", "--out", str(out)])

    saved = json.loads(out.read_text())
    assert saved["rows"] == result["rows"]
    assert saved["header"]["params"]["ours"] > 0 and saved["header"]["params"]["diffusers"] > 0
    rows = saved["rows"]
    assert {(r["mode"], r["dtype"]) for r in rows} == {("forward", "fp32"), ("forward", "bf16"), ("train", "fp32")}
    assert len(rows) == 5
    for r in rows:
        assert r["ours_s"] > 0 and r["diffusers_s"] > 0
        assert math.isfinite(r["ratio"]) and r["ratio"] > 0

    printed = capsys.readouterr().out
    assert "ours/diffusers" in printed
    assert printed.count(" | forward | ") == 4 and printed.count(" | train ") == 1
