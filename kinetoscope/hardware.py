"""What this machine is good at: bf16 or fp32 (measured, not guessed from the CPU flags), how many threads.

`precision("auto")` picks bf16 autocast only where it was measured both finite and faster on this
machine: on CPUs a short probe (the op kinds the models train with, forward and backward, in fp32
and in bf16 autocast) runs once per CPU model, flags, torch version and thread count, and its result
is cached in `cache_dir()/precision.json`. CPUs without AVX512-BF16 or AMX get fp32 unmeasured (bf16
was 9-27x slower than fp32 on an AVX2-only EPYC); on an AVX512-BF16 EPYC the flags alone picked bf16,
which was only ~15% faster there and trained three test models to NaN.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from kinetoscope.cpu import cpu_flags

PRECISIONS = ("auto", "fp32", "bf16")
BF16_MIN_SPEEDUP = 1.1  # auto picks bf16 only if it is at least this much faster than fp32
BF16_MAX_ERROR = 0.05  # ... and its probe output is within this relative error of fp32's


class Precision(NamedTuple):
    dtype: torch.dtype
    reason: str  # why: written beside the dtype into a training run's config.json

    @property
    def name(self) -> str:
        return "bf16" if self.dtype == torch.bfloat16 else "fp32"


@lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fast_bf16() -> bool:
    """Whether this machine has bf16 arithmetic at all: a GPU, or a CPU with AMX / AVX512-BF16.
    Necessary, not sufficient: `precision("auto")` measures whether it pays off."""
    if torch.cuda.is_available():
        return True
    return bool({"amx_bf16", "avx512_bf16"} & cpu_flags())


def cache_dir() -> Path:
    """$KINETOSCOPE_CACHE_DIR, else $XDG_CACHE_HOME/kinetoscope (~/.cache/kinetoscope)."""
    if os.environ.get("KINETOSCOPE_CACHE_DIR"):
        return Path(os.environ["KINETOSCOPE_CACHE_DIR"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kinetoscope"


def precision(requested: str = "auto") -> Precision:
    """The training precision for `requested` (auto | fp32 | bf16), and why."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision {requested!r} is not one of {', '.join(PRECISIONS)}")
    if requested != "auto":
        return Precision(torch.bfloat16 if requested == "bf16" else torch.float32, f"{requested}: asked for")
    if torch.cuda.is_available():
        if torch.cuda.is_bf16_supported():
            return Precision(torch.bfloat16, "auto: a CUDA GPU with bf16")
        return Precision(torch.float32, "auto: a CUDA GPU without bf16")
    if not fast_bf16():
        return Precision(torch.float32, "auto: no AVX512-BF16/AMX on this CPU (fp32, not measured)")
    m = measured_bf16()
    if not m["finite"]:
        return Precision(torch.float32, "auto: bf16 gave non-finite values on this CPU's kernels")
    if m["max_rel_error"] > BF16_MAX_ERROR:
        return Precision(torch.float32, f"auto: bf16 was {m['max_rel_error']:.0%} off fp32 on this CPU's kernels")
    speedup = m["fp32_s"] / m["bf16_s"]
    if speedup < BF16_MIN_SPEEDUP:
        return Precision(torch.float32, f"auto: bf16 measured {speedup:.2f}x the speed of fp32 on this CPU "
                                        f"(bf16 needs {BF16_MIN_SPEEDUP}x)")
    return Precision(torch.bfloat16, f"auto: bf16 measured {speedup:.2f}x faster than fp32 and finite on this CPU")


def choose_precision(requested: str = "auto") -> torch.dtype:
    return precision(requested).dtype


def measured_bf16() -> dict:
    """The probe's result for this machine, from the cache or measured now (and cached):
    {fp32_s, bf16_s, finite, max_rel_error, ...}."""
    key = " | ".join([cpu_model(), "flags " + hashlib.sha1(" ".join(sorted(cpu_flags())).encode()).hexdigest()[:12],
                      f"torch {torch.__version__}", f"{torch.get_num_threads()} threads"])
    path = cache_dir() / "precision.json"
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {}
    if key in cached:
        return cached[key]
    result = {**probe_bf16(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    try:  # a cache that cannot be written only costs a probe next time
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**cached, key: result}, indent=2) + "\n")
        os.replace(tmp, path)
    except OSError:
        pass
    return result


class _ProbeNet(nn.Module):
    """The op kinds the models train with: 3D convolutions, GroupNorm, a strided convolution, masked
    attention to text with LayerNorm and linear layers, nearest upsampling. (B, C, T, H, W) in and out."""

    def __init__(self, c: int = 8, w: int = 32, text_dim: int = 48):
        super().__init__()
        self.conv_in, self.gn = nn.Conv3d(c, w, 3, padding=1), nn.GroupNorm(8, w)
        self.down = nn.Conv3d(w, w, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.ln, self.q, self.kv, self.out = nn.LayerNorm(w), nn.Linear(w, w), nn.Linear(text_dim, 2 * w), nn.Linear(w, w)
        self.conv_out = nn.Conv3d(w, c, 3, padding=1)

    def forward(self, x, text, mask):
        h = F.silu(self.gn(self.conv_in(x)))
        d = self.down(h)  # (B, w, T, H/2, W/2)
        s = d.flatten(2).transpose(1, 2)  # (B, N, w)
        q = self.q(self.ln(s))[:, None]
        k, v = self.kv(text)[:, None].chunk(2, dim=-1)
        s = s + self.out(F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None]))[:, 0]
        d = s.transpose(1, 2).reshape(d.shape)
        return self.conv_out(h + F.interpolate(d, scale_factor=(1, 2, 2), mode="nearest"))


def probe_bf16(reps: int = 3) -> dict:
    """Time a forward + backward of `_ProbeNet` in fp32 and in bf16 autocast (best of `reps` after
    one warm-up each) and check bf16's loss and gradients are finite and its output close to fp32's."""
    gen = torch.Generator().manual_seed(0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = _ProbeNet()
    x = torch.randn(2, 8, 4, 16, 16, generator=gen)
    text = torch.randn(2, 12, 48, generator=gen)
    mask = torch.arange(12)[None] < torch.tensor([[12], [3]])  # (B, L): a short caption's padding masked
    target = torch.randn(x.shape, generator=gen)

    def step(dtype):
        net.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            out = net(x, text, mask)
        loss = (out.float() - target).pow(2).mean()
        loss.backward()
        return out.detach().float(), loss.detach(), [p.grad.detach().clone() for p in net.parameters()]

    best = {}
    for dtype in (torch.float32, torch.bfloat16):
        times = []
        for _ in range(reps + 1):
            t0 = time.perf_counter()
            result = step(dtype)
            times.append(time.perf_counter() - t0)
        best[dtype] = min(times[1:]), result
    (t32, (out32, _, _)), (t16, (out16, loss16, grads16)) = best[torch.float32], best[torch.bfloat16]
    finite = bool(torch.isfinite(loss16)) and all(bool(torch.isfinite(g).all()) for g in grads16)
    err = float((out16 - out32).norm() / out32.norm()) if finite else float("inf")
    return {"fp32_s": round(t32, 5), "bf16_s": round(t16, 5), "finite": finite,
            "max_rel_error": round(err, 5) if finite else None, "reps": reps}


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
