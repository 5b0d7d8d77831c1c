"""Periodic sample sheets so a person can watch a run learn (run/samples/step_XXXXXX.png)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from kinetoscope.diffusion.distill import student_setting
from kinetoscope.media import contact_sheet
from kinetoscope.train.data import FIXED_BATCH


def _stack(images: list[Image.Image]) -> Image.Image:
    w = max(i.width for i in images)
    out = Image.new("RGB", (w, sum(i.height for i in images)), "white")
    y = 0
    for i in images:
        out.paste(i, (0, y))
        y += i.height
    return out


def _frames(x: torch.Tensor) -> np.ndarray:
    """(3, T, H, W) in [-1, 1] -> (T, H, W, 3) uint8."""
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 3, 0).cpu().numpy()


@torch.no_grad()
def write_samples(trainer) -> None:
    cfg, out = trainer.cfg, trainer.run / "samples"
    out.mkdir(exist_ok=True)
    sheets = []
    if cfg.stage == "vae":
        from kinetoscope.train.data import world_batch

        video, caps = world_batch(cfg, FIXED_BATCH, range(4))  # a fixed batch, never trained on
        rec = trainer.ema.model.decode(trainer.ema.model.encode(video))
        for v, r, c in zip(video, rec, caps):
            sheets.append(contact_sheet(np.concatenate([_frames(v), _frames(r)]), cols=cfg.frames, max_frames=2 * cfg.frames, label=f"top: input, bottom: reconstruction | {c}"))
    else:
        from kinetoscope.pipeline import GenerationRequest, Pipeline, PipelineConfig

        # a distill run samples as its student will be used: half the teacher's steps, no guidance
        setting = student_setting(cfg.teacher_steps) if cfg.stage == "distill" else {}
        pcfg = PipelineConfig(width=cfg.width, height=cfg.height, **setting)
        pipe = Pipeline(trainer.vae, trainer.ema.model, pcfg, text_encoder=trainer.text)
        for p in cfg.sample_prompts:
            v = pipe.generate(GenerationRequest(prompt=p, frames=cfg.frames, seed=0))
            sheets.append(contact_sheet(v.frames, cols=cfg.frames, max_frames=cfg.frames, label=p))
    _stack(sheets).save(out / f"step_{trainer.step:06d}.png")
