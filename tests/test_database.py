"""Metadata database: versioned migrations, and the PostgreSQL path for real where a server runs."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, inspect, text

from assets.samples import SAMPLES_DIR, sample_files
from creative.catalog import import_catalog, list_products
from creative.db import open_database, schema_heads
from creative.elements.store import ElementStore
from creative.home import resolve_home

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def test_new_home_is_migrated_to_every_branch_head(engine):
    heads = schema_heads(engine)
    assert {"c0002", "e0001"} <= heads
    assert {"elements", "products", "creatives", "alembic_version"} <= set(inspect(engine).get_table_names())


def test_an_older_home_opens_and_keeps_its_data(tmp_path):
    """A home written by the first release (only the creative branch at c0001) upgrades in place."""
    from alembic import command

    from creative.db import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    raw = create_engine(url)
    command.upgrade(alembic_config(raw), "c0001")
    with raw.begin() as conn:
        conn.execute(text("INSERT INTO elements (code, kind, sha256, name, attributes, created_at) "
                          "VALUES ('L-abcdef', 'logo', 'ab', 'old', '{}', '2026-01-01')"))
    raw.dispose()
    engine = open_database(url)
    assert {"c0002", "e0001"} <= schema_heads(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM elements")).scalar_one() == "old"


@pytest.fixture
def postgres_url():
    try:
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            name = f"creative_test_{uuid.uuid4().hex[:10]}"
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means no usable server here
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 ({type(exc).__name__}); start it to run this test")
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    open_database.cache_clear()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.postgres
def test_library_and_catalog_on_postgresql(tmp_path, postgres_url):
    home = resolve_home(tmp_path / "home", postgres_url)
    engine = open_database(home.db_url)
    assert engine.dialect.name == "postgresql"
    store = ElementStore(home, engine)
    added = store.add_images(sample_files("products"), "product")
    assert len(added) == 6 and store.add_images(sample_files("products")[:1], "product")[0].created is False
    import_catalog(engine, SAMPLES_DIR / "catalog_en.json", store.image_resolver())
    report = import_catalog(engine, SAMPLES_DIR / "catalog_en.json", store.image_resolver())
    assert report.unchanged == 5 and len(list_products(engine)) == 5
    engine.dispose()
