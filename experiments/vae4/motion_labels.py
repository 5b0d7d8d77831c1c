"""Session 12 diagnostic: can this denoiser, on these latents, learn the direction of motion from
a clean class label, where in ~8 hours it never learned it from the caption?

The pixel-space recipe in ../shared/MEASURED.md learned direction (96%) from class labels in its
scale/shift conditioning within 40 minutes; ours reads colours and backgrounds from the caption
but not directions (caption sensitivity 1.000-1.002). If a label, fed where the pooled caption
goes, is learned quickly, the bottleneck is the text pathway; if not, it is the latents or the
objective. This fine-tunes the shipped denoiser with a zero-initialised embedding of the first
object's motion class (15 classes + "none") added to the pooled-caption conditioning, with the
training recipe the shipped denoiser last used (its training.json), and then measures:

- label sensitivity: the clean-sample error with the opposite direction's label over the true
  label's (the caption held fixed), at t = 0.5 / 0.7 / 0.85 / 0.95, on the clips the caption
  sensitivity probe uses (kinetoscope/eval/sensitivity.py);
- motion followed in generated clips: 16 suite prompts with a straight direction x 2 seeds, with
  the true label and with "none" (the caption alone).

    python experiments/vae4/motion_labels.py train --run runs/motion-labels --minutes 32
    python experiments/vae4/motion_labels.py measure --run runs/motion-labels
    python experiments/vae4/motion_labels.py train --run runs/motion-labels-i2v --minutes 20 --focus i2v
    python experiments/vae4/motion_labels.py train --run runs/motion-labels-mixed --minutes 20 --focus mixed
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from kinetoscope.data.scene import MOTIONS, OPPOSITE
from kinetoscope.train import checkpoint as ckpt
from kinetoscope.train.config import load_config
from kinetoscope.train.data import sample_rng
from kinetoscope.train.ema import EMA
from kinetoscope.train.loop import Trainer

BUILTIN = Path("kinetoscope/weights/builtin")
NONE = len(MOTIONS)  # no label: several objects, or dropped


class LabelledPool(nn.Module):
    """Stands in for the U-Net's `pooled_proj`: the pooled caption's projection plus an embedding
    of `labels` (set before each call; one label is broadcast over the batch)."""

    def __init__(self, pooled_proj: nn.Linear):
        super().__init__()
        self.proj = pooled_proj
        self.embed = nn.Embedding(len(MOTIONS) + 1, pooled_proj.out_features)
        nn.init.zeros_(self.embed.weight)
        self.labels = None

    def forward(self, pooled):
        out = self.proj(pooled)
        if self.labels is None:
            return out
        labels = self.labels.to(pooled.device).expand(pooled.shape[0]) if self.labels.numel() == 1 else self.labels
        return out + self.embed(labels)


def label_of(scene, drop: bool) -> int:
    return NONE if drop or len(scene.objects) != 1 else MOTIONS.index(scene.objects[0].motion)


class LabelTrainer(Trainer):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.model.pooled_proj = LabelledPool(self.model.pooled_proj)
        self.ema = EMA(self.model, cfg.ema)
        self.net = self._wrap(self.model)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99))

    def batch(self, step: int):
        z, caps, cf = super().batch(step)
        cfg = self.cfg
        idx = [int(sample_rng(cfg, step, i).integers(len(self.pool["scenes"]))) for i in self.indices()]
        labels = [label_of(self.pool["scenes"][k], c == "" or z.shape[2] == 1 or sample_rng(cfg, step, i, 11).random() < 0.1)
                  for k, c, i in zip(idx, caps, self.indices())]
        self.model.pooled_proj.labels = torch.tensor(labels)
        return z, caps, cf


def first_only(cfg, t, rng):
    """--focus i2v: every sample (of 2+ latent frames) has its first latent frame given."""
    given = torch.zeros(t, dtype=torch.bool)
    given[0] = t >= 2
    return given


def first_half(cfg, t, rng):
    """--focus mixed: half the samples (of 2+ latent frames) have their first latent frame given."""
    given = torch.zeros(t, dtype=torch.bool)
    given[0] = t >= 2 and rng.random() < 0.5
    return given


def config(run: str, minutes: int, focus: str = "all"):
    base = json.loads((BUILTIN / "training.json").read_text())["config"]
    overrides = [f"run_dir={run}", f"init_from={BUILTIN / 'denoiser'}", f"max_minutes={minutes}", "steps=4000",
                 "sample_every=0", "eval_every=0"]
    if focus in ("i2v", "mixed"):  # where the direction alone says where the object goes: first frame given, high noise
        overrides += ["high_noise_prob=0.5", "high_noise_from=0.7", "image_prob=0"]
    return load_config(None, overrides, base=base)


def train(args):
    cfg = config(args.run, args.minutes, args.focus)
    if args.focus != "all":
        import kinetoscope.train.loop as loop

        loop.random_given = first_only if args.focus == "i2v" else first_half
    run = Path(args.run)
    run.mkdir(parents=True, exist_ok=True)
    pool = run / "latent_pool.pt"
    if not pool.exists() and Path(args.pool).is_file():
        os.symlink(Path(args.pool).resolve(), pool)  # the shipped denoiser's own pool, encoded once
    LabelTrainer(cfg).train(resume=args.resume)


def load(run: str):
    from kinetoscope.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(str(BUILTIN))
    pipe.denoiser.pooled_proj = LabelledPool(pipe.denoiser.pooled_proj)
    state = ckpt.load(Path(run))
    pipe.denoiser.load_state_dict(state["ema"])
    return pipe.denoiser.eval(), pipe, state["step"]


def label_sensitivity(pipe, den, n=32, levels=(0.5, 0.7, 0.85, 0.95), first_given: bool = False) -> dict:
    from kinetoscope.data import captions
    from kinetoscope.data.world import render
    from kinetoscope.eval.sensitivity import _changed, _scenes

    cfg, scenes = _scenes(n, 17, 64, 64)
    true = [captions.canonical_caption(s) for s in scenes]
    opposite_caption = [_changed(s, motion=OPPOSITE[s.objects[0].motion]) for s in scenes]
    lab = torch.tensor([MOTIONS.index(s.objects[0].motion) for s in scenes])
    opp = torch.tensor([MOTIONS.index(OPPOSITE[s.objects[0].motion]) for s in scenes])
    x = torch.from_numpy(np.stack([render(s, cfg) for s in scenes])).permute(0, 4, 1, 2, 3).float() / 127.5 - 1
    out = {"label_opposite": [], "caption_opposite_no_label": [], "caption_opposite_true_label": []}
    with torch.no_grad():
        z0 = torch.cat([pipe.vae.encode(x[i:i + 8]) for i in range(0, n, 8)])
        noise = torch.randn(z0.shape, generator=torch.Generator().manual_seed(0))
        enc = {"true": pipe.text_encoder(true), "opp": pipe.text_encoder(opposite_caption)}
        for t in levels:
            x_t = (1 - t) * z0 + t * noise
            given = torch.zeros(n, z0.shape[2], dtype=torch.bool)
            if first_given:
                given[:, 0] = True
                x_t[:, :, 0] = z0[:, :, 0]
            tt = torch.full((n,), float(t))

            def err(caption, labels):
                states, mask = enc[caption]
                pred = torch.cat([_with(den, labels[i:i + 8], x_t[i:i + 8], tt[i:i + 8], states[i:i + 8], mask[i:i + 8],
                                        given[i:i + 8]) for i in range(0, n, 8)])
                free = ~given[:, None, :, None, None].expand_as(pred)  # the shipped denoiser predicts the clean latent
                return float(((pred - z0) ** 2)[free].mean())
            none = torch.tensor([NONE] * n)
            base = err("true", lab)
            out["label_opposite"].append(round(err("true", opp) / base, 4))
            out["caption_opposite_true_label"].append(round(err("opp", lab) / base, 4))
            out["caption_opposite_no_label"].append(round(err("opp", none) / err("true", none), 4))
    den.pooled_proj.labels = None
    return out


def _with(den, labels, *a):
    den.pooled_proj.labels = labels
    return den(*a)


def motion_followed(pipe, den, label_mode: str, seeds=(0, 1)) -> float:
    from kinetoscope.eval.suite import build_suite, score_clip
    from kinetoscope.eval.tasks import _analyze
    from kinetoscope.pipeline import GenerationRequest

    suite = [p for p in build_suite(quick=False) if len(p.spec["objects"]) == 1
             and re.search(r"moving (left|right|up|down)", p.prompt)][:16]
    hits = []
    for p in suite:
        motion = p.spec["objects"][0]["motion"]
        den.pooled_proj.labels = torch.tensor([MOTIONS.index(motion) if label_mode == "true" else NONE])
        for seed in seeds:
            v = pipe.generate(GenerationRequest(prompt=p.prompt, seed=seed))
            hits.append(score_clip(_analyze(v.frames), p.spec)["motion"])
    den.pooled_proj.labels = None
    return round(float(np.mean(hits)), 3)


def i2v_motion_followed(pipe, den, label_mode: str, n: int = 16) -> float:
    """Image->video from the first frame of held-out clips in straight-line motion, with the clip's
    caption: how often the analyzer reads the clip's own motion."""
    from kinetoscope import tasks
    from kinetoscope.data.scene import DIRECTIONS
    from kinetoscope.eval.analyzer import compare
    from kinetoscope.eval.tasks import _analyze, _clips

    clips = [c for c in _clips(80) if c.scene.objects[0].motion in DIRECTIONS][:n]
    hits = []
    for seed, c in enumerate(clips):
        m = c.scene.objects[0].motion
        den.pooled_proj.labels = torch.tensor([MOTIONS.index(m) if label_mode == "true" else NONE])
        v = tasks.i2v(pipe, c.frames[0], c.caption, seed=seed, frames=17)
        hits.append(compare(_analyze(v.frames), c.scene).get("motion", 0.0))
    den.pooled_proj.labels = None
    return round(float(np.mean(hits)), 3)


def measure(args):
    den, pipe, step = load(args.run)
    report = {"run": args.run, "step": step, "label_sensitivity": label_sensitivity(pipe, den),
              "label_sensitivity_first_given": label_sensitivity(pipe, den, first_given=True),
              "motion_followed_true_label": motion_followed(pipe, den, "true"),
              "motion_followed_no_label": motion_followed(pipe, den, "none"),
              "i2v_motion_followed_true_label": i2v_motion_followed(pipe, den, "true"),
              "i2v_motion_followed_no_label": i2v_motion_followed(pipe, den, "none")}
    print(json.dumps(report, indent=1))
    (Path(args.run) / "motion_labels.json").write_text(json.dumps(report, indent=1) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--run", default="runs/motion-labels")
    t.add_argument("--minutes", type=int, default=32)
    t.add_argument("--pool", default="runs/denoiser-given/latent_pool.pt")
    t.add_argument("--resume", action="store_true")
    t.add_argument("--focus", choices=["all", "i2v", "mixed"], default="all",
                   help="i2v: every sample has its first latent frame given, half of them at t >= 0.7; "
                        "mixed: the same with the first frame given in half the samples")
    m = sub.add_parser("measure")
    m.add_argument("--run", default="runs/motion-labels")
    args = ap.parse_args(argv)
    train(args) if args.cmd == "train" else measure(args)


if __name__ == "__main__":
    sys.exit(main())
