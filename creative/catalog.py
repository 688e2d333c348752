"""Product catalog: parse a CSV or JSON feed into checked Products and import it in one transaction."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import urlparse

from sqlalchemy import Engine, bindparam, select

from creative.errors import CatalogRejected, ProductNotFound
from creative.tables import json_mentions
from creative.tables import products as products_table
from creative.text import unsafe_character

LANGUAGES = ("en", "zh")
REQUIRED_COLUMNS = ("product_id", "name", "brand", "category", "price", "language", "landing_url")
OPTIONAL_COLUMNS = ("sale_price", "discount", "features", "keywords", "images")
LIST_SEPARATOR = "|"  # inside one CSV cell
IMPORT_CHUNK = 1_000  # rows a statement: 13 columns x 1,000 stays far below PostgreSQL's 65,535 parameters
LOOKUP_CHUNK = 500  # ids in one IN list of a lookup


@dataclass(frozen=True)
class Product:
    product_id: str
    name: str
    brand: str
    category: str
    price: float
    sale_price: float | None
    discount_pct: float | None
    features: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    language: str = "en"
    landing_url: str = ""
    images: list[str] = field(default_factory=list)  # element codes

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ImportReport:
    source: Path
    added: int
    updated: int
    unchanged: int


def _bad(source: Path, row: int, column: str, why: str) -> CatalogRejected:
    return CatalogRejected(f"{source}: row {row}, column {column!r}: {why}; nothing was imported — fix the row and import the file again")


def _read_records(path: Path) -> list[dict[str, Any]]:
    """Rows as dicts; CSV row numbers count the header as row 1, JSON rows count from 1."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogRejected(f"{path}: cannot read the file ({exc.strerror})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogRejected(f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); re-save the file as UTF-8 and import again") from None
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CatalogRejected(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
        except RecursionError:
            raise CatalogRejected(f"{path}: JSON nested too deeply; a catalog is an array of flat product objects") from None
        if isinstance(data, dict) and "products" in data:
            data = data["products"]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise CatalogRejected(f"{path}: expected a JSON array of product objects (or {{\"products\": [...]}})")
        return data
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None:
            raise CatalogRejected(f"{path}: the CSV file is empty; it needs a header row with {', '.join(REQUIRED_COLUMNS)}")
        missing = [c for c in REQUIRED_COLUMNS if c not in reader.fieldnames]
        if missing:
            raise CatalogRejected(f"{path}: missing column(s) {', '.join(missing)}; the header must include {', '.join(REQUIRED_COLUMNS)}")
        try:
            return list(reader)
        except csv.Error as exc:  # e.g. a cell over csv.field_size_limit() (131,072 characters)
            raise CatalogRejected(f"{path}: row {reader.line_num}: {exc}; a catalog cell holds at most {csv.field_size_limit():,} characters") from None
    raise CatalogRejected(f"{path}: unknown catalog format {suffix or '(none)'}; use a .csv or .json file")


def _text(record: dict, column: str, source: Path, row: int, required: bool = True) -> str:
    value = record.get(column)
    value = "" if value is None else str(value).strip()
    if required and not value:
        raise _bad(source, row, column, "is missing or empty")
    return _clean(value, column, source, row)


def _clean(value: str, column: str, source: Path, row: int) -> str:
    bad = unsafe_character(value)
    if bad:
        raise _bad(source, row, column, f"contains {bad}, which would hide or reorder what people see; remove it")
    return value


def _landing_url(record: dict, source: Path, row: int) -> str:
    """An http(s) URL with a host, no credentials, no whitespace or control characters (no header injection)."""
    url = _text(record, "landing_url", source, row)
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise _bad(source, row, "landing_url", f"{url[:200]!r} is not an http(s) URL")
    if any(ch.isspace() for ch in url):
        raise _bad(source, row, "landing_url", f"{url[:200]!r} contains whitespace; percent-encode it (%20)")
    if parsed.username is not None or parsed.password is not None:
        raise _bad(source, row, "landing_url", "carries a user name or password (user:pw@host); remove the credentials")
    return url


def _number(record: dict, column: str, source: Path, row: int, required: bool = True) -> float | None:
    value = record.get(column)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _bad(source, row, column, "is missing")
        return None
    text = str(value).strip().rstrip("%").replace(",", "")
    try:
        number = float(text)
    except ValueError:
        raise _bad(source, row, column, f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise _bad(source, row, column, f"{value!r} is not a finite number")
    return number


def _list(record: dict, column: str, source: Path, row: int) -> list[str]:
    value = record.get(column)
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(LIST_SEPARATOR)
    return [_clean(str(i).strip(), column, source, row) for i in items if str(i).strip()]


def parse_record(record: dict[str, Any], source: Path, row: int, resolve_image: Callable[[str], str | None]) -> Product:
    """Check one row; `resolve_image` maps an image code or file name to an element code."""
    price = _number(record, "price", source, row)
    if price <= 0:
        raise _bad(source, row, "price", f"{price:g} must be greater than 0")
    sale_price = _number(record, "sale_price", source, row, required=False)
    discount = _number(record, "discount", source, row, required=False)
    if discount is None and "discount_pct" in record:
        discount = _number(record, "discount_pct", source, row, required=False)
    if sale_price is not None:
        if sale_price <= 0:
            raise _bad(source, row, "sale_price", f"{sale_price:g} must be greater than 0")
        if sale_price > price:
            raise _bad(source, row, "sale_price", f"{sale_price:g} is above the price {price:g}")
    if discount is not None and not 0 <= discount <= 100:
        raise _bad(source, row, "discount", f"{discount:g}% must be between 0 and 100")
    if discount is None and sale_price is not None:
        discount = round((1 - sale_price / price) * 100)
    if sale_price is None and discount:
        sale_price = round(price * (1 - discount / 100), 2)
    language = _text(record, "language", source, row).lower()
    if language not in LANGUAGES:
        raise _bad(source, row, "language", f"{language!r} is not one of {', '.join(LANGUAGES)}")
    url = _landing_url(record, source, row)
    images = []
    for ref in _list(record, "images", source, row):
        code = resolve_image(ref)
        if code is None:
            raise _bad(source, row, "images", f"no product element with code or file name {ref!r}; add it with `creative elements add FILE --kind product` first")
        images.append(code)
    return Product(
        product_id=_text(record, "product_id", source, row), name=_text(record, "name", source, row),
        brand=_text(record, "brand", source, row), category=_text(record, "category", source, row),
        price=price, sale_price=sale_price, discount_pct=discount,
        features=_list(record, "features", source, row), keywords=_list(record, "keywords", source, row),
        language=language, landing_url=url, images=images,
    )


def parse_catalog(path: Path, resolve_image: Callable[[str], str | None]) -> list[Product]:
    path = Path(path)
    records = _read_records(path)
    first_row = 2 if path.suffix.lower() == ".csv" else 1
    products = [parse_record(r, path, i, resolve_image) for i, r in enumerate(records, start=first_row)]
    seen: dict[str, int] = {}
    for i, product in enumerate(products, start=first_row):
        if product.product_id in seen:
            raise _bad(path, i, "product_id", f"{product.product_id!r} already appears in row {seen[product.product_id]}")
        seen[product.product_id] = i
    if not products:
        raise CatalogRejected(f"{path}: the catalog has no products")
    return products


def _columns(p: Product) -> dict[str, Any]:
    data = p.to_json()
    data.pop("product_id")
    return data


def import_catalog(engine: Engine, path: Path, resolve_image: Callable[[str], str | None]) -> ImportReport:
    """Upsert every product of the file in one transaction; a bad row imports nothing.

    Reads and writes go in chunks of IMPORT_CHUNK rows (PostgreSQL takes at most 65,535 parameters a
    statement), as executemany batches rather than a statement per row, so a 100k-row file holds the
    SQLite write lock for seconds, not minutes."""
    products = parse_catalog(Path(path), resolve_image)
    now = datetime.now(timezone.utc)
    ids = [p.product_id for p in products]
    fresh: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    unchanged = 0
    with engine.begin() as conn:
        existing: dict[str, Any] = {}
        for i in range(0, len(ids), IMPORT_CHUNK):
            rows = conn.execute(select(products_table).where(products_table.c.product_id.in_(ids[i : i + IMPORT_CHUNK])))
            existing.update((r.product_id, r) for r in rows)
        for product in products:
            values = _columns(product)
            old = existing.get(product.product_id)
            if old is None:
                fresh.append({"product_id": product.product_id, "updated_at": now, **values})
            elif all(getattr(old, k) == v for k, v in values.items()):
                unchanged += 1
            else:
                changed.append({"key": product.product_id, "stamp": now, **{f"new_{k}": v for k, v in values.items()}})
        for i in range(0, len(fresh), IMPORT_CHUNK):
            conn.execute(products_table.insert(), fresh[i : i + IMPORT_CHUNK])
        if changed:
            columns = [k for k in changed[0] if k.startswith("new_")]
            stmt = (products_table.update().where(products_table.c.product_id == bindparam("key"))
                    .values(updated_at=bindparam("stamp"), **{k[4:]: bindparam(k) for k in columns}))
            for i in range(0, len(changed), IMPORT_CHUNK):
                conn.execute(stmt, changed[i : i + IMPORT_CHUNK])
        if conn.dialect.name == "postgresql" and len(fresh) >= IMPORT_CHUNK:
            # fresh statistics: without them the planner scans the whole table for every chunk's IN list
            conn.exec_driver_sql("ANALYZE products")
    return ImportReport(source=Path(path), added=len(fresh), updated=len(changed), unchanged=unchanged)


def _row_to_product(row: Any) -> Product:
    return Product(product_id=row.product_id, name=row.name, brand=row.brand, category=row.category,
                   price=row.price, sale_price=row.sale_price, discount_pct=row.discount_pct,
                   features=list(row.features), keywords=list(row.keywords), language=row.language,
                   landing_url=row.landing_url, images=list(row.images))


def list_products(engine: Engine) -> list[Product]:
    with engine.connect() as conn:
        return [_row_to_product(r) for r in conn.execute(select(products_table).order_by(products_table.c.product_id))]


def products_showing(engine: Engine, code: str) -> list[Product]:
    """The products whose images include the element `code`."""
    query = select(products_table).where(json_mentions(products_table.c.images, code)).order_by(products_table.c.product_id)
    with engine.connect() as conn:
        found = [_row_to_product(r) for r in conn.execute(query)]
    return [p for p in found if code in p.images]


def landing_pages(engine: Engine, product_ids: Iterable[str]) -> dict[str, str]:
    """The landing page of each listed product that is in the catalog, by primary key in chunks of LOOKUP_CHUNK:
    a reader (serving) pays for the products it names, whatever the catalog's size."""
    wanted = sorted(set(product_ids))
    urls: dict[str, str] = {}
    with engine.connect() as conn:
        for i in range(0, len(wanted), LOOKUP_CHUNK):
            rows = conn.execute(select(products_table.c.product_id, products_table.c.landing_url)
                                .where(products_table.c.product_id.in_(wanted[i : i + LOOKUP_CHUNK])))
            urls.update((r.product_id, r.landing_url) for r in rows)
    return urls


def get_product(engine: Engine, product_id: str) -> Product:
    with engine.connect() as conn:
        row = conn.execute(select(products_table).where(products_table.c.product_id == product_id)).first()
    if row is None:
        raise ProductNotFound(f"no product has id {product_id!r}; list them with `creative catalog list`")
    return _row_to_product(row)
