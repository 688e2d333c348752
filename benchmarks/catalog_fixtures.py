"""Large catalogs for benchmarks and scale tests, built in a second rather than through a 100k-row import.

`add_products(engine, 100_000)` makes the database generate the rows itself: one INSERT ... SELECT
over a recursive counter (SQLite and PostgreSQL alike), so no row crosses from Python. 100k rows take
well under a second on SQLite, against ~7 s for an executemany of the same rows and ~10 s for
`import_catalog`, whose parsing and checking is what catalog_bench.py measures. The rows are plain,
valid products, as an import of a simple CSV would store them.
"""

from __future__ import annotations

from sqlalchemy import Engine, cast, func, literal, select

from creative.tables import products


def add_products(engine: Engine, n: int, *, prefix: str = "FILL") -> list[str]:
    """Insert n products with ids PREFIX-0 ... PREFIX-(n-1) (none may exist yet); returns their ids."""
    if n < 1:
        return []
    counter = select(literal(0).label("i")).cte("counter", recursive=True)
    counter = counter.union_all(select(counter.c.i + 1).where(counter.c.i < n - 1))
    product_id = literal(f"{prefix}-") + cast(counter.c.i, products.c.name.type)
    # PostgreSQL needs the cast to its json type; SQLite keeps JSON as text, and a CAST to JSON would make it a number
    empty = cast(literal("[]"), products.c.features.type) if engine.dialect.name == "postgresql" else literal("[]")
    rows = select(product_id, literal("Filler product ") + cast(counter.c.i, products.c.name.type), literal("Filler"), literal("things"),
                  cast(10 + counter.c.i % 90, products.c.price.type), literal("en"),
                  literal("https://shop.example.com/p/") + product_id, empty, empty, empty, func.current_timestamp())
    columns = ["product_id", "name", "brand", "category", "price", "language", "landing_url", "features", "keywords", "images", "updated_at"]
    with engine.begin() as conn:
        conn.execute(products.insert().from_select(columns, rows))
    return [f"{prefix}-{i}" for i in range(n)]
