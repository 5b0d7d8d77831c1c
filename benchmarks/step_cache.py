"""Step caching (TeaCache-style reuse of the denoiser's clean-sample estimate between steps):
time, model calls and eval scores against the uncached sampler, on the same prompts and seeds.

    python -m benchmarks.step_cache            # quick eval suite (36 prompts) per threshold
    python -m benchmarks.step_cache --limit 12 # fewer prompts

The reference is threshold 0 (every step calls the model), run in the same process.
Writes benchmarks/results/step_cache.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from benchmarks._suite import ATTRS, compare, model_suite, score

RESULTS = Path(__file__).resolve().parent / "results" / "step_cache.json"
THRESHOLDS = (0.0, 0.1, 0.15, 0.2, 0.3)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.step_cache", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="12 prompts instead of the 36 of the quick suite")
    p.add_argument("--limit", type=int, default=None, help="run only N prompts")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--weights", default=None)
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


def run(args) -> dict:
    from kinetoscope.pipeline import GenerationRequest, Pipeline

    torch.set_num_threads(args.threads)
    pipe = Pipeline.from_pretrained(args.weights)
    prompts, geometry = model_suite(pipe, args.limit or (12 if args.quick else None))
    pipe.generate(GenerationRequest(prompt="warm up", steps=2))  # text encoder and caches loaded before timing
    rows = []
    for th in THRESHOLDS:
        t0 = time.perf_counter()
        row = score(pipe, prompts, step_cache=th, **geometry)
        rows.append({"threshold": th, **row, "wall_s": round(time.perf_counter() - t0, 1)})
    compare(rows)
    result = {"benchmark": "step_cache", "threads": args.threads, "prompts": len(prompts), "steps": rows[0]["steps"],
              "rows": rows, "goal": "speed-up >= 1.5x at <= 2 points of eval score"}
    print(f"step caching on {len(prompts)} suite prompts, {result['steps']} steps, {args.threads} threads "
          f"(reference: threshold 0, same run)")
    print(f"{'thresh':>6} {'calls':>6} {'s/clip':>7} {'speedup':>8} {'mean score':>10} {'change':>7}  " + " ".join(f"{a:>6}" for a in ATTRS))
    for r in rows:
        print(f"{r['threshold']:>6.2f} {r['model_calls_per_clip']:>6.1f} {r['seconds_per_clip']:>7.3f} {r['speedup']:>7.2f}x "
              f"{r['mean_score']:>10.3f} {r['score_change_points']:>+6.1f}  " + " ".join(f"{r[a]:>6.0%}" for a in ATTRS))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> dict:
    return run(parse_args(argv))


if __name__ == "__main__":
    main()
