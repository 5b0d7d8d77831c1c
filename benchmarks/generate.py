"""End-to-end generation time with `kinetoscope.pipeline.Pipeline`, and how it scales.

    python -m benchmarks.generate            # full run: benchmarks/results/generate.json + scaling.png
    python -m benchmarks.generate --quick    # fewer repeats, no 257-frame and 256x256 points
    python -m benchmarks.generate --random   # random weights of the built-in shape even if trained ones exist
    python -m benchmarks.generate --tiny     # tiny random models, stub text encoder (a smoke test)

Uses the trained built-in weights when `kinetoscope/weights/builtin/pipeline.json` exists,
else random weights of the built-in shape: the time is the same either way.
Stages of one `Pipeline.generate` (20 Euler steps, guidance 3.5 = a batch of 2) split by a
timing wrapper around the text encoder (its prompt cache cleared each call, so every
prompt is encoded afresh) and the pipeline's progress callback; then `write_video` to MP4.
Compute per second of video divides the total by the clip's length (frames / fps).
Scaling points run one subprocess each, so `ru_maxrss` is that point's own peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from kinetoscope.media import write_video
from kinetoscope.models import AutoencoderConfig, CausalVAE, DiT, TransformerConfig
from kinetoscope.pipeline import BUILTIN_WEIGHTS, GenerationRequest, Pipeline, PipelineConfig

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
GOAL_S, FPS, STEPS, GUIDANCE = 10.0, 8, 20, 3.5
PROMPT = "a small red circle bouncing left and right on a plain blue background"
STAGES = ("text", "denoise", "decode", "other", "write", "total")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.generate", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats; skips the 257-frame and 256x256 points")
    p.add_argument("--tiny", action="store_true", help="tiny random VAE and denoiser, stub text encoder (a smoke test)")
    p.add_argument("--random", action="store_true", help="random weights of the built-in shape")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"folder for generate.json and scaling.png (default {RESULTS})")
    p.add_argument("--point", type=int, nargs=2, metavar=("FRAMES", "SIZE"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


class TimedText:
    """Wraps the text encoder: clears its prompt cache and adds up the seconds spent in it."""

    def __init__(self, encoder):
        self.encoder, self.seconds, self.end = encoder, 0.0, 0.0

    def __call__(self, prompts):
        start = time.perf_counter()
        getattr(self.encoder, "_cache", {}).clear()
        out = self.encoder(prompts)
        self.end = time.perf_counter()
        self.seconds += self.end - start
        return out


def stub_text(prompts):  # fixed token states: the text encoder's cost does not depend on the video
    return torch.ones(len(prompts), 12, 384) * 0.1, torch.ones(len(prompts), 12, dtype=torch.bool)


def build(args):
    """-> (pipeline, which weights), text encoder not yet attached."""
    if args.tiny:
        torch.manual_seed(0)
        vae, dit = CausalVAE(AutoencoderConfig(channels=(8, 8, 16, 16))), DiT(TransformerConfig(width=32, depth=2, heads=2))
        return Pipeline(vae, dit, PipelineConfig()), "random weights, tiny shape, stub text encoder (--tiny)"
    if not args.random and (BUILTIN_WEIGHTS / "pipeline.json").is_file():
        return Pipeline.from_pretrained(), f"trained built-in weights ({BUILTIN_WEIGHTS})"
    torch.manual_seed(0)
    dit = DiT(TransformerConfig(in_channels=8, width=192, depth=6, heads=3))
    why = "--random" if args.random else "no trained weights installed"
    return Pipeline(CausalVAE(AutoencoderConfig()), dit, PipelineConfig()), f"random weights, built-in shape ({why})"


def measure(pipe, folder: Path, frames: int, size: int, steps: int = STEPS) -> dict:
    """Seconds per stage of one generation + MP4 write."""
    text = pipe._text = TimedText(pipe._text.encoder if isinstance(pipe._text, TimedText) else pipe.text_encoder)
    marks = {}

    def progress(stage, i, n):
        if stage == "decode" or i == n:
            marks[stage] = time.perf_counter()

    req = GenerationRequest(PROMPT, frames=frames, width=size, height=size, fps=FPS, steps=steps, guidance=GUIDANCE)
    t0 = time.perf_counter()
    video = pipe.generate(req, progress)
    t1 = time.perf_counter()
    write_video(folder / f"clip-{frames}-{size}.mp4", video.frames, video.fps, metadata=video.metadata)
    t2 = time.perf_counter()
    s = {"text": text.seconds, "denoise": marks["denoise"] - text.end, "decode": marks["decode"] - marks["denoise"],
         "write": t2 - t1, "total": t2 - t0}
    s["other"] = s["total"] - sum(s[k] for k in ("text", "denoise", "decode", "write"))  # resolve, to uint8, metadata
    s["video_s"] = len(video.frames) / video.fps
    return s


def median_of(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def point(args) -> None:
    """Subprocess: one scaling point; prints a JSON line."""
    frames, size = args.point
    pipe, _ = build(args)
    pipe._text = stub_text if args.tiny else pipe.text_encoder
    with tempfile.TemporaryDirectory() as tmp:
        measure(pipe, Path(tmp), 1, 64, steps=2)  # one-time costs: weights hash, thread pool, first allocations
        loaded = rss_mib()
        runs = [measure(pipe, Path(tmp), frames, size) for _ in range(1 if args.quick else 2)]
    print(json.dumps({"frames": frames, "size": size, "seconds": min(r["total"] for r in runs),
                      "stages": median_of(runs), "rss_loaded_mib": loaded, "rss_peak_mib": rss_mib(),
                      "vmhwm_mib": next(int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmHWM"))}))


def run_point(args, frames: int, size: int) -> dict:
    # ru_maxrss survives exec: a child exec'd straight from this (big) process would report at least our
    # own peak. A shell that forks the child (the `; exit` stops it exec'ing) gives the child a clean count.
    cmd = ["/bin/sh", "-c", '"$0" "$@"; exit $?', sys.executable, "-m", "benchmarks.generate",
           "--point", str(frames), str(size), "--threads", str(args.threads)]
    cmd += [f for f, on in (("--quick", args.quick), ("--tiny", args.tiny), ("--random", args.random)) if on]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"scaling point {frames} frames {size}px failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(head, body) -> str:
    widths = [max(len(c) for c in col) for col in zip(head, *body)]
    line = lambda cells: " | ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(head), "-+-".join("-" * w for w in widths), *map(line, body)])


def plot(path: Path, frames_rows, size_rows) -> None:
    """2x2 line charts (time and peak RSS vs frames and vs size) drawn with Pillow."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (1000, 720), "white")
    d, font = ImageDraw.Draw(img), ImageFont.load_default()
    d.text((20, 8), "kinetoscope generation scaling (Pipeline.generate + MP4 write)", fill="black", font=font)
    panels = [(frames_rows, "frames", "seconds", "time vs frames (64x64)"),
              (frames_rows, "frames", "rss_peak_mib", "peak RSS MiB vs frames (64x64)"),
              (size_rows, "size", "seconds", "time vs size (17 frames)"),
              (size_rows, "size", "rss_peak_mib", "peak RSS MiB vs size (17 frames)")]
    for n, (rows, xk, yk, title) in enumerate(panels):
        x0, y0 = 70 + (n % 2) * 490, 50 + (n // 2) * 340
        w, h = 400, 250
        xs, ys = [r[xk] for r in rows], [r[yk] for r in rows]
        xmin, xmax, ymax = min(xs), max(xs), max(ys) * 1.1 or 1.0
        px = lambda x: x0 + (w * (x - xmin) / (xmax - xmin) if xmax > xmin else w / 2)  # noqa: E731
        py = lambda y: y0 + h - h * y / ymax  # noqa: E731
        d.text((x0, y0 - 18), title, fill="black", font=font)
        d.line([(x0, y0), (x0, y0 + h), (x0 + w, y0 + h)], fill="black", width=1)
        for frac in (0.0, 0.5, 1.0):
            y = ymax * frac
            d.line([(x0 - 4, py(y)), (x0, py(y))], fill="black")
            d.line([(x0, py(y)), (x0 + w, py(y))], fill=(225, 225, 225))
            d.text((x0 - 60, py(y) - 6), f"{y:.3g}", fill="black", font=font)
        for x in xs:
            d.line([(px(x), y0 + h), (px(x), y0 + h + 4)], fill="black")
            label = f"{x}x{x}" if xk == "size" else str(x)
            d.text((px(x) - 3 * len(label), y0 + h + 8), label, fill="black", font=font)
        d.text((x0 + w / 2 - 20, y0 + h + 24), xk, fill="black", font=font)
        pts = [(px(x), py(y)) for x, y in zip(xs, ys)]
        if len(pts) > 1:
            d.line(pts, fill=(30, 90, 200), width=2)
        for x, y in pts:
            d.ellipse([x - 4, y - 4, x + 4, y + 4], fill=(30, 90, 200))
    img.save(path)


def main(argv: list[str] | None = None) -> dict | None:
    args = parse_args(argv)
    previous = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return point(args) if args.point else run(args)
    finally:  # leave the process as we found it (the test suite runs this in-process)
        torch.set_num_threads(previous)


def run(args) -> dict:
    warmup, repeats = (1, 2) if args.quick else (1, 5)
    pipe, source = build(args)
    t = time.perf_counter()
    pipe._text = stub_text if args.tiny else pipe.text_encoder
    load_text_s = time.perf_counter() - t
    header = {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
              "threads": torch.get_num_threads(), "weights": source, "tiny": args.tiny, "steps": STEPS,
              "guidance": GUIDANCE, "fps": FPS, "warmup": warmup, "repeats": repeats, "text_encoder_load_s": load_text_s,
              "params": {"vae": sum(p.numel() for p in pipe.vae.parameters()),
                         "denoiser": sum(p.numel() for p in pipe.denoiser.parameters()),
                         "denoiser_per_step": sum(p.numel() for p in getattr(pipe.denoiser, "main", pipe.denoiser).parameters())}}
    print(f"generation benchmark | torch {header['torch']} | CPU {header['cpu_capability']} | {header['threads']} threads")
    print(f"weights: {source} | params: VAE {header['params']['vae']:,}, denoiser {header['params']['denoiser']:,} "
          f"({header['params']['denoiser_per_step']:,} per step) | "
          f"{STEPS} steps, guidance {GUIDANCE} | text encoder loaded in {load_text_s:.2f}s (once per process)")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(warmup):
            measure(pipe, Path(tmp), 17, 64)
        default = median_of([measure(pipe, Path(tmp), 17, 64) for _ in range(repeats)])
        per_second = []
        for seconds in (2, 4, 8):
            frames = 1 + seconds * FPS
            runs = [measure(pipe, Path(tmp), frames, 64) for _ in range(1 if args.quick else 3)]
            r = median_of(runs)
            per_second.append({"seconds": seconds, "frames": frames, "total_s": r["total"], "video_s": r["video_s"],
                               "compute_per_video_s": r["total"] / r["video_s"]})
    print(f"\ndefault clip: 17 frames 64x64 at {FPS} fps ({default['video_s']:.3f} s), median of {repeats}")
    body = [(k, f"{default[k]:.4f}", f"{100 * default[k] / default['total']:.1f}%", "", "") for k in STAGES[:-1]]
    body.append(("total", f"{default['total']:.4f}", "100%", f"goal <= {GOAL_S:g} s", f"{default['total'] / GOAL_S:.3f}"))
    text_default = table(("stage", "seconds", "share", "reference", "total/goal"), body)
    print(text_default)

    print("\ncompute seconds per second of video (64x64)")
    text_ps = table(("clip", "frames", "video s", "total s", "compute s / video s"),
                    [(f"{r['seconds']} s", str(r["frames"]), f"{r['video_s']:.3f}", f"{r['total_s']:.3f}",
                      f"{r['compute_per_video_s']:.3f}") for r in per_second])
    print(text_ps)

    frame_pts, sizes = ((17, 65) if args.quick else (17, 65, 257)), ((64, 128) if args.quick else (64, 128, 256))
    cache = {}
    for key in [(f, 64) for f in frame_pts] + [(17, s) for s in sizes]:
        if key not in cache:
            cache[key] = run_point(args, *key)
            print(f"  point {key[0]} frames {key[1]}x{key[1]}: {cache[key]['seconds']:.3f}s, "
                  f"peak RSS {cache[key]['rss_peak_mib']:.0f} MiB", flush=True)
    frames_rows, size_rows = [cache[(f, 64)] for f in frame_pts], [cache[(17, s)] for s in sizes]
    print("\nscaling (one subprocess per point; peak = ru_maxrss, loaded = after model load and a 1-frame warm-up)")
    text_sc = table(("frames", "size", "seconds", "peak RSS MiB", "loaded RSS MiB"),
                    [(str(r["frames"]), f"{r['size']}x{r['size']}", f"{r['seconds']:.3f}", f"{r['rss_peak_mib']:.0f}",
                      f"{r['rss_loaded_mib']:.0f}") for r in sorted(cache.values(), key=lambda r: (r["size"], r["frames"]))])
    print(text_sc)
    png = args.out / "scaling.png"
    plot(png, frames_rows, size_rows)
    result = {"header": header, "default_clip": {**default, "goal_s": GOAL_S, "ratio_total_goal": default["total"] / GOAL_S},
              "per_second": per_second, "scaling": {"frames": frames_rows, "size": size_rows},
              "table": "\n\n".join([text_default, text_ps, text_sc])}
    (args.out / "generate.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out / 'generate.json'} and {png}")
    return result


if __name__ == "__main__":
    main()
