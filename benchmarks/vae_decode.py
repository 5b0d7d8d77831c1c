"""Autoencoder decode of a 2-s clip: our causal VAE against diffusers' AutoencoderKLWan.

Both decode latents of the same 2-s, 8-fps clip to the same output size. Wan's autoencoder is
its published architecture (diffusers' default config: base width 96, 16 latent channels, 8x
space and 4x time) with random weights: timing does not depend on the weights, and no
weights are downloaded. Ours is the shipped built-in autoencoder, purpose-built smaller; its
reconstruction PSNR on held-out world clips is reported beside the time (Wan's random weights
have no meaningful PSNR). Timings are interleaved medians, as in benchmarks.step.

    python -m benchmarks.vae_decode            # writes benchmarks/results/vae_decode.json
    python -m benchmarks.vae_decode --quick
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from benchmarks.step import timed_pair

RESULTS = Path(__file__).resolve().parent / "results" / "vae_decode.json"
FRAMES = 17  # 2 s at 8 fps
SIZES = (64, 128)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks.vae_decode", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1 warm-up and 3 timed runs instead of 1 and 5")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--weights", default=None, help="model folder whose autoencoder is ours (default: the built-in)")
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


def params(m) -> int:
    return sum(p.numel() for p in m.parameters())


def run(args) -> dict:
    from diffusers import AutoencoderKLWan

    from kinetoscope.eval.suite import vae_psnr
    from kinetoscope.models import CausalVAE
    from kinetoscope.pipeline import BUILTIN_WEIGHTS

    torch.set_num_threads(args.threads)
    ours = CausalVAE.from_pretrained(Path(args.weights or BUILTIN_WEIGHTS) / "vae").eval()
    torch.manual_seed(0)
    wan = AutoencoderKLWan().eval()
    warmup, repeats = (1, 3) if args.quick else (1, 5)
    rows = []
    for size in SIZES:
        z_ours = torch.randn(1, *ours.latent_shape(FRAMES, size, size))
        t_lat = 1 + (FRAMES - 1) // 4
        z_wan = torch.randn(1, wan.config.z_dim, t_lat, size // 8, size // 8)
        with torch.no_grad():
            out_ours = ours.decode(z_ours)
            out_wan = wan.decode(z_wan).sample
        assert out_ours.shape == out_wan.shape, (out_ours.shape, out_wan.shape)

        def dec_ours():
            with torch.no_grad():
                ours.decode(z_ours)

        def dec_wan():
            with torch.no_grad():
                wan.decode(z_wan)

        a, b = timed_pair(dec_ours, dec_wan, warmup, repeats)
        rows.append({"size": f"{size}x{size}", "frames": FRAMES, "ours_s": round(a, 4), "wan_s": round(b, 4),
                     "ratio": round(a / b, 3)})
    psnr = vae_psnr(ours)
    result = {"benchmark": "vae_decode", "threads": args.threads, "ours_params": params(ours), "wan_params": params(wan),
              "ours_psnr_db": psnr["psnr_db"], "psnr_clips": psnr["clips"], "rows": rows,
              "goal": "ours <= 0.25x of AutoencoderKLWan"}
    print(f"autoencoder decode, {FRAMES} frames (2 s), {args.threads} threads; ours {params(ours) / 1e6:.2f} M params "
          f"(PSNR {psnr['psnr_db']:.1f} dB on {psnr['clips']} held-out clips), Wan {params(wan) / 1e6:.1f} M")
    print(f"{'size':>8} {'ours s':>9} {'Wan s':>9} {'ours/Wan':>9}")
    for r in rows:
        print(f"{r['size']:>8} {r['ours_s']:>9.3f} {r['wan_s']:>9.3f} {r['ratio']:>9.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> dict:
    return run(parse_args(argv))


if __name__ == "__main__":
    main()
