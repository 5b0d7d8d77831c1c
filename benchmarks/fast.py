"""The distilled fast setting against the full sampler: time, model calls and eval scores on the
same prompts and seeds.

    python -m benchmarks.fast              # quick eval suite (36 prompts) per setting
    python -m benchmarks.fast --limit 12   # fewer prompts

Rows, all in the same process: the full model at its default steps and guidance (the
reference); the full model at the fast setting's step count, plain Euler with guidance (what
fewer steps give without distillation; the fast setting itself when it names no distilled
denoiser); the distilled denoiser, if the fast setting has one (`generate --fast`: its steps,
guidance folded in, so one model call per step at batch 1). Each row also times one larger clip
(4 s at 128x128), where the denoiser, not the decoder, takes most of the time.
Writes benchmarks/results/fast.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from benchmarks._suite import ATTRS, compare, model_suite, score

RESULTS = Path(__file__).resolve().parent / "results" / "fast.json"
LARGE = {"width": 128, "height": 128, "seconds": 4.0}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.fast", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="12 prompts instead of the 36 of the quick suite")
    p.add_argument("--limit", type=int, default=None, help="run only N prompts")
    p.add_argument("--no-large", action="store_true", help="skip the 4-s 128x128 clip timing")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--weights", default=None, help="model folder with a fast setting (default: the built-in model)")
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


def score_row(name: str, pipe, prompts, large: bool = True, **settings) -> dict:
    from kinetoscope.pipeline import GenerationRequest

    row = score(pipe, prompts, **settings)
    large_s = None
    if large:
        t0 = time.perf_counter()
        pipe.generate(GenerationRequest(prompt=prompts[0].prompt, steps=settings["steps"], guidance=settings["guidance"],
                                        guidance_floor=settings["guidance_floor"], **LARGE))
        large_s = round(time.perf_counter() - t0, 3)
    return {"setting": name, "large_clip_s": large_s, **row}


def run(args) -> dict:
    from kinetoscope.pipeline import GenerationRequest, Pipeline

    torch.set_num_threads(args.threads)
    full = Pipeline.from_pretrained(args.weights)
    fast = Pipeline.from_pretrained(args.weights, fast=True, text_encoder=full.text_encoder)
    prompts, geometry = model_suite(full, args.limit or (12 if args.quick else None))
    for p in (full, fast):  # text encoder and caches loaded before timing
        p.generate(GenerationRequest(prompt="warm up", steps=2))
    c, n = full.config, fast.config.steps
    distilled = bool(c.fast.get("denoiser"))  # else the fast setting is the full model at its own settings: row 2

    def own(p) -> dict:  # a pipeline's own sampling settings
        return {"steps": p.config.steps, "guidance": p.config.guidance, "guidance_floor": p.config.guidance_floor}

    rows = [score_row(f"full, {c.steps} steps", full, prompts, not args.no_large, **own(full), **geometry)]
    if distilled:  # the full model at the student's step count: what fewer steps give without distillation
        rows += [score_row(f"full, {n} steps", full, prompts, not args.no_large, **{**own(full), "steps": n}, **geometry),
                 score_row(f"distilled, {n} steps", fast, prompts, not args.no_large, **own(fast), **geometry)]
    else:  # the fast setting: the full model at the fast entry's steps, guidance and guidance floor
        rows.append(score_row(f"full, {n} steps (fast)", fast, prompts, not args.no_large, **own(fast), **geometry))
    compare(rows)
    for r in rows:
        if r["large_clip_s"]:
            r["large_speedup"] = round(rows[0]["large_clip_s"] / r["large_clip_s"], 3)
    result = {"benchmark": "fast", "threads": args.threads, "prompts": len(prompts), "rows": rows,
              "goal": "4-8 steps with eval scores within 5 points of the full-step model"}
    print(f"fast setting on {len(prompts)} suite prompts, {args.threads} threads (reference: the full model, same run)")
    print(f"{'setting':<22} {'calls':>6} {'s/clip':>7} {'speedup':>8} {'4-s 128px':>9} {'speedup':>8} {'mean score':>10} "
          f"{'change':>7}  " + " ".join(f"{a:>6}" for a in ATTRS))
    for r in rows:
        large = f"{r['large_clip_s']:>9.2f} {r['large_speedup']:>7.2f}x" if r["large_clip_s"] else f"{'-':>9} {'-':>8}"
        print(f"{r['setting']:<22} {r['model_calls_per_clip']:>6.1f} {r['seconds_per_clip']:>7.3f} {r['speedup']:>7.2f}x {large} "
              f"{r['mean_score']:>10.3f} {r['score_change_points']:>+6.1f}  " + " ".join(f"{r[a]:>6.0%}" for a in ATTRS))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> dict:
    return run(parse_args(argv))


if __name__ == "__main__":
    main()
