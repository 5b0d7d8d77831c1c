"""Does the denoiser's clean estimate near pure noise move the way the caption says?

For "a large white circle moving DIR quickly on a black background" (DIR: left, right, up, down),
the clean estimate at noise level t is decoded for 16 noise draws and averaged; the centroid of
that mean clip should travel along DIR from the first frame to the last. The reference is the
same measure on 64 ground-truth clips of the same caption (their mean moves ~33 px: a large
object moving fast has little room, so where it starts is nearly fixed by where it goes).

    python experiments/experts/travel.py kinetoscope/weights/builtin --t 0.97,0.9,0.8
"""

import argparse

import numpy as np
import torch

from kinetoscope.data.world import WorldConfig
from kinetoscope.eval.suite import build_suite, render, scene_from_spec
from kinetoscope.pipeline import Pipeline

DIRS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


def travel(lum: np.ndarray, d: str) -> float:
    """(T, H, W) mean luminance -> centroid travel along direction d, first to last frame, in px."""
    ux, uy = DIRS[d]
    ys, xs = np.mgrid[0 : lum.shape[1], 0 : lum.shape[2]]
    w = np.clip(lum - lum.min(), 0, None)
    cx, cy = (w * xs).sum((1, 2)) / w.sum((1, 2)), (w * ys).sum((1, 2)) / w.sum((1, 2))
    return float((cx[-1] - cx[0]) * ux + (cy[-1] - cy[0]) * uy)


def ground_truth(d: str, n: int = 64) -> np.ndarray:
    cfg = WorldConfig(height=64, width=64, frames=17)
    base = next(p.spec for p in build_suite(quick=True) if p.id == "seen-00")
    clips = []
    for seed in range(n):
        obj = dict(base["objects"][0], shape="circle", colour="white", size="large", motion=d, speed="fast")
        spec = {**base, "objects": [obj], "background": dict(base["background"], colour="black"), "seed": seed}
        clips.append(render(scene_from_spec(spec, cfg), cfg))
    return np.stack(clips).astype(np.float64).mean(-1).mean(0) / 255


@torch.no_grad()
def model_mean(pipe, d: str, t: float, n: int = 16) -> np.ndarray:
    text, mask = pipe.text_encoder([f"a large white circle moving {d} quickly on a black background"] * n)
    noise = torch.randn(n, *pipe.vae.latent_shape(17, 64, 64), generator=torch.Generator().manual_seed(0))
    x0 = pipe.denoiser(noise, torch.full((n,), t), text, mask)
    return ((pipe.vae.decode(x0).clamp(-1, 1) + 1) / 2).mean(1).mean(0).numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights")
    ap.add_argument("--t", default="0.97,0.9,0.8")
    args = ap.parse_args()
    pipe = Pipeline.from_pretrained(args.weights)
    ts = [float(v) for v in args.t.split(",")]
    print("| direction | ground truth | " + " | ".join(f"model t={t:g}" for t in ts) + " |\n|---|---|" + "---|" * len(ts))
    for d in DIRS:
        ref = travel(ground_truth(d), d)
        got = [travel(model_mean(pipe, d, t), d) for t in ts]
        print(f"| {d} | {ref:.1f} px | " + " | ".join(f"{g:+.1f} px ({g / ref:.2f})" for g in got) + " |", flush=True)


if __name__ == "__main__":
    main()
