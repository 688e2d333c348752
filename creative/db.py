"""The metadata database: one SQLAlchemy engine per URL, schema brought up to date by Alembic.

Each library owns its tables and an Alembic branch of its own (`creative`, `experiments`, ...);
opening a database upgrades every branch to its head, so a newer release opens an older home.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import ArgumentError, OperationalError

from creative.errors import ConfigError

_ROOT = Path(__file__).resolve().parent.parent
MIGRATION_DIRS = (
    _ROOT / "creative" / "migrations" / "versions",
    _ROOT / "experiments" / "migrations" / "versions",
)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_ROOT / "creative" / "migrations"))
    config.set_main_option("version_locations", " ".join(str(p) for p in MIGRATION_DIRS))
    config.set_main_option("path_separator", "space")
    config.attributes["engine"] = engine
    return config


@cache
def open_database(url: str) -> Engine:
    """Connect to `url` and upgrade its schema to the newest revision of every branch."""
    try:
        engine = create_engine(url, future=True, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(f"cannot use database URL {url!r}: {exc}; pass --db with a SQLAlchemy URL such as sqlite:///path.db or postgresql+psycopg://host/db") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        command.upgrade(alembic_config(engine), "heads")
    except OperationalError as exc:
        raise ConfigError(f"cannot open database {engine.url.render_as_string(hide_password=True)}: {exc.orig}; check --db / CREATIVE_DB_URL") from exc
    return engine


def schema_heads(engine: Engine) -> set[str]:
    """The revisions the database is at (one per branch)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())
