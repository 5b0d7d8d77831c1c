"""Configured engines by name: what `GET /v1/models` lists and what a request's `model` picks.

Engines come from the environment variable KINETOSCOPE_ENGINES, either inline

    KINETOSCOPE_ENGINES="wan=diffusers:/models/Wan2.1-T2V-1.3B-Diffusers?dtype=bf16;ltx=diffusers:/models/LTX-Video"

or as the path of a YAML (or JSON) file:

    wan:                                  # name: spec, or name: {spec: ..., option: value, ...}
      spec: diffusers:/models/Wan2.1-T2V-1.3B-Diffusers
      dtype: bf16
      offload: model
    ltx: diffusers:/models/LTX-Video

`builtin` is always there (a config may point it at another folder), and `builtin-fast` (its
distilled few-step denoiser) when the built-in folder ships one. Each engine is loaded the first
time it is asked for, once, and kept.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kinetoscope.engines import Engine, load_engine, parse_spec

ENV = "KINETOSCOPE_ENGINES"
BUILTIN = "builtin"
BUILTIN_FAST = "builtin-fast"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class EngineConfig:
    name: str
    spec: str
    options: dict = field(default_factory=dict)


def _entry(name, value, where: str) -> EngineConfig:
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(f"{where}: engine name {name!r} is not allowed: use letters, digits, '.', '_' or '-' (1 to 64)")
    if isinstance(value, dict):
        options = dict(value)
        spec = options.pop("spec", None)
    else:
        spec, options = value, {}
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"{where}: engine {name!r} needs a spec such as diffusers:/path/to/model")
    bad = [k for k, v in options.items() if isinstance(v, (dict, list))]
    if bad:
        raise ValueError(f"{where}: engine {name!r} option {bad[0]!r} must be a single value")
    return EngineConfig(name, spec.strip(), {k: str(v) if not isinstance(v, str) else v for k, v in options.items()})


def _read_file(path: Path) -> dict:
    import yaml

    data = yaml.safe_load(path.read_text()) if path.suffix != ".json" else json.loads(path.read_text())
    data = data.get("engines", data) if isinstance(data, dict) else data
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of engine name to spec, got {type(data).__name__}")
    return data


def configured(value: str | None = None) -> dict[str, EngineConfig]:
    """Engine configs by name from `value` (default: $KINETOSCOPE_ENGINES), `builtin` first."""
    value = (os.environ.get(ENV, "") if value is None else value).strip()
    entries: dict = {}
    if value.endswith((".yaml", ".yml", ".json")) or (value and Path(value).is_file()):
        path = Path(value).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{ENV}={value}: no such engines file")
        where = str(path)
        entries = _read_file(path)
    elif value:
        where = ENV
        for part in filter(None, (p.strip() for p in value.split(";"))):
            name, eq, spec = part.partition("=")
            if not eq:
                raise ValueError(f"{ENV}: {part!r} is not name=spec (entries are separated by ';')")
            entries[name.strip()] = spec.strip()
    configs = {BUILTIN: EngineConfig(BUILTIN, BUILTIN)}
    if ships_fast():
        configs[BUILTIN_FAST] = EngineConfig(BUILTIN_FAST, f"{BUILTIN}?fast=1")
    for name, entry in entries.items():
        configs[name] = _entry(name, entry, where)
    return configs


def ships_fast(spec: str = BUILTIN) -> bool:
    """Whether a `builtin[:FOLDER]` spec's model folder has a fast setting (distilled, or fewer steps)."""
    from kinetoscope.pipeline import BUILTIN_WEIGHTS

    kind, path, _ = parse_spec(spec)
    if kind != BUILTIN:
        return False
    try:
        return bool(json.loads((Path(path or BUILTIN_WEIGHTS) / "pipeline.json").read_text()).get("fast"))
    except (OSError, ValueError):
        return False


class Registry:
    """Engines by name, each loaded on first use and kept (thread-safe)."""

    def __init__(self, configs: dict[str, EngineConfig] | None = None):
        self.configs = configured() if configs is None else configs
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return list(self.configs)

    def is_loaded(self, name: str) -> bool:
        return name in self._engines

    def get(self, name: str | None = None) -> Engine:
        name = name or BUILTIN
        if name not in self.configs:
            raise ValueError(f"model {name!r} is not configured: use one of {', '.join(self.configs)}")
        with self._lock:
            if name not in self._engines:
                c = self.configs[name]
                self._engines[name] = load_engine(c.spec, name=name, options=c.options or None)
            return self._engines[name]

    def describe(self, name: str) -> dict:
        """What `GET /v1/models` shows for one engine, without loading it: full capabilities once loaded."""
        c = self.configs[name]
        kind, path, _ = parse_spec(c.spec)
        out = {"id": name, "engine": kind, "loaded": name in self._engines}
        if path:
            out["folder"] = Path(path).name
        if kind == "diffusers":
            try:
                out["pipeline"] = json.loads((Path(path) / "model_index.json").read_text())["_class_name"]
            except (OSError, ValueError, KeyError) as e:
                out["error"] = f"not a diffusers model folder: {e}"
        if name in self._engines:
            caps = asdict(self._engines[name].capabilities)
            caps["tasks"] = list(caps["tasks"])
            out["capabilities"] = caps
        return out

    def list(self) -> list[dict]:
        return [self.describe(n) for n in self.configs]


_default: Registry | None = None
_default_lock = threading.Lock()


def default_registry() -> Registry:
    """The process-wide registry, configured from $KINETOSCOPE_ENGINES on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Registry()
        return _default


def get_engine(name: str | None = None) -> Engine:
    return default_registry().get(name)


def list_models() -> list[dict]:
    return default_registry().list()
