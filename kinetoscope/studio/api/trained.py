"""What a request asks beyond what its model was trained for: the video's warnings, or a 400 where
the engine refuses such requests. The judgement itself is the engines' (engines/base.beyond_trained)."""

from __future__ import annotations

from kinetoscope.engines.base import beyond_request
from kinetoscope.studio.api.errors import ApiError


def trained_warnings(model: str, engine, request) -> list[str]:
    """One warning per value (size, length) of a resolved request beyond the model's training;
    an engine whose capabilities say `beyond="refuse"` refuses the first of them instead."""
    caps = engine.capabilities
    notes = beyond_request(caps, request)
    if notes and caps.beyond == "refuse":
        param, note = next(iter(notes.items()))
        raise ApiError(400, f"{note}: model {model!r} makes only what it was trained for", "invalid_value", param)
    return [f"{note}: it may come out blurred, empty or broken" for note in notes.values()]
