"""The migrations build exactly the schema the models describe (a column added to a model and
forgotten in a migration, or the other way round, fails here)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from kinetoscope.studio.db import migrate
from kinetoscope.studio.models import Base


def test_migrations_match_the_models(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'studio.db'}")
    migrate(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], diff
    engine.dispose()
