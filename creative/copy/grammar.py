"""The `grammar` engine: deterministic slot filling of the project's Jinja2 templates, English and Chinese.

Fast and predictable; the same guardrails and ranking judge its output as the model's.
"""

from __future__ import annotations

import itertools
from functools import cache

from jinja2 import meta
from jinja2.exceptions import UndefinedError

from creative.catalog import Product
from creative.copy.templates import environment, product_slots, template_sections

LOOP_SLOTS = {"f": "features", "k": "keywords", "img": "imagery", "ben": "benefits", "act": "activities",
              "nf": "noun_features"}  # a template using {{ f }} is filled once per feature


@cache
def _compiled(source: str):
    env = environment()
    return env.from_string(source), frozenset(meta.find_undeclared_variables(env.parse(source)))


def fill(source: str, slots: dict) -> list[str]:
    """Every rendering of one template line; none when the product lacks a slot it needs."""
    template, names = _compiled(source)
    loops = [(var, slots.get(key) or []) for var, key in LOOP_SLOTS.items() if var in names]
    if any(not values for _, values in loops):
        return []
    out = []
    for combo in itertools.product(*(values for _, values in loops)):
        context = {**slots, **{var: value for (var, _), value in zip(loops, combo)}}
        if any(context.get(n) is None and n in names for n in names):
            continue
        try:
            text = " ".join(template.render(**context).split())
        except UndefinedError:
            continue
        if text and text not in out:
            out.append(text)
    return out


def title_candidates(product: Product, style: str) -> list[str]:
    """All distinct titles the templates of `style` give for the product, in template order."""
    slots = product_slots(product)
    sections = template_sections(f"titles_{product.language}.j2")
    out: list[str] = []
    for source in sections.get(style, []):
        for text in fill(source, slots):
            if text not in out:
                out.append(text)
    return out
