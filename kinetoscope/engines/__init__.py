"""Engines behind one protocol: `builtin` (our weights) and `diffusers` (open weights from a folder).

    load_engine("builtin")                  the shipped model
    load_engine("builtin:/path/to/model")   a model folder written by `kinetoscope train export`
    load_engine("builtin?fast=1")           the shipped model's distilled few-step denoiser
    load_engine("diffusers:/models/Wan2.1-T2V-1.3B-Diffusers?dtype=bf16&offload=model")
                                            an open-weight model folder, with engine options
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from kinetoscope.engines.base import Cancelled, Capabilities, Engine, Progress, task_of
from kinetoscope.engines.builtin import BuiltinEngine


def parse_spec(spec: str) -> tuple[str, str, dict]:
    """"kind:FOLDER?key=value&..." -> (kind, folder, options)."""
    head, _, query = spec.strip().partition("?")
    kind, _, path = head.partition(":")
    return kind, path, dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))


def load_engine(spec: str = "builtin", name: str | None = None, options: dict | None = None) -> Engine:
    """Options come from the spec's query string and `options` (a config file's), the latter winning."""
    try:
        kind, path, opts = parse_spec(spec)
    except ValueError:
        raise ValueError(f"engine {spec!r}: options after '?' must be key=value pairs joined by '&'") from None
    opts.update(options or {})
    if kind == "builtin":
        fast = str(opts.pop("fast", "0")).lower()
        if opts:
            raise ValueError(f"engine 'builtin' takes only the option fast, got {', '.join(opts)}")
        if fast not in ("0", "1", "true", "false"):
            raise ValueError(f"engine 'builtin' option fast={fast!r}: use 1 or 0")
        return BuiltinEngine.from_folder(path or None, name=name, fast=fast in ("1", "true"))
    if kind == "diffusers":
        from kinetoscope.engines.diffusers import DiffusersEngine  # heavy import, only when asked

        if not path:
            raise ValueError("engine 'diffusers' needs a model folder: diffusers:/path/to/model")
        return DiffusersEngine.from_folder(path, name=name, options=opts)
    raise ValueError(f"engine {spec!r} is not known: use builtin[:FOLDER] or diffusers:FOLDER")


__all__ = ["BuiltinEngine", "Cancelled", "Capabilities", "Engine", "Progress", "load_engine", "parse_spec", "task_of"]
