"""The CPU levers of issue 9, each against eager fp32 in the same run: channels-last 3D
memory format, torch.compile (inductor), and bf16 autocast, on the built-in model's
denoiser step (classifier-free-guidance batch of 2 at 64x64, a 2-s clip's grid) and, for a
latent model, its autoencoder decode of that clip (a pixel-space model has none to time).

    python -m benchmarks.levers            # writes benchmarks/results/levers.json
    python -m benchmarks.levers --quick

Each row reports the median time, the ratio to eager fp32 (lower is faster) and the largest
absolute difference of the output from eager fp32, so a lever that is fast but wrong shows.
Whether bf16 is worth it depends on the processor (AMX / AVX512-BF16); the row says which
this machine has. torch.compile's first call (compilation) is reported separately.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results" / "levers.json"
FRAMES, SIZE = 17, 64


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.levers", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="3 timed runs instead of 7")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--weights", default=None, help="model folder (default: the built-in)")
    p.add_argument("--skip-compile", action="store_true", help="leave out torch.compile (needs a C++ compiler)")
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def variants(module: torch.nn.Module, call, compile_fn):
    """(name, fn) pairs; each fn runs `call(model, channels_last)` under its own setting.
    `compile_fn(copy) -> compiled model`, or None to leave torch.compile out."""
    out = [("eager fp32", lambda: call(module, False))]
    cl = _channels_last(copy.deepcopy(module)) if _has_conv3d(module) else None
    if cl is not None:
        out.append(("channels-last 3D", lambda: call(cl, True)))

    def bf16():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return call(module, False)

    out.append(("bf16 autocast", bf16))
    if compile_fn is not None:
        compiled = compile_fn(copy.deepcopy(module))
        out.append(("torch.compile", lambda: call(compiled, False)))
    return out


def _compile_decoder(vae):
    """The autoencoder's decoder module (decode() loops over latent frames in Python)."""
    vae.decoder = torch.compile(vae.decoder)
    return vae


def _channels_last(m):
    """Conv3d weights in channels-last-3D layout (other parameters are not 5-D)."""
    for conv in m.modules():
        if isinstance(conv, torch.nn.Conv3d):
            conv.weight.data = conv.weight.data.contiguous(memory_format=torch.channels_last_3d)
    return m


def _has_conv3d(m) -> bool:
    return any(isinstance(x, torch.nn.Conv3d) for x in m.modules())


def measure(name: str, module, call, repeats: int, compile_fn=torch.compile) -> list[dict]:
    rows, ref, ref_t = [], None, None
    for label, fn in variants(module, call, compile_fn):
        with torch.no_grad():
            t0 = time.perf_counter()
            y = fn()  # warm-up; for torch.compile this is the compilation
            first = time.perf_counter() - t0
            fn()
            t = median_time(fn, repeats)
        y = y.float().contiguous()
        if ref is None:
            ref, ref_t = y, t
        rows.append({"stage": name, "lever": label, "seconds": round(t, 4), "vs_eager": round(t / ref_t, 3),
                     "max_abs_diff": float((y - ref).abs().max()), "first_call_s": round(first, 2)})
    return rows


def run(args) -> dict:
    from kinetoscope.hardware import cpu_flags, fast_bf16
    from kinetoscope.pipeline import Pipeline

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    pipe = Pipeline.from_pretrained(args.weights)
    den, vae = pipe.denoiser.eval(), pipe.vae.eval()
    c, t, h, w = vae.latent_shape(FRAMES, SIZE, SIZE)
    x = torch.randn(2, c, t, h, w)
    text, mask = torch.randn(2, 12, 384), torch.ones(2, 12, dtype=torch.bool)
    tt = torch.tensor([0.5, 0.5])
    z = torch.randn(1, c, t, h, w)

    def step(m, cl):
        xi = x.contiguous(memory_format=torch.channels_last_3d) if cl else x
        return m(xi, tt, text, mask)

    def decode(m, cl):
        zi = z.contiguous(memory_format=torch.channels_last_3d) if cl else z
        return m.decode(zi)

    repeats = 3 if args.quick else 7
    skip = args.skip_compile
    rows = measure("denoiser step (CFG batch 2)", den, step, repeats, None if skip else torch.compile)
    if hasattr(vae, "decoder"):  # a latent autoencoder; pixel space decodes nothing
        rows += measure("autoencoder decode (2 s)", vae, decode, max(2, repeats // 2), None if skip else _compile_decoder)
    flags = sorted({"avx2", "avx512f", "avx512_bf16", "amx_bf16"} & cpu_flags())
    result = {"benchmark": "levers", "threads": args.threads, "torch": torch.__version__, "cpu_flags": flags,
              "fast_bf16": fast_bf16(), "grid": [c, t, h, w], "rows": rows,
              "reference": "eager fp32, same process, same inputs"}
    print(f"levers on the built-in model, {args.threads} threads, torch {torch.__version__}, "
          f"CPU flags {', '.join(flags) or 'none of interest'} (reference: eager fp32, same run)")
    print(f"{'stage':<28} {'lever':<24} {'s':>8} {'vs eager':>9} {'max |diff|':>11} {'1st call s':>10}")
    for r in rows:
        print(f"{r['stage']:<28} {r['lever']:<24} {r['seconds']:>8.4f} {r['vs_eager']:>8.2f}x "
              f"{r['max_abs_diff']:>11.2e} {r['first_call_s']:>10.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> dict:
    return run(parse_args(argv))


if __name__ == "__main__":
    main()
