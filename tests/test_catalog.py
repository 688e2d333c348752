"""Product catalog: both samples import, re-import changes nothing, a bad row imports nothing."""

from __future__ import annotations

import json

import pytest

from assets.samples import SAMPLES_DIR
from creative.catalog import import_catalog, list_products
from creative.errors import CatalogRejected

HEADER = "product_id,name,brand,category,price,sale_price,discount,features,keywords,language,landing_url,images\n"
GOOD = "A1,Runner,Northwind,shoes,89,69,,mesh|foam,running,en,https://x.example/a1,\n"


@pytest.fixture
def resolver(store):
    return store.image_resolver()


def test_both_sample_catalogs_import_with_their_images(sample_home, engine):
    products = {p.product_id: p for p in list_products(engine)}
    assert len(products) == 8 and {p.language for p in products.values()} == {"en", "zh"}
    runner = products["SKU-1001"]
    assert runner.images and runner.images[0].startswith("P-")
    assert runner.discount_pct == 22  # derived from price 89 and sale price 69
    pack = products["SKU-1002"]
    assert pack.sale_price == 90.0 and pack.discount_pct == 25


def test_importing_the_same_file_twice_changes_nothing(sample_home, engine, store):
    before = list_products(engine)
    report = import_catalog(engine, SAMPLES_DIR / "catalog_en.json", store.image_resolver())
    assert (report.added, report.updated, report.unchanged) == (0, 0, 5)
    assert list_products(engine) == before


def _write(tmp_path, body: str, name="feed.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(body.encode(encoding))
    return path


@pytest.mark.parametrize("row,column,why", [
    ("A2,Pack,Northwind,bags,-5,,,,,en,https://x.example/a2,\n", "price", "must be greater than 0"),
    ("A2,Pack,Northwind,bags,50,,120,,,en,https://x.example/a2,\n", "discount", "between 0 and 100"),
    ("A2,Pack,Northwind,bags,50,60,,,,en,https://x.example/a2,\n", "sale_price", "above the price"),
    ("A2,Pack,Northwind,bags,fifty,,,,,en,https://x.example/a2,\n", "price", "not a number"),
    ("A2,Pack,Northwind,bags,50,,,,,fr,https://x.example/a2,\n", "language", "not one of"),
    ("A2,Pack,Northwind,bags,50,,,,,en,javascript:alert(1),\n", "landing_url", "http(s) URL"),
    ("A2,Pack,Northwind,bags,50,,,,,en,https://x.example/a2,missing.png\n", "images", "no product element"),
    ("A1,Again,Northwind,bags,50,,,,,en,https://x.example/a2,\n", "product_id", "already appears in row 2"),
])
def test_bad_row_names_row_and_column_and_imports_nothing(tmp_path, engine, resolver, row, column, why):
    path = _write(tmp_path, HEADER + GOOD + row)
    with pytest.raises(CatalogRejected) as err:
        import_catalog(engine, path, resolver)
    message = str(err.value)
    assert f"row 3, column {column!r}" in message and why in message and str(path) in message
    assert list_products(engine) == []  # the good first row was not imported either


def test_non_utf8_csv_is_refused_with_what_to_do(tmp_path, engine, resolver):
    path = _write(tmp_path, HEADER + "A1,Café,Northwind,shoes,89,,,,,en,https://x.example/a1,\n", encoding="latin-1")
    with pytest.raises(CatalogRejected, match="not UTF-8.*re-save the file as UTF-8"):
        import_catalog(engine, path, resolver)
    assert list_products(engine) == []


def test_missing_columns_are_listed(tmp_path, engine, resolver):
    path = _write(tmp_path, "product_id,name,price\nA1,Runner,10\n")
    with pytest.raises(CatalogRejected, match="missing column.*brand, category, language, landing_url"):
        import_catalog(engine, path, resolver)


def test_json_catalog_with_images_by_code(tmp_path, engine, store, resolver):
    from assets.samples import sample_files

    code = store.add_images([sample_files("products")[0]], "product")[0].element.code
    path = tmp_path / "feed.json"
    path.write_text(json.dumps([{"product_id": "J1", "name": "Pack", "brand": "B", "category": "bags", "price": 10,
                                 "discount": "10%", "features": ["a", "b"], "language": "en",
                                 "landing_url": "https://x.example/j1", "images": [code]}]))
    import_catalog(engine, path, resolver)
    [product] = list_products(engine)
    assert product.images == [code] and product.discount_pct == 10 and product.sale_price == 9.0


def test_changed_row_updates_in_place(tmp_path, engine, resolver):
    import_catalog(engine, _write(tmp_path, HEADER + GOOD), resolver)
    report = import_catalog(engine, _write(tmp_path, HEADER + GOOD.replace(",69,", ",59,")), resolver)
    assert report.updated == 1 and list_products(engine)[0].sale_price == 59
