"""What goes in each slot of a banner: pictures' shapes, and texts from title elements and the catalog."""

from __future__ import annotations

from creative.catalog import Product
from creative.compose.spec import ElementInfo
from creative.fonts import FontFile
from creative.money import format_money
from layouts.solver import TextContent
from layouts.template import LayoutTemplate
from layouts.text import script_of

CTA_TEXT = {"en": "Shop now", "zh": "立即购买"}
IMAGE_ROLES = ("product", "model", "logo", "background")  # CreativeSpec fields that name a picture


def image_roles(template: LayoutTemplate) -> tuple[str, ...]:
    """The picture roles the template shows, in a fixed order."""
    return tuple(role for role in IMAGE_ROLES if template.uses(role))


def price_text(offer: Product) -> str:
    """What the price badge reads: the sale price when there is one, in the product's language."""
    return format_money(offer.sale_price if offer.sale_price else offer.price, offer.language)


def language_of(text: str) -> str:
    """zh when the text has CJK characters, else en: the language of a banner without a catalog product."""
    return "zh" if any("\u3000" <= c <= "\u9fff" for c in text) else "en"


def text_content(product: ElementInfo, title: ElementInfo | None, offer: Product | None,
                 face: FontFile | None = None) -> tuple[dict[str, TextContent], str]:
    """The banner's texts by role (title, price, discount, subtitle, cta) and its language.

    The title is the title element's text, else the catalog name, else the product element's name;
    price, discount and subtitle (the first feature) come from the catalog product when there is one.
    `face` is the brand kit's font: the title is set in its weight when it is a face of the title's script."""
    if title is not None:
        title_text = title.text or ""
    else:
        title_text = offer.name if offer else product.name
    weight = face.weight if face is not None and face.script == script_of(title_text) else None
    content = {"title": TextContent(title_text, weight)}
    language = offer.language if offer else language_of(title_text)
    if offer is not None:
        content["price"] = TextContent(price_text(offer))
        if offer.discount_pct and offer.discount_pct >= 1:
            content["discount"] = TextContent(f"-{offer.discount_pct:.0f}%")
        if offer.features:
            feature = offer.features[0]
            content["subtitle"] = TextContent(feature[:1].upper() + feature[1:])
    content["cta"] = TextContent(CTA_TEXT.get(language, CTA_TEXT["en"]))
    return content, language
