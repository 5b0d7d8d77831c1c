"""Does the denoiser read the caption's words? Its clean-sample error with the true caption,
against the same caption with one attribute changed, at fixed noise levels.

    report = caption_sensitivity(pipe)       # in every `kinetoscope eval` report ("text_sensitivity")

Held-out world clips of one large object in straight-line motion (so the opposite direction is
unambiguous) are encoded, noised at each level t with fixed noise, and denoised once with:
the true canonical caption, the caption with the opposite direction ("left" -> "right"), the
caption with another colour, and no caption. Each ratio is the changed caption's mean squared
clean-sample error over the true caption's: 1.00 means the words are ignored. Generation
scores can hide this (a model that ignores motion words still draws objects that move, in a
direction the noise chooses); this measures it directly, in seconds.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from kinetoscope.data import captions
from kinetoscope.data.scene import DIRECTIONS, OPPOSITE
from kinetoscope.data.world import WorldConfig, render, sample_scene

LEVELS = (0.5, 0.7, 0.85, 0.95)


def _scenes(n: int, frames: int, height: int, width: int, seed: int = 30_000, world: dict | None = None):
    """n one-object scenes moving straight, large; from the model's own `world` (pipeline.json) where it
    records one, so a model trained on part of the world is probed on clips it could have drawn."""
    world = world or {}
    narrowed = {k: tuple(world[k]) for k in ("colours", "shapes", "speeds", "background_colours") if world.get(k)}
    sizes = tuple(world.get("sizes") or ("large",))
    motions = tuple(m for m in world.get("motions") or DIRECTIONS if m in DIRECTIONS) or tuple(DIRECTIONS)
    cfg = WorldConfig(frames=frames, height=height, width=width, max_objects=1, **narrowed,
                      sizes=("large",) if "large" in sizes else sizes[:1], motions=motions)
    rng = np.random.default_rng(seed)
    return cfg, [_scene(rng, cfg, "heldout" if i % 4 == 3 else "train") for i in range(n)]


def _scene(rng, cfg: WorldConfig, split: str):
    """A scene of `split`; of the training split where the narrowed world holds no held-out composition."""
    try:
        return sample_scene(rng, cfg, split=split)
    except ValueError:
        return sample_scene(rng, cfg, split="train")


def _changed(scene, **attrs):
    out = copy.deepcopy(scene)
    for k, v in attrs.items():
        setattr(out.objects[0], k, v)
    return captions.canonical_caption(out)


def caption_sensitivity(pipe, n: int = 32, levels=LEVELS, frames: int = 17, height: int = 64, width: int = 64,
                        batch: int = 8) -> dict:
    """-> {"clips": n, "levels": [...], "opposite_direction": [ratio per level], "other_colour": [...],
    "no_caption": [...]}; ratios of mean clean-sample error (changed caption / true caption)."""
    cfg, scenes = _scenes(n, frames, height, width, world=getattr(pipe.config, "world", None))
    rng = np.random.default_rng(1)
    true = [captions.canonical_caption(s) for s in scenes]
    changed = {
        "opposite_direction": [_changed(s, motion=OPPOSITE[s.objects[0].motion]) for s in scenes],
        "other_colour": [_changed(s, colour=str(rng.choice([c for c in cfg.colours if c not in (s.objects[0].colour,
                                                                                        s.background.colour)])))
                         for s in scenes],
        "no_caption": [""] * n,
    }
    x = torch.from_numpy(np.stack([render(s, cfg) for s in scenes])).permute(0, 4, 1, 2, 3).float() / 127.5 - 1
    den, enc = pipe.denoiser, pipe.text_encoder
    with torch.no_grad():
        z0 = torch.cat([pipe.vae.encode(x[i:i + batch]) for i in range(0, n, batch)])
        noise = torch.randn(z0.shape, generator=torch.Generator().manual_seed(0))
        texts = {"true": enc(true), **{k: enc(v) for k, v in changed.items()}}
        errors = {k: [] for k in texts}
        for t in levels:
            tt = torch.full((n,), float(t))
            x_t = (1 - t) * z0 + t * noise
            for k, (states, mask) in texts.items():
                pred = torch.cat([den(x_t[i:i + batch], tt[i:i + batch], states[i:i + batch], mask[i:i + batch])
                                  for i in range(0, n, batch)])
                if den.config.prediction == "velocity":
                    pred = x_t - t * pred
                errors[k].append(float(((pred - z0) ** 2).mean()))
    out = {"clips": n, "levels": [float(t) for t in levels]}
    for k in changed:
        out[k] = [round(e / max(b, 1e-12), 4) for e, b in zip(errors[k], errors["true"])]
    return out


def sensitivity_line(s: dict) -> str:
    def row(k):
        return " ".join(f"{r:.3f}" for r in s[k])
    return (f"caption sensitivity (clean-sample error, changed caption / true, at t = "
            f"{' '.join(f'{t:g}' for t in s['levels'])}; 1.000 = words ignored): opposite direction {row('opposite_direction')}; "
            f"other colour {row('other_colour')}; no caption {row('no_caption')}")
