"""Engines behind one protocol: `builtin` (our weights) and `diffusers` (open weights from a folder).

    load_engine("builtin")                  the shipped model
    load_engine("builtin:/path/to/model")   a model folder written by `kinetoscope train export`
"""

from __future__ import annotations

from kinetoscope.engines.base import Cancelled, Capabilities, Engine, Progress
from kinetoscope.engines.builtin import BuiltinEngine


def load_engine(spec: str = "builtin", name: str | None = None) -> Engine:
    kind, _, path = spec.partition(":")
    if kind == "builtin":
        return BuiltinEngine.from_folder(path or None, name=name)
    if kind == "diffusers":
        from kinetoscope.engines.diffusers import DiffusersEngine  # heavy import, only when asked

        if not path:
            raise ValueError("engine 'diffusers' needs a model folder: diffusers:/path/to/model")
        return DiffusersEngine.from_folder(path, name=name)
    raise ValueError(f"engine {spec!r} is not known: use builtin[:FOLDER] or diffusers:FOLDER")


__all__ = ["BuiltinEngine", "Cancelled", "Capabilities", "Engine", "Progress", "load_engine"]
