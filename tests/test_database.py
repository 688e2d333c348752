"""Metadata database: versioned migrations, and the PostgreSQL path for real where a server runs."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from assets.samples import SAMPLES_DIR, sample_files
from creative.catalog import import_catalog, list_products
from creative.db import alembic_config, open_database, schema_heads
from creative.elements.store import ElementStore
from creative.home import resolve_home


def _branch_heads(engine) -> set[str]:
    """The newest revision of every branch in the migration scripts (one per library)."""
    return set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def test_new_home_is_migrated_to_every_branch_head(engine):
    assert schema_heads(engine) == _branch_heads(engine)
    assert {"elements", "products", "creatives", "alembic_version"} <= set(inspect(engine).get_table_names())


def test_an_older_home_opens_and_keeps_its_data(tmp_path):
    """A home written by the first release (only the creative branch at c0001) upgrades in place."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    raw = create_engine(url)
    command.upgrade(alembic_config(raw), "c0001")
    with raw.begin() as conn:
        conn.execute(text("INSERT INTO elements (code, kind, sha256, name, attributes, created_at) "
                          "VALUES ('L-abcdef', 'logo', 'ab', 'old', '{}', '2026-01-01')"))
    raw.dispose()
    engine = open_database(url)
    assert schema_heads(engine) == _branch_heads(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM elements")).scalar_one() == "old"


@pytest.mark.postgres
def test_library_and_catalog_on_postgresql(tmp_path, pg_url):
    home = resolve_home(tmp_path / "home", pg_url)
    engine = open_database(home.db_url)
    assert engine.dialect.name == "postgresql"
    store = ElementStore(home, engine)
    added = store.add_images(sample_files("products"), "product")
    assert len(added) == 6 and store.add_images(sample_files("products")[:1], "product")[0].created is False
    import_catalog(engine, SAMPLES_DIR / "catalog_en.json", store.image_resolver())
    report = import_catalog(engine, SAMPLES_DIR / "catalog_en.json", store.image_resolver())
    assert report.unchanged == 5 and len(list_products(engine)) == 5
    engine.dispose()
