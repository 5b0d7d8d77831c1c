"""Shared by the benchmarks that score sampler settings on the eval suite (step_cache, fast):
one row per setting, compared with the first row measured in the same run."""

from __future__ import annotations

ATTRS = ("colour", "shape", "motion", "count", "background")


def model_suite(pipe, limit: int | None = None) -> tuple[list, dict]:
    """The quick prompts a model is scored on (its own world's where its pipeline.json names one,
    else the eval suite's) and its default clip geometry, as run_suite keywords."""
    from kinetoscope.eval.suite import limit_suite
    from kinetoscope.eval.vocab import model_suite as suite_of
    from kinetoscope.pipeline import GenerationRequest

    req = pipe.resolve(GenerationRequest(prompt="x"))
    return limit_suite(suite_of(pipe.config.world, quick=True), limit), {"frames": req.frames, "width": req.width, "height": req.height}


def score(pipe, prompts, **settings) -> dict:
    """The quick suite's prompts on `pipe` with `settings` (run_suite keywords): median seconds per
    clip, model calls per clip, each attribute's score and their mean."""
    from kinetoscope.eval.suite import run_suite

    calls = []
    orig = pipe.generate

    def counting(req, progress=None):
        v = orig(req, progress)
        calls.append(v.metadata["model_calls"])
        return v

    pipe.generate = counting
    try:
        rep = run_suite(pipe, prompts, psnr_clips=0, sensitivity_clips=0, **settings)
    finally:
        pipe.generate = orig
    s = rep["scores"]["overall"]
    return {"steps": rep["config"]["steps"], "guidance": rep["config"]["guidance"],
            "guidance_floor": rep["config"]["guidance_floor"],
            "seconds_per_clip": rep["timing"]["seconds_per_clip_median"],
            "model_calls_per_clip": round(sum(calls) / len(calls), 2), **{a: s[a] for a in ATTRS},
            "mean_score": round(sum(s[a] for a in ATTRS) / len(ATTRS), 4)}


def compare(rows: list[dict]) -> None:
    """Add each row's speed-up and score change (points) against the first row, in place."""
    ref = rows[0]
    for r in rows:
        r["speedup"] = round(ref["seconds_per_clip"] / r["seconds_per_clip"], 3)
        r["score_change_points"] = round(100 * (r["mean_score"] - ref["mean_score"]), 1)
