"""Training throughput: denoiser and VAE steps (fp32 vs bf16 autocast) and the world generator.

    python -m benchmarks.train_step            # full run, writes benchmarks/results/train_step.json
    python -m benchmarks.train_step --quick    # fewer repeats / clips
    python -m benchmarks.train_step --tiny     # tiny models (a smoke test of the benchmark itself)

Rows:
- denoiser: the built-in DiT (width 192, depth 6, heads 3) on latents (16, 8, 5, 8, 8),
  `flow_loss` + AdamW step, fp32 and bf16 autocast, in samples/s;
- vae: `CausalVAE(AutoencoderConfig())` on pixels (8, 3, 5, 32, 32), L1 reconstruction
  loss + AdamW step, fp32 and bf16 autocast, in samples/s;
- world: `make_clip(seed, cfg)` for 17 frames of 64x64, in clips/s, for the default
  curriculum (1 object, plain), 1 object on a textured background and 3 objects on one.

The "ratio" column divides a row's rate by its reference's rate: fp32 is the
reference for bf16 (same stage, timed alternately in the same run, each
figure the median of the timed steps after the warm-up); the default world
config is the reference for the other world rows. Above 1 means faster.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import torch

from benchmarks.step import precision, timed_pair
from kinetoscope.data.world import WorldConfig, make_clip
from kinetoscope.diffusion import flow_loss
from kinetoscope.hardware import cpu_flags, fast_bf16
from kinetoscope.hardware import precision as training_precision
from kinetoscope.models import AutoencoderConfig, CausalVAE, DiT, TransformerConfig

RESULTS = Path(__file__).resolve().parent / "results" / "train_step.json"

DIT_BATCH, LATENT, TEXT_LEN = 16, (8, 5, 8, 8), 12
VAE_BATCH, PIXELS = 8, (3, 5, 32, 32)
WORLDS = [
    ("1 object, plain (default)", dict()),
    ("1 object, textured", dict(backgrounds=("textured",))),
    ("3 objects, textured", dict(min_objects=3, max_objects=3, backgrounds=("textured",))),
]


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.train_step", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1 warm-up and 2 timed steps instead of 2 and 5; fewer clips")
    p.add_argument("--tiny", action="store_true", help="tiny models and few clips (a smoke test of the benchmark)")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--out", type=Path, default=RESULTS, help=f"JSON results file (default {RESULTS})")
    return p.parse_args(argv)


def dit_step(model, opt, dtype, gen):
    b = DIT_BATCH
    x0 = torch.randn(b, *LATENT, generator=gen)
    text = torch.randn(b, TEXT_LEN, 384, generator=gen)
    lengths = torch.randint(4, TEXT_LEN + 1, (b,), generator=gen)
    mask = torch.arange(TEXT_LEN)[None] < lengths[:, None]
    t, noise = torch.rand(b, generator=gen), torch.randn(x0.shape, generator=gen)

    def run():
        opt.zero_grad(set_to_none=True)
        with precision(dtype):
            loss = flow_loss(model, x0, text, mask, t=t, noise=noise)
        loss.float().backward()
        opt.step()

    return run


def vae_step(model, opt, dtype, gen):
    x = torch.rand(VAE_BATCH, *PIXELS, generator=gen) * 2 - 1
    noise = torch.randn(model.latent_shape(PIXELS[1], PIXELS[2], PIXELS[3]), generator=gen).expand(VAE_BATCH, -1, -1, -1, -1)

    def run():
        opt.zero_grad(set_to_none=True)
        with precision(dtype):
            recon, _, _ = model(x, noise=noise.contiguous())
        (recon.float() - x).abs().mean().backward()
        opt.step()

    return run


def clips_per_s(cfg: WorldConfig, warm: int, n: int) -> float:
    for i in range(warm):  # fills the shape caches, as a long training run has
        make_clip(i, cfg)
    start = time.perf_counter()
    for i in range(n):
        make_clip(10_000 + i, cfg)
    return n / (time.perf_counter() - start)


def format_table(rows) -> str:
    head = ("stage", "config", "dtype", "rate", "unit", "reference", "ratio")
    body = [(r["stage"], r["config"], r["dtype"], f"{r['rate']:.2f}", r["unit"], r["reference"], f"{r['ratio']:.3f}")
            for r in rows]
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
    warmup, repeats = (1, 2) if args.quick or args.tiny else (2, 5)
    warm_clips, n_clips = (2, 4) if args.tiny else ((20, 40) if args.quick else (20, 200))
    dit_cfg = (TransformerConfig(in_channels=8, width=32, depth=2, heads=2) if args.tiny
               else TransformerConfig(in_channels=8, width=192, depth=6, heads=3))
    vae_cfg = AutoencoderConfig(channels=(8, 8, 16, 16)) if args.tiny else AutoencoderConfig()
    flags = sorted({"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"} & cpu_flags())
    torch.manual_seed(0)
    dit, vae = DiT(dit_cfg).train(), CausalVAE(vae_cfg).train()
    auto = training_precision("auto")
    header = {
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_flags": flags,
        "fast_bf16": fast_bf16(),
        "precision_auto": auto.name,
        "precision_auto_reason": auto.reason,
        "threads": torch.get_num_threads(),
        "tiny": args.tiny,
        "warmup": warmup,
        "repeats": repeats,
        "denoiser": {"width": dit_cfg.width, "depth": dit_cfg.depth, "heads": dit_cfg.heads,
                     "params": sum(p.numel() for p in dit.parameters()), "batch": [DIT_BATCH, *LATENT],
                     "text_len": TEXT_LEN},
        "vae": {"channels": list(vae_cfg.channels), "params": sum(p.numel() for p in vae.parameters()),
                "batch": [VAE_BATCH, *PIXELS]},
        "world": {"frames": 17, "size": [64, 64], "warm_clips": warm_clips, "clips": n_clips},
    }
    print(f"training throughput | torch {header['torch']} | CPU {header['cpu_capability']} "
          f"(flags: {', '.join(flags) or 'none of avx2/avx512/amx'}) | {header['threads']} threads")
    print(f"training precision 'auto' picks {header['precision_auto']} ({header['precision_auto_reason']})")
    print(f"denoiser W={dit_cfg.width} D={dit_cfg.depth} H={dit_cfg.heads} ({header['denoiser']['params']:,} params) "
          f"on {tuple(header['denoiser']['batch'])} | VAE {tuple(vae_cfg.channels)} "
          f"({header['vae']['params']:,} params) on {tuple(header['vae']['batch'])} | warm-up {warmup}, median of {repeats}")

    rows = []
    gen = torch.Generator().manual_seed(0)
    for stage, model, make, batch in (("denoiser", dit, dit_step, DIT_BATCH), ("vae", vae, vae_step, VAE_BATCH)):
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        with warnings.catch_warnings():  # bf16 autocast on CPU warns that rms_norm cannot use its fused kernel
            warnings.simplefilter("ignore", UserWarning)
            fp32_s, bf16_s = timed_pair(make(model, opt, "fp32", gen), make(model, opt, "bf16", gen), warmup, repeats)
        model.zero_grad(set_to_none=True)
        for dtype, secs in (("fp32", fp32_s), ("bf16", bf16_s)):
            rows.append({"stage": stage, "config": "built-in" if not args.tiny else "tiny", "dtype": dtype,
                         "step_s": secs, "rate": batch / secs, "unit": "samples/s", "reference": f"{stage} fp32",
                         "ratio": fp32_s / secs})
        print(f"  {stage:<8} fp32 {fp32_s:.4f}s/step  bf16 {bf16_s:.4f}s/step", flush=True)
        del opt

    base = None
    for name, overrides in WORLDS:
        rate = clips_per_s(WorldConfig(**overrides), warm_clips, n_clips)
        base = base or rate
        rows.append({"stage": "world", "config": name, "dtype": "-", "step_s": 1 / rate, "rate": rate,
                     "unit": "clips/s", "reference": WORLDS[0][0], "ratio": rate / base})
        print(f"  world    {name:<26} {rate:.1f} clips/s", flush=True)

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
