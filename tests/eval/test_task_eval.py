"""`kinetoscope eval --tasks` end to end on a tiny random model, at a small size: every figure
is computed from the outputs (a random model fails most goals, and the report must say so)."""

import numpy as np
import pytest

from kinetoscope.eval import tasks as task_eval
from tests.conftest import tiny_pipeline


@pytest.fixture(scope="module")
def pipe(text_encoder):
    p = tiny_pipeline()
    p._text = text_encoder
    return p


def test_task_report_has_every_measure_computed(pipe, monkeypatch):
    monkeypatch.setitem(task_eval.SIZES, "quick", {"clips": 2, "storyboards": 1, "drift_seconds": 4, "drift_clips": 2})
    r = task_eval.run_task_eval(pipe, quick=True, steps=1)
    assert r["i2v"]["first_frame_psnr_db"]["median"] == 100.0  # i2v's first frame is the image exactly
    for s in (r["boundaries"]["extend_forward"], r["boundaries"]["interpolate"], r["loop"]["seam_ratio_video_to_loop"],
              r["i2v"]["largest_step"], r["loop"]["largest_step"]):
        assert s["n"] >= 2 and s["median"] > 0 and s["worst"] >= s["median"]
    d = r["drift"]
    assert d["clips"] == 2 and len(d["plain"]["count_kept_per_clip"]) == 2
    assert d["plain"]["count_kept"] == pytest.approx(np.mean(d["plain"]["count_kept_per_clip"]), abs=1e-3)
    assert len(d["plain"]["runs"][0]["chunks"]) == 3  # 17 input + 32 new frames in whole 2-s chunks of 16
    sb = r["storyboard"]
    assert sb["shots"] == 2 and set(sb) >= {"dissolve", "continue"}
    for t in ("dissolve", "continue"):
        assert 0 <= sb[t]["shot_score"] <= 1 and sb[t]["largest_step"]["n"] == 1 and sb[t]["largest_step"]["median"] > 0
    md = task_eval.task_markdown(r)
    assert "interpolate largest step anywhere" in md and "(2 clips)" in md and "per clip:" in md
    assert "with transition dissolve" in md and "with transition continue" in md
