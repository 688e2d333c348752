"""A throwaway PostgreSQL database on the local server (trust auth), or a clear skip where none answers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

HOST = "127.0.0.1:5432"
# Trust auth as set up on the dev machine: either role, through any database that always exists.
ADMIN_URLS = tuple(f"postgresql+psycopg://{user}@{HOST}/{db}" for user in ("postgres", "root") for db in ("postgres", "test", "root"))


def _admin_engine() -> sa.Engine:
    failures = []
    for url in ADMIN_URLS:
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return engine
        except Exception as exc:  # noqa: BLE001 - any failure means: try the next role, then skip
            failures.append(f"{url}: {type(exc).__name__}")
            engine.dispose()
    pytest.skip(f"no PostgreSQL server answers on {HOST} (last try {failures[-1]}); start one with trust auth to run this test")


@contextmanager
def throwaway_database() -> Iterator[str]:
    """Create an empty database, yield its SQLAlchemy URL, drop it (and its connections) afterwards."""
    admin = _admin_engine()
    name = f"creative_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
