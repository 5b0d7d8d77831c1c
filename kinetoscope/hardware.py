"""What this machine is good at: fast bf16 or not, how many threads."""

from __future__ import annotations

import os
from functools import lru_cache

import torch


@lru_cache(maxsize=1)
def cpu_flags() -> set[str]:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def fast_bf16() -> bool:
    """bf16 autocast pays off on a GPU, or on CPUs with AMX / AVX512-BF16; on AVX2-only CPUs it
    was measured 9-27x slower than fp32."""
    if torch.cuda.is_available():
        return True
    return bool({"amx_bf16", "avx512_bf16"} & cpu_flags())


def choose_precision(requested: str = "auto") -> torch.dtype:
    if requested not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision {requested!r} is not one of auto, fp32, bf16")
    if requested == "auto":
        return torch.bfloat16 if fast_bf16() else torch.float32
    return torch.bfloat16 if requested == "bf16" else torch.float32


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
