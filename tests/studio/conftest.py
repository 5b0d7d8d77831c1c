import itertools

import pytest
from fastapi.testclient import TestClient

from kinetoscope.studio.app import create_app
from kinetoscope.studio.services import Services
from kinetoscope.studio.settings import Settings
from tests.studio.servers import Postgres, Redis

_db_names = itertools.count()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    pg = Postgres(tmp_path_factory.mktemp("postgres")).start()
    yield pg
    pg.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    r = Redis(tmp_path_factory.mktemp("redis")).start()
    yield r
    r.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):
    """Each API test runs on the embedded default (SQLite + SQLite queue) and on PostgreSQL + Redis."""
    return request.param


@pytest.fixture
def settings(backend, request, tmp_path, tiny_model_dir) -> Settings:
    kw = dict(data_dir=tmp_path / "data", builtin_spec=f"builtin:{tiny_model_dir}", embedded_worker=False,
              lease_seconds=3.0, heartbeat_seconds=0.5)
    if backend == "postgres":
        pg, rd = request.getfixturevalue("postgres"), request.getfixturevalue("redis_server")
        kw.update(database_url=pg.create_database(f"studio_{next(_db_names)}"), redis_url=rd.url)
    return Settings(**kw)


def forget_rate_limits(url: str) -> None:
    """Rate windows live in the session's shared Redis for a minute: each test starts with none."""
    from redis import Redis as RedisClient

    r = RedisClient.from_url(url)
    keys = list(r.scan_iter("kinetoscope:rate:*"))
    if keys:
        r.delete(*keys)
    r.close()


@pytest.fixture
def svc(settings, text_encoder):
    s = Services.start(settings)
    if settings.redis_url:
        s.queue.flush()
        forget_rate_limits(settings.redis_url)
    builtin = s.engines.get("kinetoscope-builtin")
    builtin.pipeline._text = text_encoder  # share the session's text encoder: load it once per test run
    yield s
    s.close()


@pytest.fixture
def client(svc):
    """The app over `svc`, through HTTP in this process (no worker: tests run jobs with helpers.work)."""
    with TestClient(create_app(services=svc)) as c:
        yield c
