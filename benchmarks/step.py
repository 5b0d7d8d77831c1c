"""Seconds per denoiser step: our DiT against diffusers' WanTransformer3DModel.

Both models get the same width, depth, heads, FFN width (4x), patch (1,2,2),
latent channels (8), text width (384), token count and text length, so the
ratio compares implementations of the same amount of work. Wan takes its
timestep in [0, 1000] and has no text padding mask; ours takes t in [0, 1]
and a mask (all True here, so both attend to the same keys).

    python -m benchmarks.step             # full run, writes benchmarks/results/step.json
    python -m benchmarks.step --quick     # fewer repeats
    python -m benchmarks.step --tiny      # width 64, depth 2 (smoke test)

Rows: forward (no grad) at the built-in size and a larger one, fp32 and bf16
autocast; forward+backward (a training step without the optimizer) in fp32
at the built-in size. Timings are interleaved (ours, diffusers, ours, ...)
so that load from other processes falls on both alike; each figure is the
median of the timed runs after the warm-up runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import time
from pathlib import Path

import torch

from kinetoscope.models.transformer import DiT, TransformerConfig

RESULTS = Path(__file__).resolve().parent / "results" / "step.json"

TEXT_LEN = 32  # text tokens per prompt (the encoder pads to the longest prompt, at most 64)
BATCH = 2  # classifier-free guidance: conditional + unconditional in one batch

# name, latent (T, H, W), what it is
SIZES = [
    ("default", (5, 8, 8), "64x64, 2 s"),
    ("large", (9, 16, 16), "128x128, 4 s"),
]


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.step", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1 warm-up and 3 timed runs instead of 2 and 5")
    p.add_argument("--tiny", action="store_true", help="width 64, depth 2 (a smoke test of the benchmark itself)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per measurement (overrides --quick)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up runs per measurement (overrides --quick)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"JSON results file (default {RESULTS})")
    return p.parse_args(argv)


def build_models(width: int, depth: int, heads: int):
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    ours = DiT(TransformerConfig(in_channels=8, patch=(1, 2, 2), width=width, depth=depth, heads=heads, text_dim=384))
    theirs = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=heads,
        attention_head_dim=width // heads,
        in_channels=8,
        out_channels=8,
        text_dim=384,
        freq_dim=256,
        ffn_dim=4 * width,
        num_layers=depth,
        cross_attn_norm=True,  # ours has a LayerNorm (with affine) before cross-attention too
        qk_norm="rms_norm_across_heads",
        eps=1e-6,
    )
    return ours.eval(), theirs.eval()


def make_inputs(latent: tuple[int, int, int], seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    T, H, W = latent
    return {
        "x": torch.randn(BATCH, 8, T, H, W, generator=g),
        "t": torch.rand(BATCH, generator=g),
        "text": torch.randn(BATCH, TEXT_LEN, 384, generator=g),
        "mask": torch.ones(BATCH, TEXT_LEN, dtype=torch.bool),
        "given": torch.zeros(BATCH, T, dtype=torch.bool),
    }


def call_ours(model, inp):
    return model(inp["x"], inp["t"], inp["text"], inp["mask"], inp["given"])


def call_theirs(model, inp):
    out = model(
        hidden_states=inp["x"], timestep=inp["t"] * 1000.0, encoder_hidden_states=inp["text"], return_dict=False
    )
    return out[0]


def precision(dtype: str):
    if dtype == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def forward_fn(model, call, inp, dtype):
    def run():
        with torch.no_grad(), precision(dtype):
            call(model, inp)

    return run


def train_fn(model, call, inp, dtype):
    def run():
        model.zero_grad(set_to_none=True)
        with precision(dtype):
            out = call(model, inp)
        out.float().square().mean().backward()

    return run


def timed_pair(fn_a, fn_b, warmup: int, repeats: int) -> tuple[float, float]:
    """Median seconds of fn_a and fn_b, run alternately after the warm-up."""
    for _ in range(warmup):
        fn_a()
        fn_b()
    a, b = [], []
    for i in range(repeats):
        # alternate which goes first so neither always follows the other
        order = ((fn_a, a), (fn_b, b)) if i % 2 == 0 else ((fn_b, b), (fn_a, a))
        for fn, acc in order:
            start = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def format_table(rows) -> str:
    head = ("config", "mode", "dtype", "tokens", "ours s", "diffusers s", "ours/diffusers")
    body = [
        (
            r["config"],
            r["mode"],
            r["dtype"],
            str(r["tokens"]),
            f"{r['ours_s']:.4f}",
            f"{r['diffusers_s']:.4f}",
            f"{r['ratio']:.2f}",
        )
        for r in rows
    ]
    widths = [max(len(c) for c in col) for col in zip(head, *body)]
    line = lambda cells: " | ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(head), "-+-".join("-" * w for w in widths), *map(line, body)])


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    previous = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return run(args)
    finally:  # leave the process as we found it (the test suite runs this in-process)
        torch.set_num_threads(previous)


def run(args) -> dict:
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 5)
    width, depth, heads = (64, 2, 4) if args.tiny else (256, 8, 4)

    import diffusers

    ours, theirs = build_models(width, depth, heads)
    header = {
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "width": width,
        "depth": depth,
        "heads": heads,
        "batch": BATCH,
        "text_len": TEXT_LEN,
        "warmup": warmup,
        "repeats": repeats,
        "params": {"ours": count(ours), "diffusers": count(theirs)},
    }
    print(
        f"denoiser step benchmark | torch {header['torch']} | diffusers {header['diffusers']} | "
        f"CPU {header['cpu_capability']} | {header['threads']} threads"
    )
    print(
        f"W={width} D={depth} H={heads} batch={BATCH} text_len={TEXT_LEN} | warm-up {warmup}, median of {repeats}"
    )
    print(f"params: ours {header['params']['ours']:,} | diffusers Wan {header['params']['diffusers']:,}")

    plan = [(name, latent, what, "forward", dtype) for name, latent, what in SIZES for dtype in ("fp32", "bf16")]
    plan.append((*SIZES[0], "train", "fp32"))

    rows = []
    for name, latent, what, mode, dtype in plan:
        inp = make_inputs(latent)
        tokens = math.prod(n // p for n, p in zip(latent, (1, 2, 2)))
        if mode == "train":
            ours.train(), theirs.train()
            make = train_fn
        else:
            ours.eval(), theirs.eval()
            make = forward_fn
        ours_s, theirs_s = timed_pair(
            make(ours, call_ours, inp, dtype), make(theirs, call_theirs, inp, dtype), warmup, repeats
        )
        row = {
            "config": f"{name} ({what})",
            "latent": [BATCH, 8, *latent],
            "tokens": tokens,
            "mode": mode,
            "dtype": dtype,
            "ours_s": ours_s,
            "diffusers_s": theirs_s,
            "ratio": ours_s / theirs_s,
        }
        rows.append(row)
        print(f"  {row['config']:<24} {mode:<7} {dtype:<4} ours {ours_s:.4f}s  diffusers {theirs_s:.4f}s", flush=True)
    ours.zero_grad(set_to_none=True), theirs.zero_grad(set_to_none=True)

    table = format_table(rows)
    print()
    print(table)
    result = {"header": header, "rows": rows, "table": table}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return result


if __name__ == "__main__":
    main()
