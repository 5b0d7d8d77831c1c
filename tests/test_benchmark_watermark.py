"""Smoke test: the watermark benchmark runs end to end and writes its table and JSON (asserts no figures)."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks/` sits beside the package, not inside it
    sys.path.insert(0, str(ROOT))

from benchmarks import watermark  # noqa: E402


def test_watermark_benchmark_runs(tmp_path, capsys):
    out = tmp_path / "watermark.json"
    result = watermark.main(["--quick", "--clips", "1", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["results"] == json.loads(json.dumps(result["results"]))
    row = saved["results"]["world 64x64"]
    for attack in watermark.ATTACKS:
        assert 0 <= row[attack]["bit_accuracy_mean"] <= 1 and 0 <= row[attack]["recovered"] <= 1
    assert "crf28" in capsys.readouterr().out
