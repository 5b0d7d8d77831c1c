"""Sampling variants against the fade-in, scored like `kinetoscope eval --quick` (72 clips, seeds 0 and 1).

- `share A`: the starting noise shared across latent frames (eps_k = sqrt(A) eps_0 + sqrt(1 - A) e_k,
  each frame still unit variance), so the noise shows every frame the same evidence of an object;
- `image-first`: the first frame generated alone as an image (frames=1), then image->video from it
  (`tasks.stills.i2v`, with its release and dissolve, or held), Emu Video's factorisation;
- `shift S`: the sampler's time shift (default: from the token count, 1.6 for 64x64x17).

    python experiments/experts/sampling.py kinetoscope/weights/builtin share:0,0.4,0.8 image-first shift:3,6
"""

import dataclasses
import sys

import torch

from kinetoscope.eval.suite import build_suite, run_suite
from kinetoscope.pipeline import Pipeline
from kinetoscope.tasks.stills import i2v

FIVE = ("colour", "shape", "motion", "count", "background")


class Shared:
    def __init__(self, pipe, share):
        self.pipe, self.share = pipe, share

    def generate(self, req):
        real, a = torch.randn, self.share

        def randn(*shape, **kw):
            x = real(*shape, **kw)
            if x.dim() == 5:  # (1, C, T, H, W) starting noise: frame 0's noise shared by the rest
                x = torch.cat([x[:, :, :1], a ** 0.5 * x[:, :, :1] + (1 - a) ** 0.5 * x[:, :, 1:]], dim=2)
            return x

        torch.randn = randn
        try:
            return self.pipe.generate(req)
        finally:
            torch.randn = real


class ImageFirst:
    def __init__(self, pipe, **kw):
        self.pipe, self.kw = pipe, kw

    def generate(self, req):
        image = self.pipe.generate(dataclasses.replace(req, frames=1, seconds=None)).frames[0]
        return i2v(self.pipe, image, req.prompt, seed=req.seed, **self.kw)


def main() -> None:
    pipe, prompts = Pipeline.from_pretrained(sys.argv[1]), build_suite(quick=True)
    default_shift = pipe.config.shift
    print("| variant | " + " | ".join(FIVE) + " | mean |\n|---|" + "---|" * (len(FIVE) + 1))
    for arg in sys.argv[2:]:
        kind, _, values = arg.partition(":")
        runs = {"share": lambda v: (f"share {v}", Shared(pipe, float(v))),
                "shift": lambda v: (f"shift {v}", pipe)}
        if kind == "image-first":
            variants = [("image first", ImageFirst(pipe)), ("image first, held", ImageFirst(pipe, release=0.0, dissolve=False))]
        else:
            variants = [runs[kind](v) for v in values.split(",")]
        for name, gen in variants:
            pipe.config.shift = float(name.split()[1]) if kind == "shift" else default_shift
            o = run_suite(gen, prompts, seeds=range(2), psnr_clips=0, sensitivity_clips=0)["scores"]["overall"]
            print(f"| {name} | " + " | ".join(f"{100 * o[a]:.1f}%" for a in FIVE)
                  + f" | {100 * sum(o[a] for a in FIVE) / len(FIVE):.1f}% |", flush=True)


if __name__ == "__main__":
    main()
