"""Rendering single banners from the sample library: prices as shoppers read them, attributes, plans,
cache budgets, and the pack fingerprint."""

from dataclasses import replace

import numpy as np
import pytest

from creative.compose import BatchSelection, CompositionError, ElementPack, Renderer, enumerate_specs, resolve_selection
from creative.compose.caches import BUDGET_SHARES, CACHE_MB, RenderCaches
from creative.compose.content import price_text, text_content
from creative.compose.plan import BadgeStep, LayoutPlan, LogoStep, TextStep
from creative.db import open_database
from creative.elements.store import ElementStore


@pytest.fixture
def resolved(sample_home):
    engine = open_database(sample_home.db_url)
    store = ElementStore(sample_home, engine)
    codes = {k: tuple(e.code for e in store.list(k)) for k in ("product", "logo", "background")}
    selection = BatchSelection(products=codes["product"], logos=codes["logo"][:1], backgrounds=codes["background"][:1],
                               templates=("promo", "hero"), sizes=("300x250", "728x90"))
    return resolve_selection(sample_home, engine, selection)


def _offer(resolved, language):
    return next(p for p in resolved.pack.offers.values() if p.language == language)


def test_price_badges_read_in_the_shared_money_format(resolved):
    zh = replace(_offer(resolved, "zh"), price=399.0, sale_price=312.8)
    en = replace(_offer(resolved, "en"), price=1499.0, sale_price=1299.0)
    assert price_text(zh) == "¥312.80"
    assert price_text(en) == "$1,299"
    assert price_text(replace(en, sale_price=None)) == "$1,499"
    product = next(iter(resolved.pack.elements.values()))
    texts, language = text_content(product, None, zh)
    assert language == "zh" and texts["price"].text == "¥312.80" and texts["title"].text == zh.name
    assert texts["cta"].text == "立即购买"


def test_a_banner_without_catalog_product_takes_its_language_from_the_title(resolved):
    product = next(e for e in resolved.pack.elements.values() if e.kind == "product")
    zh_title = replace(product, code="T-zh", kind="title", text="新品上市")
    texts, language = text_content(product, zh_title, None)
    assert language == "zh" and "price" not in texts and texts["title"].text == "新品上市"


def test_attributes_describe_what_the_banner_shows(resolved):
    specs, _, _ = enumerate_specs(resolved)
    renderer = Renderer(resolved.pack)
    for spec in specs:
        rendered = renderer.render(spec)
        assert rendered.accepted, rendered.reasons
        a = rendered.attributes
        offer = resolved.pack.offers.get(spec.offer) if spec.offer else None
        assert (a["template"], a["size"]) == (spec.template, spec.size)
        assert a["language"] == (offer.language if offer else a["language"])
        assert a["category"] == (offer.category if offer else None)
        shows_background = any(p.kind == "background" for p in rendered.layout.slots)
        assert a["background_kind"] == ("image" if spec.background and shows_background else "colour")
        assert a["has_price_badge"] == any(p.role == "price" for p in rendered.layout.slots if p.kind == "badge")
        assert a["title_source"] == "catalog" and a["title_style"] == "catalog_name"
        assert list(a)[:4] == ["template", "size", "aspect_class", "layout_variant"]


def test_a_plan_names_every_text_badge_and_logo_of_its_layout(resolved):
    specs, _, _ = enumerate_specs(resolved)
    spec = next(s for s in specs if s.template == "promo" and s.logo)
    renderer = Renderer(resolved.pack)
    rendered = renderer.render(spec)
    plan = next(p for p in renderer.cache.layouts.values() if isinstance(p, LayoutPlan) and p.layout is rendered.layout)
    kinds = {p.kind for p in rendered.layout.slots}
    assert {s.slot.kind for s in plan.steps if isinstance(s, TextStep)} == kinds & {"title", "subtitle"}
    assert {s.slot.kind for s in plan.steps if isinstance(s, BadgeStep)} == kinds & {"badge", "cta"}
    assert any(isinstance(s, LogoStep) for s in plan.steps) == ("logo" in kinds)
    assert plan.attributes.template == "promo" and plan.attributes.size == spec.size


def test_cache_budgets_add_up_to_the_stated_total():
    assert sum(BUDGET_SHARES.values()) == pytest.approx(1.0)
    caches = RenderCaches()
    bounded = (caches.bases, caches.resized, caches.blocks)
    assert sum(c.budget for c in bounded) <= CACHE_MB * 1024 * 1024


def test_a_small_cache_budget_draws_the_same_pixels(resolved):
    specs, _, _ = enumerate_specs(resolved)
    roomy, tight = Renderer(resolved.pack), Renderer(resolved.pack, cache_mb=1)
    for spec in specs * 2:
        a, b = roomy.render(spec), tight.render(spec)
        assert np.array_equal(np.asarray(a.image), np.asarray(b.image)), spec.creative_id
    assert tight.cache.bases.used <= tight.cache.bases.budget or len(tight.cache.bases.data) == 1


def test_pack_fingerprint_changes_when_a_product_fact_changes(resolved):
    pack = resolved.pack
    pid, product = next(iter(pack.offers.items()))
    same = replace(pack, elements=dict(pack.elements), offers=dict(pack.offers))  # an equal pack, every field copied
    assert same.fingerprint() == pack.fingerprint()
    for change in ({"sale_price": 1.5}, {"features": ["Brand new feature"]}, {"name": "Another name"}):
        changed = ElementPack(dict(pack.elements), {**pack.offers, pid: replace(product, **change)})
        assert changed.fingerprint() != pack.fingerprint(), change


def test_a_missing_picture_is_an_error_naming_the_element(resolved, tmp_path):
    spec = enumerate_specs(resolved)[0][0]
    product = resolved.pack.elements[spec.product]
    pack = ElementPack({**resolved.pack.elements, spec.product: replace(product, path=str(tmp_path / "gone.png"))}, resolved.pack.offers)
    with pytest.raises(CompositionError, match=f"picture of element {spec.product} is missing"):
        Renderer(pack).render(spec)


def test_an_unknown_element_code_is_an_error_naming_it(resolved):
    spec = replace(enumerate_specs(resolved)[0][0], logo="L-notinpack")
    with pytest.raises(CompositionError, match="L-notinpack is not in this batch's element pack"):
        Renderer(resolved.pack).render(spec)
