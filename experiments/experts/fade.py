"""Objects fade in: where in sampling the first frames lose the object, and whether the model or the noise picks them.

1. From an eval report (`kinetoscope eval --quick --out R`): in which frame each detected object
   first appears (the world never lets one enter or leave the frame, so every object belongs in
   frame 0).
2. For one prompt and seed: the clean estimate x0 at sampling steps 0, 2, 4, ... decoded into a
   sheet (rows: steps, columns: frames 0, 2, ..., 16), and each latent frame's contrast (mean
   |x0 - its frame mean|) beside the ground truth clip's.
3. The same second step with the noise reversed in time: if the weak frames move to the end, the
   noise picks which frames get the object, not the frame index.
4. The estimate on training-like inputs: the quick suite's ground-truth clips, encoded and noised
   to t; if it is shrunk evenly across latent frames there, the ramp comes from sampling.

    python experiments/experts/fade.py kinetoscope/weights/builtin --report R/report.json --sheet fade.png
"""

import argparse
import collections
import json

import numpy as np
import torch
from PIL import Image

from kinetoscope.diffusion import samplers, token_shift
from kinetoscope.eval.suite import OracleGenerator, build_suite
from kinetoscope.pipeline import GenerationRequest, Pipeline


def contrast(z: torch.Tensor) -> list[float]:
    """(1, C, T, H, W) latents -> per latent frame mean |z - its frame mean| (how much is drawn in it)."""
    return [round(float((z[0, :, k] - z[0, :, k].mean((1, 2), keepdim=True)).abs().mean()), 3) for k in range(z.shape[2])]


def first_frames(report: str) -> None:
    firsts, n = collections.Counter(), 0
    for rec in json.load(open(report))["records"]:
        for o in rec["analysis"]["objects"]:
            seen = [i for i, a in enumerate(o["areas"]) if a]
            firsts[seen[0] if seen else "never"] += 1
            n += 1
    print(f"objects by the first frame they appear in ({n} objects): " + ", ".join(f"{k}: {v}" for k, v in sorted(firsts.items(), key=str)))


@torch.no_grad()
def trace(pipe: Pipeline, prompt: str, seed: int, sheet: str | None) -> None:
    shape = pipe.vae.latent_shape(17, 64, 64)
    noise = torch.randn((1, *shape), generator=torch.Generator().manual_seed(seed))
    cond, uncond = pipe.text_encoder([prompt]), pipe.text_encoder([""])
    shift = pipe.config.shift or token_shift(shape[1] * shape[2] * shape[3] // 16)
    x0s, ts, real = [], [], samplers.guided_velocity

    def spy(model, x, t, *a):
        v = real(model, x, t, *a)
        x0s.append(x - float(t) * v)
        ts.append(float(t))
        return v

    samplers.guided_velocity = spy
    try:
        samplers.denoise(pipe.denoiser, noise, cond, uncond, steps=20, guidance=pipe.config.guidance, shift=shift)
    finally:
        samplers.guided_velocity = real
    truth = OracleGenerator(build_suite(quick=True)).generate(GenerationRequest(prompt=prompt, seed=seed)).frames
    print(f"{prompt!r}, seed {seed}: contrast per latent frame\n  ground truth      {contrast(pipe._encode(truth))}")
    rows = []
    for i in range(0, len(x0s), 2):
        print(f"  step {i:2d} t={ts[i]:.3f} {contrast(x0s[i])}")
        f = ((pipe.vae.decode(x0s[i])[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 3, 0).numpy()
        rows.append(np.concatenate(list(f[::2]), axis=1))
    t = torch.tensor([ts[2]])
    for name, eps in (("noise as drawn", noise), ("noise reversed in time", noise.flip(2))):
        est = pipe.denoiser((1 - t) * x0s[0] + t * eps, t, *cond)
        print(f"  step 2 from step 0's estimate (conditional only), {name}: {contrast(est)}")
    if sheet:
        Image.fromarray(np.concatenate(rows, axis=0)).save(sheet)
        print(f"  sheet: {sheet}")


@torch.no_grad()
def on_truth(pipe: Pipeline, levels=(0.98, 0.95, 0.9, 0.8, 0.6)) -> None:
    prompts = build_suite(quick=True)
    oracle = OracleGenerator(prompts)
    z = torch.cat([pipe._encode(oracle.generate(GenerationRequest(prompt=p.prompt, seed=0)).frames) for p in prompts])
    text, mask = pipe.text_encoder([p.prompt for p in prompts])
    print(f"ground truth of {len(prompts)} suite clips, noised to t: contrast per latent frame, mean over clips")
    print(f"  ground truth {[round(v, 3) for v in torch.tensor([contrast(z[i:i + 1]) for i in range(len(z))]).mean(0).tolist()]}")
    g = torch.Generator().manual_seed(0)
    for t in levels:
        x0 = pipe.denoiser((1 - t) * z + t * torch.randn(z.shape, generator=g), torch.full((len(z),), t), text, mask)
        print(f"  t={t:<5} {[round(v, 3) for v in torch.tensor([contrast(x0[i:i + 1]) for i in range(len(z))]).mean(0).tolist()]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights")
    ap.add_argument("--report", help="an eval report.json to count first frames in")
    ap.add_argument("--prompt", default="a small red circle moving left slowly on a green background")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sheet", help="write the decoded estimates here (PNG)")
    args = ap.parse_args()
    if args.report:
        first_frames(args.report)
    pipe = Pipeline.from_pretrained(args.weights)
    trace(pipe, args.prompt, args.seed, args.sheet)
    on_truth(pipe)


if __name__ == "__main__":
    main()
