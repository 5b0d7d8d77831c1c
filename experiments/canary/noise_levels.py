"""Per noise level: clean-sample MSE with the true caption, and the ratio for the opposite direction,
on each model's own world (fresh scenes, one object moving straight), split by black vs other bg.

    kinetoscope train export runs/X --out /tmp/mX
    python experiments/canary/noise_levels.py /tmp/mX [/tmp/mY ...]
"""
import copy, json, sys
import numpy as np, torch
from kinetoscope.pipeline import Pipeline
from kinetoscope.data import captions
from kinetoscope.data.scene import OPPOSITE
from kinetoscope.data.world import WorldConfig, render, sample_scene
torch.set_num_threads(1)
LEVELS = (0.3, 0.5, 0.7, 0.85, 0.95)
for path in sys.argv[1:]:
    pipe = Pipeline.from_pretrained(path)
    w = json.load(open(f"{path}/pipeline.json")).get("world") or {}
    cfg = WorldConfig(frames=16, height=32, width=32, max_objects=1, **{k: tuple(v) for k, v in w.items() if k in ("colours", "shapes", "sizes", "speeds", "background_colours")}, motions=("left", "right", "up", "down"))
    rng = np.random.default_rng(5)
    scenes = [sample_scene(rng, cfg) for _ in range(48)]
    true = [captions.canonical_caption(s) for s in scenes]
    opp = []
    for s in scenes:
        o = copy.deepcopy(s); o.objects[0].motion = OPPOSITE[s.objects[0].motion]; opp.append(captions.canonical_caption(o))
    black = np.array([s.background.colour == "black" for s in scenes])
    x = torch.from_numpy(np.stack([render(s, cfg) for s in scenes])).permute(0, 4, 1, 2, 3).float() / 127.5 - 1
    den, enc = pipe.denoiser, pipe.text_encoder
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        z0 = pipe.vae.encode(x)
        T, O = enc(true), enc(opp)
        print(path, "black clips", black.sum(), "of", len(scenes))
        for t in LEVELS:
            tt = torch.full((len(scenes),), t)
            xt = (1 - t) * z0 + t * noise
            e = {}
            for k, (st, m) in (("true", T), ("opp", O)):
                pred = torch.cat([den(xt[i:i+8], tt[i:i+8], st[i:i+8], m[i:i+8]) for i in range(0, len(scenes), 8)])
                err = ((pred - z0) ** 2).flatten(1).mean(1).numpy()
                e[k] = err
            r = lambda sel: (e["opp"][sel].mean() / e["true"][sel].mean()) if sel.any() else float("nan")
            print(f"  t={t}: mse true {e['true'].mean():.4f} (black {e['true'][black].mean():.4f}, other {e['true'][~black].mean() if (~black).any() else float('nan'):.4f})"
                  f"  opposite/true {r(np.ones_like(black)):.3f} (black {r(black):.3f}, other {r(~black):.3f})")
