"""Alembic environment: run with a connection handed over by `kinetoscope.studio.db.migrate`."""

from alembic import context

from kinetoscope.studio.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
