"""From a marketer's selection to the list of banners to make.

Resolution checks every code before anything is rendered (an unknown or wrong-kind code is an
error naming it); enumeration builds each template's combinations over the slots it uses only,
so two banners differing in an element the template does not show are never both made.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from itertools import product as cartesian

from sqlalchemy import Engine

from creative.brands import brand_key, kits_by_brand
from creative.catalog import Product, list_products
from creative.compose.errors import CompositionError
from creative.compose.spec import BatchSelection, CreativeSpec, ElementInfo, ElementPack
from creative.elements import Element
from creative.elements.store import ElementStore
from creative.errors import ElementNotFound
from creative.home import Home
from layouts.sizes import Size, parse_sizes
from layouts.solver import required_roles
from layouts.template import LayoutTemplate, parse_templates


def split_codes(values) -> tuple[str, ...]:
    """Accept codes comma-separated, repeated, or both; keep order, drop repeats."""
    out: list[str] = []
    for value in values or ():
        for part in str(value).split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return tuple(out)


@dataclass
class Resolved:
    pack: ElementPack
    templates: tuple[LayoutTemplate, ...]
    sizes: tuple[Size, ...]
    products: list[tuple[str, str | None]]  # (product element code, catalog product id)
    titles: dict[tuple[str, str | None], list[str | None]]
    logos: dict[tuple[str, str | None], list[str | None]]  # per product: only logos of its own brand
    models: list[str | None]
    backgrounds: list[str | None]
    notes: list[str] = field(default_factory=list)


def _info(store: ElementStore, e: Element) -> ElementInfo:
    path = None
    if e.kind in ("product", "logo", "model", "background"):
        path = str(store.image_path(e) if e.kind == "product" else store.derived_path(e, "rgba"))
    bbox, subject = e.attributes.get("bbox"), e.attributes.get("subject")
    return ElementInfo(
        code=e.code, kind=e.kind, name=e.name, brand=e.brand, path=path, width=e.width, height=e.height,
        bbox=tuple(bbox) if bbox else None, subject=tuple(subject) if subject else None, palette=tuple(e.attributes.get("palette") or ()), text=e.text,
        attributes={k: v for k, v in e.attributes.items() if isinstance(v, (str, int, float, bool)) or k == "tags"},
    )


def _get(store: ElementStore, code: str, kind: str) -> Element:
    element = store.get(code)
    if element.kind != kind:
        raise CompositionError(f"{code} is a {element.kind}, not a {kind}; pass it with --{element.kind}s")
    return element


def resolve_selection(home: Home, engine: Engine, selection: BatchSelection) -> Resolved:
    """Check and load everything the selection names; raises before any file is written."""
    templates = parse_templates(selection.templates or ("all",))
    sizes = parse_sizes(selection.sizes or ("all",))
    store = ElementStore(home, engine)
    if not selection.products:
        raise CompositionError("no products selected; pass --products with product element codes or catalog product ids")
    catalog = list_products(engine)
    by_id = {p.product_id: p for p in catalog}
    elements: dict[str, ElementInfo] = {}
    offers: dict[str, Product] = {}
    products: list[tuple[str, str | None]] = []
    for value in selection.products:
        try:
            element = _get(store, value, "product")
            matched = [p for p in catalog if element.code in p.images]
        except ElementNotFound:
            if value not in by_id:
                raise ElementNotFound(f"no product element or catalog product has code {value!r}; list them with `creative elements list --kind product` or `creative catalog list`") from None
            p = by_id[value]
            if not p.images:
                raise CompositionError(f"catalog product {value} has no image; add one to its 'images' and import the catalog again")
            element, matched = _get(store, p.images[0], "product"), [p]
        elements[element.code] = _info(store, element)
        for p in matched or [None]:
            if p is not None:
                offers[p.product_id] = p
            key = (element.code, p.product_id if p else None)
            if key not in products:
                products.append(key)

    def load(codes, kind) -> list[str | None]:
        out = []
        for code in codes:
            elements[code] = _info(store, _get(store, code, kind))
            out.append(code)
        return out or [None]

    logo_codes = [c for c in load(selection.logos, "logo") if c]
    models = load(selection.models, "model")
    backgrounds = load(selection.backgrounds, "background")
    title_codes = [c for c in load(selection.titles, "title") if c]
    notes: list[str] = []
    titles: dict[tuple[str, str | None], list[str | None]] = {}
    for key in products:
        offer = offers.get(key[1]) if key[1] else None
        matching = []
        for code in title_codes:
            attrs = elements[code].attributes
            if attrs.get("product_id") and offer is not None and attrs["product_id"] != offer.product_id:
                continue
            if attrs.get("language") and offer is not None and attrs["language"] != offer.language:
                continue
            matching.append(code)
        if title_codes and not matching:
            notes.append(f"no selected title fits product {key[1] or key[0]} (language or product differs); its catalog name is used")
        titles[key] = matching or [None]
    logos = {key: [c for c in logo_codes if same_brand(elements[c].brand, product_brand(key, elements, offers))] or [None]
             for key in products}
    used = {c for fitting in logos.values() for c in fitting}
    for code in logo_codes:
        if code not in used:
            owner = elements[code].brand
            notes.append(f"logo {code} ({'brand ' + owner if owner else 'no brand'}) fits no selected product's brand and is not used"
                         + ("" if owner else f"; assign its brand with `creative elements brand {code} BRAND`"))
    kits = kits_by_brand(engine)
    colours = {key: kit.colours for key, kit in kits.items() if kit.colours}
    fonts = {key: kit.font for key, kit in kits.items() if kit.font}
    return Resolved(ElementPack(elements, offers, colours, fonts), templates, sizes, products, titles, logos, models, backgrounds, notes)


def product_brand(key: tuple[str, str | None], elements: dict[str, ElementInfo], offers: dict[str, Product]) -> str | None:
    """A banner's brand: its catalog offer's, else the product picture's."""
    offer = offers.get(key[1]) if key[1] else None
    return offer.brand if offer is not None else elements[key[0]].brand


def same_brand(logo: str | None, product: str | None) -> bool:
    """A logo goes only on its own brand's products; an unbranded logo only where the product has no brand either."""
    return brand_key(logo) == brand_key(product)


def _template_axes(resolved: Resolved, template: LayoutTemplate) -> tuple[list, list[str]] | None:
    """The combination axes of one template, or None (with a reason) when it cannot be made."""
    pairs = []
    need_price = "price" in required_roles(template)
    for key in resolved.products:
        offer = resolved.pack.offers.get(key[1]) if key[1] else None
        if need_price and offer is None:
            continue
        logos = resolved.logos[key] if template.uses("logo") else [None]
        if template.requires("logo") and logos == [None]:
            continue  # no logo of this product's brand
        pairs.extend((key, t, logo) for t in resolved.titles[key] for logo in logos)
    if not pairs:
        return None
    models = resolved.models if template.uses("model") else [None]
    if template.requires("model") and models == [None]:
        return None
    return [resolved.sizes, pairs, models, resolved.backgrounds]


def _spec(template: str, size: Size, branded, model, background) -> CreativeSpec:
    (code, offer), title, logo = branded
    return CreativeSpec(template, size.name, code, offer, model, logo, background, title)


def enumerate_specs(resolved: Resolved, max_n: int | None = None, seed: int = 0) -> tuple[list[CreativeSpec], int, list[str]]:
    """All combinations (or a seeded sample of max_n), deduplicated by creative id and ordered so
    neighbours share backgrounds and products (caches stay warm). Returns (specs, total, skipped)."""
    skipped: list[str] = []
    spaces: list[tuple[LayoutTemplate, list]] = []
    for template in resolved.templates:
        axes = _template_axes(resolved, template)
        if axes is None:
            need = sorted(required_roles(template))
            skipped.append(f"template {template.name} skipped: it needs {', '.join(need)} and the selection has none that fit")
            continue
        spaces.append((template, axes))
    sizes_of = [math.prod(len(axis) for axis in axes) for _, axes in spaces]
    total = sum(sizes_of)
    if max_n is not None and max_n < total:
        picks = sorted(random.Random(seed).sample(range(total), max_n))
        specs = [_decode(spaces, sizes_of, i) for i in picks]
    else:
        specs = [_spec(t.name, *combo) for t, axes in spaces for combo in cartesian(*axes)]
    unique = {s.creative_id: s for s in specs}
    ordered = sorted(unique.values(), key=lambda s: (s.template, s.size, s.background or "", s.product, s.offer or "", s.model or "", s.logo or "", s.title or ""))
    return ordered, total, skipped


def _decode(spaces, sizes_of, index: int) -> CreativeSpec:
    for (template, axes), n in zip(spaces, sizes_of):
        if index < n:
            picks = []
            for axis in reversed(axes):
                index, r = divmod(index, len(axis))
                picks.append(axis[r])
            return _spec(template.name, *reversed(picks))
        index -= n
    raise IndexError(index)
