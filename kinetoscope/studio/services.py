"""What the API and the workers share: settings, database sessions, the queue, storage, engines."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.orm import Session, sessionmaker

from kinetoscope.studio import db
from kinetoscope.studio.queue import JobQueue
from kinetoscope.engines.registry import EngineConfig, Registry, ships_fast
from kinetoscope.studio.settings import BUILTIN_MODEL, Settings
from kinetoscope.studio.storage import LocalStorage, Storage


class Engines(Registry):
    """The engine registry under the studio's model names (the built-in model is `kinetoscope-builtin`)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> "Engines":
        configs = {BUILTIN_MODEL: EngineConfig(BUILTIN_MODEL, settings.builtin_spec)}
        if ships_fast(settings.builtin_spec):  # its fast setting (distilled, or fewer steps), as a model of its own
            fast = f"{BUILTIN_MODEL}-fast"
            configs[fast] = EngineConfig(fast, f"{settings.builtin_spec}?fast=1")
        for name, value in settings.engines.items():
            configs[name] = value if isinstance(value, EngineConfig) else EngineConfig(name, value)
        return cls(configs)

    @property
    def specs(self) -> dict[str, str]:
        return {n: c.spec for n, c in self.configs.items()}

    def get(self, name: str | None = None):
        if name not in self.configs:
            raise KeyError(name)
        return super().get(name)


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
