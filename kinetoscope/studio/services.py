"""What the API and the workers share: settings, database sessions, the queue, storage, engines."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.orm import Session, sessionmaker

from kinetoscope.studio import db
from kinetoscope.studio.queue import JobQueue
from kinetoscope.engines.registry import EngineConfig, Registry, ships_fast
from kinetoscope.studio.settings import BUILTIN_FAST_MODEL, BUILTIN_MODEL, Settings, check_aliases
from kinetoscope.studio.storage import LocalStorage, Storage


class Engines(Registry):
    """The engine registry under the studio's model names (the built-in model is `kinetoscope-builtin`),
    plus the operator's aliases for them (KINETOSCOPE_MODEL_ALIASES, e.g. sora-2 -> kinetoscope-builtin)."""

    def __init__(self, configs: dict[str, EngineConfig], aliases: dict[str, str] | None = None):
        super().__init__(configs)
        check_aliases(aliases or {}, configs)
        self.aliases = dict(aliases or {})

    @classmethod
    def from_settings(cls, settings: Settings) -> "Engines":
        configs = {BUILTIN_MODEL: EngineConfig(BUILTIN_MODEL, settings.builtin_spec)}
        if ships_fast(settings.builtin_spec):  # its fast setting (distilled, or fewer steps), as a model of its own
            configs[BUILTIN_FAST_MODEL] = EngineConfig(BUILTIN_FAST_MODEL, f"{settings.builtin_spec}?fast=1")
        for name, value in settings.engines.items():
            configs[name] = value if isinstance(value, EngineConfig) else EngineConfig(name, value)
        return cls(configs, settings.model_aliases)

    @property
    def specs(self) -> dict[str, str]:
        return {n: c.spec for n, c in self.configs.items()}

    def engine_of(self, name: str | None) -> str | None:
        """The engine a model name (an engine's own, or an alias) runs on; None for an unknown name."""
        name = self.aliases.get(name, name)
        return name if name in self.configs else None

    def get(self, name: str | None = None):
        engine = self.engine_of(name)
        if engine is None:
            raise KeyError(name)
        return super().get(engine)


@dataclass
class Services:
    settings: Settings
    db: DbEngine
    sessions: sessionmaker[Session]
    queue: JobQueue
    storage: Storage
    engines: Engines

    @classmethod
    def start(cls, settings: Settings, migrate: bool = True) -> "Services":
        eng = db.make_engine(settings.db_url)
        if migrate:
            db.migrate(eng)
        return cls(settings=settings, db=eng, sessions=db.session_factory(eng), queue=JobQueue(settings),
                   storage=LocalStorage(settings.files_dir), engines=Engines.from_settings(settings))

    def close(self) -> None:
        self.db.dispose()
