import pytest

from tests.studio.conftest import backend, postgres, redis_server, settings, svc  # noqa: F401 - the studio's fixtures
from tests.studio.servers import Postgres, Redis


@pytest.fixture
def own_redis(tmp_path):
    """A Redis of this test's own, free to be stopped and started (same port)."""
    r = Redis(tmp_path / "redis").start()
    yield r
    r.stop()


@pytest.fixture
def own_postgres(tmp_path):
    """A PostgreSQL of this test's own, free to be taken down and brought up (same port and data)."""
    pg = Postgres(tmp_path / "postgres").start()
    yield pg
    pg.down("immediate")
    pg.stop()
