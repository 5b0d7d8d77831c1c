"""What live previews add to a default clip: `Pipeline.generate` with and without the studio's preview
publisher, in the same run.

    python -m benchmarks.previews            # 1 warm-up and 7 timed pairs; writes benchmarks/results/previews.json
    python -m benchmarks.previews --quick    # 1 warm-up and 3 pairs
    python -m benchmarks.previews --tiny     # tiny random models, stub text encoder (a smoke test)

The clip is the model's default request (its size, length, steps and guidance; the built-in model:
64x64, 2 s, 20 steps) with a fixed seed. "With" hangs the worker's `previews.Publisher` on the
progress callback, as the studio's worker does: every few steps it decodes the first, middle and last
latent frames of the clean estimate, encodes them as one WebP and writes it atomically to a storage
folder (fsync included). Runs alternate (plain, previews, previews, plain, ...) so load from other
processes falls on both alike; the ratio is of the medians (and of the fastest runs). The goal is
previews <= 1.10x plain. On a busy machine the two medians differ by more than previews cost, so the
time spent inside the publisher is measured too, and reported as its share of the clip's time.
Both must make the same video (checked).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "previews.json"
GOAL = 1.10
PROMPT = "a red circle moving right on a blue background"


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.previews", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="3 timed pairs instead of 7")
    p.add_argument("--tiny", action="store_true", help="tiny random models, stub text encoder (a smoke test)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"JSON results file (default {RESULTS})")
    return p.parse_args(argv)


def build(tiny: bool):
    """-> (pipeline, which weights)."""
    from benchmarks.generate import stub_text
    from kinetoscope.models import AutoencoderConfig, CausalVAE, DiT, TransformerConfig
    from kinetoscope.pipeline import BUILTIN_WEIGHTS, Pipeline, PipelineConfig

    if tiny:
        torch.manual_seed(0)
        vae, dit = CausalVAE(AutoencoderConfig(channels=(8, 8, 16, 16))), DiT(TransformerConfig(width=32, depth=2, heads=2))
        return Pipeline(vae, dit, PipelineConfig(), text_encoder=stub_text), "random weights, tiny shape, stub text encoder (--tiny)"
    if (BUILTIN_WEIGHTS / "pipeline.json").is_file():
        return Pipeline.from_pretrained(), f"trained built-in weights ({BUILTIN_WEIGHTS})"
    raise SystemExit(f"no built-in weights at {BUILTIN_WEIGHTS}: install them, or run with --tiny")


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from kinetoscope.pipeline import GenerationRequest
    from kinetoscope.progress import WithPreview
    from kinetoscope.studio import previews
    from kinetoscope.studio.storage import LocalStorage

    pipe, weights = build(args.tiny)
    req = pipe.resolve(GenerationRequest(prompt=PROMPT, seed=7))
    pairs = 3 if args.quick else 7
    made: list[int] = []
    spent: list[float] = []
    with tempfile.TemporaryDirectory(prefix="kinetoscope-previews-") as tmp:
        storage = LocalStorage(tmp)

        def plain():
            return pipe.generate(req, progress=lambda stage, i, n: None).frames

        def with_previews():
            publisher = previews.Publisher(storage, "video_bench")
            frames = pipe.generate(req, progress=WithPreview(lambda stage, i, n: None, publisher)).frames
            made.append(publisher.count)
            spent.append(publisher.spent)
            return frames

        same = bool(np.array_equal(plain(), with_previews()))  # also the warm-up of both
        made.clear()
        spent.clear()
        a, b = [], []
        for k in range(pairs):
            for fn, acc in ((plain, a), (with_previews, b)) if k % 2 == 0 else ((with_previews, b), (plain, a)):
                start = time.perf_counter()
                fn()
                acc.append(time.perf_counter() - start)
    plain_s, previews_s = statistics.median(a), statistics.median(b)
    result = {
        "header": {"weights": weights, "torch": torch.__version__, "threads": args.threads, "pairs": pairs, "goal": GOAL,
                   "request": {k: getattr(req, k) for k in ("width", "height", "frames", "fps", "steps", "guidance")},
                   "publisher": {"per_run": previews.PER_RUN, "share": previews.SHARE, "frames": previews.FRAMES,
                                 "max_side": previews.MAX_SIDE}},
        "same_video": same,
        "plain_s": plain_s, "previews_s": previews_s, "ratio": previews_s / plain_s,
        "plain_min_s": min(a), "previews_min_s": min(b), "ratio_min": min(b) / min(a),
        "previews_per_clip": statistics.median(made),
        "preview_seconds_per_clip": statistics.median(spent),  # timed inside the publisher: decode, encode, write
        "preview_share": statistics.median(spent) / previews_s,
        "meets_goal": previews_s / plain_s <= GOAL,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    r = result
    print(f"default clip {r['header']['request']['width']}x{r['header']['request']['height']}, "
          f"{r['header']['request']['frames']} frames, {r['header']['request']['steps']} steps ({weights})")
    print(f"plain {plain_s:.3f} s, with previews {previews_s:.3f} s ({r['previews_per_clip']:g} previews per clip); "
          f"ratio {r['ratio']:.3f} medians, {r['ratio_min']:.3f} fastest runs (goal <= {GOAL}); "
          f"same video: {'yes' if same else 'NO'}")
    print(f"time inside the publisher: {r['preview_seconds_per_clip']:.3f} s per clip = {100 * r['preview_share']:.1f}% "
          f"of the clip's time with previews; wrote {args.out}")
    return result


if __name__ == "__main__":
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    main()
