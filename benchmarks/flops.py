"""Achieved FLOP/s of a denoiser step against this CPU's measured matmul peak.

The FLOPs of one forward step are counted by PyTorch's FlopCounterMode (matmuls, convolutions
and attention); the step is timed; the peak is a plain square matmul (fp32, and bf16 where the
processor has fast bf16) of a size that reaches the library's best speed on this machine.
The fraction says how close to the hardware the step runs: small models with short sequences
spend much of their time outside matmuls (norms, RoPE, elementwise), which this makes visible.

    python -m benchmarks.flops          # writes benchmarks/results/flops.json
    python -m benchmarks.flops --quick
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.step import SIZES, call_ours, make_inputs, precision
from kinetoscope.hardware import fast_bf16
from kinetoscope.models.transformer import DiT, TransformerConfig

RESULTS = Path(__file__).resolve().parent / "results" / "flops.json"
WIDTH, DEPTH, HEADS = 256, 8, 4  # as in benchmarks.step


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.flops", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer timed runs")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


def median_seconds(fn, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def matmul_peak(dtype: torch.dtype, repeats: int) -> dict:
    """Best FLOP/s over a few square sizes (the library's sweet spot differs by machine)."""
    best = {"flops_per_s": 0.0}
    for n in (512, 1024, 2048):
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        s = median_seconds(lambda: a @ b, 2, repeats)
        f = 2 * n**3 / s
        if f > best["flops_per_s"]:
            best = {"flops_per_s": f, "n": n, "seconds": s}
    return best


def step_flops(model, inp, dtype: str) -> int:
    with torch.no_grad(), precision(dtype), FlopCounterMode(display=False) as counter:
        call_ours(model, inp)
    return counter.get_total_flops()


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    repeats = 3 if args.quick else 7
    torch.manual_seed(0)
    model = DiT(TransformerConfig(in_channels=8, patch=(1, 2, 2), width=WIDTH, depth=DEPTH, heads=HEADS, text_dim=384)).eval()
    dtypes = ["fp32"] + (["bf16"] if fast_bf16() else [])
    peaks = {d: matmul_peak(torch.float32 if d == "fp32" else torch.bfloat16, repeats) for d in dtypes}
    rows = []
    for name, latent, what in SIZES:
        inp = make_inputs(latent)
        for d in dtypes:
            flops = step_flops(model, inp, d)

            def step():
                with torch.no_grad(), precision(d):
                    call_ours(model, inp)

            s = median_seconds(step, 2, repeats)
            rows.append({"size": name, "what": what, "dtype": d, "gflop": round(flops / 1e9, 3), "seconds": round(s, 4),
                         "gflop_per_s": round(flops / s / 1e9, 2),
                         "fraction_of_peak": round(flops / s / peaks[d]["flops_per_s"], 3)})
    result = {"benchmark": "flops", "threads": args.threads, "model": {"width": WIDTH, "depth": DEPTH, "heads": HEADS},
              "matmul_peak": {d: {"gflop_per_s": round(p["flops_per_s"] / 1e9, 2), "n": p["n"]} for d, p in peaks.items()},
              "rows": rows}
    print(f"denoiser step (DiT W{WIDTH} D{DEPTH}, CFG batch 2) vs matmul peak, {args.threads} threads")
    for d, p in result["matmul_peak"].items():
        print(f"  matmul peak {d}: {p['gflop_per_s']:.1f} GFLOP/s (n={p['n']})")
    print(f"{'size':>8} {'dtype':>5} {'GFLOP':>8} {'s':>8} {'GFLOP/s':>9} {'of peak':>8}")
    for r in rows:
        print(f"{r['size']:>8} {r['dtype']:>5} {r['gflop']:>8.2f} {r['seconds']:>8.4f} {r['gflop_per_s']:>9.1f} "
              f"{r['fraction_of_peak']:>8.1%}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> dict:
    return run(parse_args(argv))


if __name__ == "__main__":
    main()
