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
    # what the model was trained on or is known to do well (None: its default size / length only);
    # requests beyond them are made and flagged, or refused where `beyond` is "refuse"
    trained_sizes: tuple[str, ...] | None = None  # "WxH"
    trained_seconds: float | None = None  # the longest clip it saw in training
    beyond: str = "warn"  # "warn" | "refuse"
    extra: dict = field(default_factory=dict)

    @property
    def sizes_trained(self) -> tuple[str, ...]:
        return tuple(self.trained_sizes or (f"{self.width}x{self.height}",))

    @property
    def seconds_trained(self) -> float:
        return self.seconds if self.trained_seconds is None else self.trained_seconds


@runtime_checkable
class Engine(Protocol):
    name: str  # the `model` name in the API

    @property
    def capabilities(self) -> Capabilities: ...

    def resolve(self, request: GenerationRequest) -> GenerationRequest:
        """Fill defaults and validate; raise RequestError naming the bad value."""

    def generate(self, request: GenerationRequest, progress: Progress | None = None) -> Video: ...


BEYOND = "beyond what this model was trained for"


def beyond_trained(caps: Capabilities, width: int | None = None, height: int | None = None,
                   seconds: float | None = None) -> dict[str, str]:
    """{"size": note, "seconds": note} for each asked value beyond what the model was trained for
    (its trained sizes and longest trained clip); {} when all are within. Values left None are not
    judged. Every interface (API, create page, command line) reads this one judgement."""
    out = {}
    if width is not None and height is not None and f"{width}x{height}" not in caps.sizes_trained:
        out["size"] = f"size {width}x{height} is {BEYOND} ({', '.join(caps.sizes_trained)})"
    if seconds is not None and seconds > caps.seconds_trained + 1e-6:
        out["seconds"] = f"{seconds:g} s is {BEYOND} (up to {caps.seconds_trained:g} s)"
    return out


def beyond_request(caps: Capabilities, request: GenerationRequest) -> dict[str, str]:
    """`beyond_trained` for a resolved request (a still image's length is not judged)."""
    return beyond_trained(caps, request.width, request.height, request.seconds if (request.frames or 0) > 1 else None)


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
