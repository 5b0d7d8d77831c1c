"""The load harness, short: 10 clients for 15 s creating, polling, listing and downloading against
`kinetoscope serve` + one worker process (tiny model). No errors, and every accepted job completes."""

import pytest

from benchmarks import load

pytestmark = pytest.mark.slow


def test_short_load_has_no_errors_and_loses_no_job(tmp_path, tiny_model_dir):
    out = tmp_path / "load.json"
    result = load.main(["--quick", "--builtin", f"builtin:{tiny_model_dir}", "--drain-seconds", "120", "--out", str(out)])
    assert out.is_file()
    assert result["errors"] == 0, result["calls"]
    jobs = result["jobs"]
    assert jobs["accepted"] >= 10 and jobs["completed"] == jobs["accepted"], jobs
    calls = result["calls"]
    assert set(calls) == {"create", "list", "retrieve", "download_video", "download_thumbnail"}
    assert calls["download_video"]["count"] == jobs["completed"]
    assert all(c["p50_ms"] > 0 and c["p99_ms"] >= c["p50_ms"] for c in calls.values())
