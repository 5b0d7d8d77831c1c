"""Denoisers split by noise level, one model to their callers (Wan 2.2's mixture of experts, eDiff-I).

A small denoiser trained on every noise level spends its capacity where its training put the
samples; the built-in one trains mostly near pure noise (where only the caption says what the
video shows) and so is weak near the end of sampling, where shapes and motion are sharpened.
`NoiseExperts` sends a sample at noise level t to the expert whose range [from, below) holds t,
and to the main denoiser at every level no expert covers: one model call per step, as with one
denoiser. A model folder lists its experts in pipeline.json, lowest first, each trained with
`t_range: [from, below]` (an expert whose range ends at 1 also takes t = 1):
    "experts": [{"denoiser": "denoiser-t0-0.6", "from": 0.0, "below": 0.6},
                {"denoiser": "denoiser-t0.9-1", "from": 0.9, "below": 1.0}]
"""

from __future__ import annotations

import torch
from torch import nn


class NoiseExperts(nn.Module):
    """forward(x, t, text, text_mask, given) like any denoiser; `config` is the main denoiser's.
    `experts`: (from, below, model) tuples with ranges inside [0, 1] that do not overlap; `main` covers
    the noise levels none of them does."""

    def __init__(self, main: nn.Module, experts: list[tuple[float, float, nn.Module]]):
        super().__init__()
        experts = sorted(experts, key=lambda e: e[1])
        if problem := range_problem([(lo, hi) for lo, hi, _ in experts]):
            raise ValueError(problem)
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
        which = torch.full(t.shape, len(self.ranges), dtype=torch.long, device=t.device)
        for k, (lo, hi) in enumerate(self.ranges):
            which[(t >= lo) & ((t < hi) if hi < 1 else True)] = k  # a range ending at 1 takes t = 1 too
        return which

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


def range_problem(ranges: list[tuple[float, float]]) -> str | None:
    """(from, below) ranges, lowest first -> what is wrong with them as experts' ranges (one outside
    [0, 1], empty, the whole of [0, 1], or two that overlap), or None when they fit together."""
    for lo, hi in ranges:
        if not 0 <= lo < hi <= 1 or (lo, hi) == (0, 1):
            return (f"expert range [{lo}, {hi}) is not a part of the noise levels: "
                    f"an expert covers [from, below) with 0 <= from < below <= 1, not all of [0, 1]")
    for (a, b), (c, d) in zip(ranges, ranges[1:]):
        if c < b:
            return f"expert ranges [{a}, {b}) and [{c}, {d}) overlap: each noise level has one expert at most"
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
