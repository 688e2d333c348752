"""The scalar attributes of a creative that experiments learn on: its design choices as plain values.

They come in two parts so a batch works each out once: what the solved layout decides (the same for
every banner of that layout) and what the banner's elements decide (the same for every layout they
appear in). `creative_attributes` joins them with the few values only the drawn banner knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from creative.catalog import Product
from creative.compose.spec import ElementInfo
from layouts.geometry import Box
from layouts.sizes import Size, aspect_class
from layouts.solver import SolvedLayout


@dataclass(frozen=True, slots=True)
class LayoutAttributes:
    """What a solved layout decides, whichever elements fill it."""

    template: str
    size: str
    aspect_class: str
    layout_variant: str
    has_model: bool
    has_price_badge: bool
    has_discount_badge: bool
    has_cta: bool
    has_subtitle: bool
    logo_position: str
    title_px: int | None
    title_lines: int | None
    dropped_slots: str  # the optional slots the layout left out, comma-separated


@dataclass(frozen=True, slots=True)
class ElementAttributes:
    """What the banner's title and product decide, whichever layout shows them."""

    title_source: str  # element | catalog
    title_style: str
    brand: str | None
    category: str | None
    discount_pct: float | None


def logo_position(box: Box | None, size: Size) -> str:
    """Which ninth of the canvas the logo's centre falls in, e.g. 'top-left'; 'none' without a logo."""
    if box is None:
        return "none"
    column = ("left", "center", "right")[min(2, int(box.cx / size.width * 3))]
    row = ("top", "middle", "bottom")[min(2, int(box.cy / size.height * 3))]
    return f"{row}-{column}"


def layout_attributes(template: str, layout: SolvedLayout) -> LayoutAttributes:
    kinds = {p.kind for p in layout.slots}
    badges = {p.role for p in layout.slots if p.kind == "badge"}
    logo = next((p for p in layout.slots if p.kind == "logo"), None)
    title = next((p for p in layout.slots if p.kind == "title"), None)
    return LayoutAttributes(
        template=template,
        size=layout.size.name,
        aspect_class=aspect_class(layout.size),
        layout_variant=layout.variant,
        has_model="model" in kinds,
        has_price_badge="price" in badges,
        has_discount_badge="discount" in badges,
        has_cta="cta" in kinds,
        has_subtitle="subtitle" in kinds,
        logo_position=logo_position(logo.content_box if logo else None, layout.size),
        title_px=title.text.size if title else None,
        title_lines=len(title.text.lines) if title else None,
        dropped_slots=",".join(n.split(" ")[0] for n in layout.notes),
    )


def element_attributes(product: ElementInfo, title: ElementInfo | None, offer: Product | None) -> ElementAttributes:
    return ElementAttributes(
        title_source="element" if title else "catalog",
        title_style=(title.attributes.get("style") if title else None) or "catalog_name",
        brand=(offer.brand if offer else None) or product.brand,
        category=offer.category if offer else None,
        discount_pct=offer.discount_pct if offer else None,
    )


def creative_attributes(layout: LayoutAttributes, elements: ElementAttributes, *, language: str, background_kind: str,
                        colour_family: str, accent_family: str, has_scrim: bool) -> dict[str, Any]:
    """The manifest's `attributes` of one banner, in a fixed order."""
    return {
        "template": layout.template,
        "size": layout.size,
        "aspect_class": layout.aspect_class,
        "layout_variant": layout.layout_variant,
        "title_source": elements.title_source,
        "title_style": elements.title_style,
        "language": language,
        "background_kind": background_kind,
        "colour_family": colour_family,
        "accent_family": accent_family,
        "has_model": layout.has_model,
        "has_price_badge": layout.has_price_badge,
        "has_discount_badge": layout.has_discount_badge,
        "has_cta": layout.has_cta,
        "has_subtitle": layout.has_subtitle,
        "has_scrim": has_scrim,
        "logo_position": layout.logo_position,
        "title_px": layout.title_px,
        "title_lines": layout.title_lines,
        "brand": elements.brand,
        "category": elements.category,
        "discount_pct": elements.discount_pct,
        "dropped_slots": layout.dropped_slots,
    }
