"""Alembic environment: runs on the engine handed over by creative.db.open_database."""

from alembic import context

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(connection=connection, render_as_batch=engine.dialect.name == "sqlite")
    context.run_migrations()
