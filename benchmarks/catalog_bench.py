"""Catalog import at scale: a 100k-row CSV into SQLite and PostgreSQL, chunked vs. a statement per row.

Run: .venv/bin/python benchmarks/catalog_bench.py [--rows 100000] [--pg postgresql+psycopg://root@127.0.0.1/test]
Prints seconds per import (first import: all rows added; second: all unchanged; third: all updated)
and the baseline in the same run: the pre-chunking path (one INSERT per row), on SQLite only, on a 10k-row file.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from creative.catalog import _columns, import_catalog, parse_catalog
from creative.db import open_database
from creative.tables import products


def write_catalog(path: Path, rows: int, price: float) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["product_id", "name", "brand", "category", "price", "language", "landing_url", "features", "keywords"])
        for i in range(rows):
            writer.writerow([f"SKU-{i:06d}", f"Product {i}", f"Brand {i % 50}", "bottle", price + i % 7, "en",
                             f"https://shop.example.com/p/{i}", "Leak-proof lid|750 ml", "hiking|gym"])
    return path


def row_at_a_time(engine, path: Path) -> float:
    """What import_catalog did before chunking: a statement per row."""
    started = time.perf_counter()
    items = parse_catalog(path, lambda ref: None)
    with engine.begin() as conn:
        for p in items:
            conn.execute(products.insert().values(product_id=p.product_id, updated_at=sa.func.now(), **_columns(p)))
    return time.perf_counter() - started


def timed(engine, path: Path) -> float:
    started = time.perf_counter()
    import_catalog(engine, path, lambda ref: None)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pg", default="postgresql+psycopg://root@127.0.0.1:5432/test")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="catalog-bench-"))
    first = write_catalog(work / "first.csv", args.rows, 10.0)
    second = write_catalog(work / "second.csv", args.rows, 11.0)
    small = write_catalog(work / "small.csv", 10_000, 10.0)
    targets = {"sqlite": f"sqlite:///{work / 'bench.db'}"}
    admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
    name = f"catalog_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        targets["postgresql"] = admin.url.set(database=name).render_as_string(hide_password=False)
    except sa.exc.OperationalError as exc:
        print(f"PostgreSQL skipped: {exc.orig}")
    print(f"{'database':<12}{'rows':>9}{'add (s)':>10}{'unchanged (s)':>15}{'update (s)':>12}{'rows/s (add)':>14}")
    try:
        for label, url in targets.items():
            engine = open_database(url)
            add, same, update = timed(engine, first), timed(engine, first), timed(engine, second)
            print(f"{label:<12}{args.rows:>9,}{add:>10.1f}{same:>15.1f}{update:>12.1f}{args.rows / add:>14,.0f}")
        base = open_database(f"sqlite:///{work / 'baseline.db'}")
        naive = row_at_a_time(base, small)
        chunked = timed(open_database(f"sqlite:///{work / 'chunked.db'}"), small)
        print(f"baseline, SQLite, 10,000 rows: a statement per row {naive:.2f} s, chunked {chunked:.2f} s ({naive / chunked:.1f}x)")
    finally:
        if "postgresql" in targets:
            open_database(targets["postgresql"]).dispose()
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
