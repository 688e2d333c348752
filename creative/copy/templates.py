"""Jinja2 templates for prompts and grammar, and the product slots both fill from the catalog."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from creative.catalog import Product
from creative.copy.entities import activity_keywords, imagery_lines, kind_noun, noun_features
from creative.money import format_money

HERE = Path(__file__).resolve().parent
# The products and brands the few-shot examples in prompts/ use: a model that copies one into a
# title is naming a product that is not this one (a test in test_copy_pipeline.py keeps this list complete).
EXAMPLE_NAMES = ("Cloud Pillow", "Restwell", "Canvas Tote", "Fieldday", "Desk Lamp Pro", "Lumo", "Rain Shell", "Peakline",
                 "云朵枕", "安眠", "帆布托特包", "野趣")
_ROLE = re.compile(r"^### (system|user|assistant)\s*$", re.MULTILINE)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader([str(HERE / "prompts"), str(HERE / "grammar")]),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )
    env.filters["cap"] = _cap
    return env


def product_slots(product: Product, keywords: list[str] | None = None) -> dict[str, Any]:
    """Everything a template may say about a product; absent facts are absent keys, never guesses."""
    lang = product.language
    slots: dict[str, Any] = {
        "p": product,
        "name": product.name,
        "brand": product.brand,
        "category": product.category,
        "features": list(product.features),
        "keywords": list(keywords if keywords is not None else product.keywords),
        "price": format_money(product.price, lang),
        "show_price": False,
        "imagery": imagery_lines(product),  # poetic lines that fit the kind of product (grammar {{ img }})
        "benefits": imagery_lines(product, "benefit"),  # benefit lines that fit the kind (grammar {{ ben }})
        "activities": activity_keywords(product),  # keywords that are not occasions (grammar {{ act }})
        "noun_features": noun_features(product),  # features that read as noun phrases (grammar {{ nf }})
        "kind": kind_noun(product),  # "headphones": a short way to name a product with a long name
    }
    for i, feature in enumerate(product.features[:3], start=1):
        slots[f"f{i}"] = feature
    kws = slots["keywords"]
    if kws:
        slots["k1"] = kws[0]
        slots["kw"] = ("、" if lang == "zh" else " or ").join(kws)
    if product.sale_price is not None and product.sale_price < product.price:
        slots["sale"] = format_money(product.sale_price, lang)
        slots["saving"] = format_money(round(product.price - product.sale_price, 2), lang)
    if product.discount_pct:
        slots["discount"] = f"{product.discount_pct:g}%"
        slots["zhe"] = f"{(100 - product.discount_pct) / 10:g}"
    slots.setdefault("sale", None)
    return slots


def render_messages(template: str, slots: dict[str, Any], **extra: Any) -> list[dict[str, str]]:
    """Render a prompt template into chat messages (sections start with '### role')."""
    text = environment().get_template(template).render(**{**slots, **extra})
    parts = _ROLE.split(text)
    messages = []
    for role, content in zip(parts[1::2], parts[2::2]):
        messages.append({"role": role, "content": content.strip()})
    return messages


def template_sections(name: str) -> dict[str, list[str]]:
    """The '## section' groups of a grammar file, one template source per line."""
    source = (HERE / "grammar" / name).read_text(encoding="utf-8")
    source = re.sub(r"\{#.*?#\}", "", source, flags=re.DOTALL)
    sections: dict[str, list[str]] = {}
    current = None
    for line in source.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        elif line.strip() and current is not None:
            sections[current].append(line.strip())
    return sections
