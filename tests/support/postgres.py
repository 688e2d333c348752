"""A throwaway PostgreSQL database on the local server (trust auth), or a clear skip where none answers.

benchmarks/serve_bench.py uses admin_engine and database_on too (without pytest's skip)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

HOST = "127.0.0.1:5432"
# Trust auth as set up on the dev machine: either role, through any database that always exists.
ADMIN_URLS = tuple(f"postgresql+psycopg://{user}@{HOST}/{db}" for user in ("postgres", "root") for db in ("postgres", "test", "root"))


def admin_engine(failures: list[str] | None = None) -> sa.Engine | None:
    """An AUTOCOMMIT engine on the first admin URL that answers, or None; each refusal is appended to `failures`."""
    for url in ADMIN_URLS:
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return engine
        except Exception as exc:  # noqa: BLE001 - any failure means: try the next role, then give up
            if failures is not None:
                failures.append(f"{url}: {type(exc).__name__}")
            engine.dispose()
    return None


@contextmanager
def database_on(admin: sa.Engine, prefix: str) -> Iterator[str]:
    """Create an empty database through `admin`, yield its SQLAlchemy URL, drop it (and its connections) and
    dispose of `admin` afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def throwaway_database() -> Iterator[str]:
    """An empty database's URL for one test (dropped afterwards); skips the test where no server answers."""
    failures: list[str] = []
    admin = admin_engine(failures)
    if admin is None:
        pytest.skip(f"no PostgreSQL server answers on {HOST} (last try {failures[-1]}); start one with trust auth to run this test")
    with database_on(admin, "creative_test") as url:
        yield url
