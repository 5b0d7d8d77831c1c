"""The CPU's feature flags, read without torch: hardware.py reports and chooses precision by them,
media/write.py keeps the video encoder off kernels that are not deterministic."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=None)
def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """Linux's flags line (avx2, avx512f, avx512_bf16, ...); empty where there is none."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()
