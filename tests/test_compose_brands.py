"""A brand's logo goes on its own products only: a mismatch cannot be composed, not merely warned about."""

from __future__ import annotations

from creative.catalog import list_products
from creative.compose import BatchSelection, enumerate_specs, resolve_selection
from creative.db import open_database
from creative.elements.store import ElementStore


def _brands(home):
    engine = open_database(home.db_url)
    store = ElementStore(home, engine)
    return engine, store, {e.code: e.brand for e in store.list("logo")}


def test_every_sample_product_with_every_logo_pairs_only_matching_brands(sample_home):
    engine, store, logo_brand = _brands(sample_home)
    products = list_products(engine)
    selection = BatchSelection(products=tuple(p.product_id for p in products), logos=tuple(logo_brand),
                               models=tuple(e.code for e in store.list("model")), templates=("all",), sizes=("all",))
    resolved = resolve_selection(sample_home, engine, selection)
    specs, total, _ = enumerate_specs(resolved)
    by_id = {p.product_id: p for p in products}
    with_logo = [s for s in specs if s.logo]
    assert with_logo and total == len(specs)
    assert all(logo_brand[s.logo] == by_id[s.offer].brand for s in with_logo)
    # every sample brand still gets its own logo somewhere
    assert {by_id[s.offer].brand for s in with_logo} == set(logo_brand.values())


def test_an_unbranded_logo_is_not_put_on_a_branded_product(sample_home, tmp_path):
    from PIL import Image

    engine, store, _ = _brands(sample_home)
    picture = tmp_path / "mystery-logo.png"
    Image.new("RGBA", (120, 60), (20, 20, 200, 255)).save(picture)
    mystery = store.add_images([picture], "logo")[0].element
    selection = BatchSelection(products=("SKU-1001",), logos=(mystery.code,), templates=("all",), sizes=("300x250",))
    resolved = resolve_selection(sample_home, engine, selection)
    specs, _, _ = enumerate_specs(resolved)
    assert resolved.logos == {key: [None] for key in resolved.products}  # no product may take the unbranded logo
    assert specs and all(s.logo is None for s in specs)
    assert any(mystery.code in note and "no brand" in note for note in resolved.notes)


def test_a_logo_assigned_its_brand_is_then_used_with_that_brand(sample_home, tmp_path):
    from PIL import Image

    engine, store, _ = _brands(sample_home)
    picture = tmp_path / "new-logo.png"
    Image.new("RGBA", (120, 60), (200, 20, 20, 255)).save(picture)
    logo = store.add_images([picture], "logo")[0].element
    runner = next(p for p in list_products(engine) if p.product_id == "SKU-1001")
    store.set_brand(logo.code, runner.brand)
    resolved = resolve_selection(sample_home, engine, BatchSelection(products=("SKU-1001",), logos=(logo.code,), templates=("all",), sizes=("300x250",)))
    specs, _, _ = enumerate_specs(resolved)
    assert any(s.logo == logo.code for s in specs)
