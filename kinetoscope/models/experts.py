"""Denoisers split by noise level, one model to their callers (Wan 2.2's mixture of experts, eDiff-I).

A small denoiser trained on every noise level spends its capacity where its training put the
samples; the built-in one trains mostly near pure noise (where only the caption says what the
video shows) and so is weak near the end of sampling, where shapes and motion are sharpened.
`NoiseExperts` sends a sample at noise level t to the expert whose range [from, below) holds t,
and to the main denoiser above them all: one model call per step, as with one denoiser. A model
folder lists its experts in pipeline.json, lowest first, each trained with `t_range: [from, below]`:
    "experts": [{"denoiser": "denoiser-low", "from": 0.0, "below": 0.6}]
"""

from __future__ import annotations

import torch
from torch import nn


class NoiseExperts(nn.Module):
    """forward(x, t, text, text_mask, given) like any denoiser; `config` is the main denoiser's.
    `experts`: (from, below, model) tuples tiling [0, top) with no gap; `main` covers [top, 1]."""

    def __init__(self, main: nn.Module, experts: list[tuple[float, float, nn.Module]]):
        super().__init__()
        experts = sorted(experts, key=lambda e: e[1])
        if gap := first_gap([(lo, hi) for lo, hi, _ in experts]):
            edge, lo, hi = gap
            raise ValueError(f"expert range [{lo}, {hi}) does not continue the range below it at {edge}: the experts "
                             f"must tile [0, 1) from 0 upwards, each from where the last ends")
        for lo, hi, model in experts:
            for name in ("patch", "in_channels", "prediction"):
                a, b = getattr(main.config, name, None), getattr(model.config, name, None)
                if (tuple(a) if isinstance(a, (list, tuple)) else a) != (tuple(b) if isinstance(b, (list, tuple)) else b):
                    raise ValueError(f"the expert for [{lo}, {hi}) has {name} {b!r}, the denoiser {a!r}")
        self.main = main
        self.experts = nn.ModuleList([m for _, _, m in experts])
        self.ranges = [(float(lo), float(hi)) for lo, hi, _ in experts]

    @property
    def config(self):
        return self.main.config

    def pick(self, t: torch.Tensor) -> torch.Tensor:
        """(B,) noise levels -> (B,) index of the expert for each (len(experts): the main denoiser)."""
        bounds = torch.tensor([hi for _, hi in self.ranges], dtype=t.dtype, device=t.device)
        return torch.bucketize(t, bounds, right=True)

    def forward(self, x, t, text, text_mask, given=None):
        which = self.pick(t)
        models = [*self.experts, self.main]
        if bool((which == which[0]).all()):
            return models[int(which[0])](x, t, text, text_mask, given)
        out = None  # a batch across a boundary: each sample its expert
        for k in which.unique().tolist():
            y = models[k](x, t, text, text_mask, given)
            sel = (which == k).view(-1, *([1] * (x.dim() - 1)))
            out = y if out is None else torch.where(sel, y, out)
        return out


def first_gap(ranges: list[tuple[float, float]]) -> tuple[float, float, float] | None:
    """(from, below) ranges, lowest first -> (edge, from, below) of the first one that does not go on
    from where those below it end (0 for the lowest) to a level under 1; None when they tile [0, top)."""
    edge = 0.0
    for lo, hi in ranges:
        if abs(lo - edge) > 1e-6 or not lo < hi < 1:
            return edge, lo, hi
        edge = hi
    return None


def with_experts(main: nn.Module, folder, entries: list[dict] | None, device="cpu") -> nn.Module:
    """`main` joined by the experts a model folder's pipeline.json lists (`entries`), or `main` alone."""
    if not entries:
        return main
    from pathlib import Path

    from kinetoscope.models import load_denoiser

    return NoiseExperts(main, [(float(e["from"]), float(e["below"]), load_denoiser(Path(folder) / e["denoiser"], device=device))
                               for e in entries])


def expert_folder(lo: float, hi: float) -> str:
    """The subfolder of a model folder that holds the expert for noise levels [lo, hi)."""
    return f"denoiser-t{lo:g}-{hi:g}"
