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
