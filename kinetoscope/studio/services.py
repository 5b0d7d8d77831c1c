"""What the API and the workers share: settings, database sessions, the queue, storage, engines."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.orm import Session, sessionmaker

from kinetoscope.studio import db
from kinetoscope.studio.queue import JobQueue
from kinetoscope.studio.settings import Settings
from kinetoscope.studio.storage import LocalStorage, Storage


@dataclass
class Engines:
    """Engines by model name, each loaded once per process on first use."""

    specs: dict[str, str]
    _loaded: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def names(self) -> list[str]:
        return list(self.specs)

    def get(self, name: str):
        from kinetoscope.engines import load_engine

        if name not in self.specs:
            raise KeyError(name)
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = load_engine(self.specs[name], name=name)
            return self._loaded[name]


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
                   storage=LocalStorage(settings.files_dir), engines=Engines(settings.all_engines))

    def close(self) -> None:
        self.db.dispose()
