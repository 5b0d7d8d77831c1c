"""The engine protocol: one request in, one video out, whatever runs underneath.

Every engine takes a `GenerationRequest` (prompt, size, frames, steps, guidance, seed, and
given frames + a per-frame mask for image->video and the other tasks) and returns a `Video`.
`progress(stage, i, n)` is called as work advances; it may raise `Cancelled` to stop the
job between steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol, runtime_checkable

from kinetoscope.pipeline import GenerationRequest, Video

Progress = Callable[[str, int, int], None]


class Cancelled(Exception):
    """Raised from a progress callback to stop a generation between steps."""


@dataclass(frozen=True)
class Capabilities:
    tasks: tuple[str, ...]  # e.g. ("t2v", "i2v", "extend", ...)
    width: int  # defaults
    height: int
    seconds: float
    fps: int
    min_size: int  # supported range
    max_size: int
    size_multiple: int
    max_frames: int
    extra: dict = field(default_factory=dict)


@runtime_checkable
class Engine(Protocol):
    name: str  # the `model` name in the API

    @property
    def capabilities(self) -> Capabilities: ...

    def resolve(self, request: GenerationRequest) -> GenerationRequest:
        """Fill defaults and validate; raise RequestError naming the bad value."""

    def generate(self, request: GenerationRequest, progress: Progress | None = None) -> Video: ...


def task_of(request: GenerationRequest) -> str:
    """Name the task a request asks for from its frame count and per-frame given mask:
    image (1 frame), t2v, i2v (first frame given), interpolate (first and last given),
    extend (leading frames given), edit (any other pattern)."""
    mask = list(request.given_mask or [])
    if request.given_frames is None or not any(mask):
        return "image" if request.frames == 1 else "t2v"
    lead = next((i for i, m in enumerate(mask) if not m), len(mask))
    trail = next((i for i, m in enumerate(reversed(mask)) if not m), len(mask))
    if lead == len(mask) or any(mask[lead:len(mask) - trail]):
        return "edit"
    if trail:
        return "interpolate" if lead else "edit"
    return "i2v" if lead == 1 else "extend"
