"""Catalog input that would mislead people or break downstream tools is refused with one line, nothing imported."""

from __future__ import annotations

import csv
import json
import re

import pytest

import creative.catalog as catalog
from creative.catalog import import_catalog, list_products
from creative.errors import CatalogRejected

HEADER = ["product_id", "name", "brand", "category", "price", "language", "landing_url"]


def _csv(tmp_path, *rows, name="feed.csv"):
    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def _row(pid="A1", name="Runner", url="https://shop.example.com/a1"):
    return [pid, name, "Northwind", "shoes", "89", "en", url]


@pytest.mark.parametrize("name, why", [
    ("Runner\u202egnp.exe", "bidirectional control U+202E"),
    ("Run\x00ner", "NUL"),
    ("Runner\x1b[31m", "control character U+001B"),
])
def test_names_with_hidden_or_reordering_characters_are_refused(engine, tmp_path, name, why):
    with pytest.raises(CatalogRejected, match=re.escape(why)) as info:
        import_catalog(engine, _csv(tmp_path, _row(), _row("A2", name)), lambda ref: None)
    assert "row 3, column 'name'" in str(info.value) and "\n" not in str(info.value)
    assert list_products(engine) == []  # the good row was not imported either


@pytest.mark.parametrize("url, why", [
    ("https://user:pw@shop.example.com/a1", "user name or password"),
    ("https://shop.example.com/a1\r\nSet-Cookie: x=1", "control character U\\+000D"),
    ("https://shop.example.com/a 1", "whitespace"),
    ("javascript:alert(1)", "not an http"),
])
def test_landing_urls_with_credentials_or_line_breaks_are_refused(engine, tmp_path, url, why):
    with pytest.raises(CatalogRejected, match=why):
        import_catalog(engine, _csv(tmp_path, _row(url=url)), lambda ref: None)
    assert list_products(engine) == []


def test_a_cell_over_the_csv_limit_is_a_one_line_error(engine, tmp_path):
    with pytest.raises(CatalogRejected, match=r"row \d+: field larger than field limit.*131,072 characters"):
        import_catalog(engine, _csv(tmp_path, _row(name="x" * 200_000)), lambda ref: None)


def test_a_deeply_nested_json_catalog_is_a_one_line_error(engine, tmp_path):
    path = tmp_path / "feed.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CatalogRejected, match="nested too deeply"):
        import_catalog(engine, path, lambda ref: None)


def test_a_catalog_larger_than_one_chunk_imports_updates_and_skips_unchanged(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(catalog, "IMPORT_CHUNK", 7)  # chunk boundaries exercised on a small file
    rows = [_row(f"A{i:03d}", f"Runner {i}") for i in range(30)]
    first = import_catalog(engine, _csv(tmp_path, *rows), lambda ref: None)
    assert (first.added, first.updated, first.unchanged) == (30, 0, 0)
    rows[5][1] = "Runner five"
    rows[29][4] = "99"
    again = import_catalog(engine, _csv(tmp_path, *rows, name="again.csv"), lambda ref: None)
    assert (again.added, again.updated, again.unchanged) == (0, 2, 28)
    stored = {p.product_id: p for p in list_products(engine)}
    assert stored["A005"].name == "Runner five" and stored["A029"].price == 99 and len(stored) == 30


@pytest.mark.postgres
@pytest.mark.slow
def test_a_catalog_over_postgresqls_parameter_limit_imports_in_one_transaction(pg_url, tmp_path):
    """70,000 ids in one IN list were 70,000 parameters: PostgreSQL refuses more than 65,535."""
    from creative.db import open_database

    engine = open_database(pg_url)
    rows = [_row(f"B{i:05d}", f"Bottle {i}") for i in range(70_000)]
    report = import_catalog(engine, _csv(tmp_path, *rows), lambda ref: None)
    assert report.added == 70_000
    assert len(list_products(engine)) == 70_000
    bad = rows + [_row("B00001", "Bottle again")]  # a duplicate id: nothing of this file is imported
    with pytest.raises(CatalogRejected, match="already appears"):
        import_catalog(engine, _csv(tmp_path, *bad, name="bad.csv"), lambda ref: None)
    assert json.dumps(sorted(p.name for p in list_products(engine))[:1]) == '["Bottle 0"]'
