"""Holding a database the way a long round or a backup would (no tests here); benchmarks/serve_bench.py uses it too."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import make_url


@contextmanager
def sqlite_write_lock(db_url: str) -> Iterator[None]:
    """SQLite's write lock on the database at `db_url`, held from another connection until the block ends."""
    conn = sqlite3.connect(make_url(db_url).database, isolation_level=None, timeout=60)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()
