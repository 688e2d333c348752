"""Phrase banks: the grammar engine's sentences and the model's catalog-filled sentence starts.

Banks live in `creative/copy/grammar/articles_<lang>.j2` (whole sentences, per kind of feature and per
scene, optionally per category as `bank@category`) and `articles_openers_<lang>.j2` (starts the model
continues). Every number, price and name in them comes from a slot filled from the catalog.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from jinja2.exceptions import UndefinedError

from creative.catalog import Product
from creative.copy.article.plan import Fact, feature_form
from creative.copy.templates import environment, product_slots, template_sections


@cache
def _banks(kind: str, language: str) -> dict[str, list[str]]:
    return template_sections(f"articles{'_openers' if kind == 'openers' else ''}_{language}.j2")


@cache
def _compiled(source: str):
    return environment().from_string(source)


def _plural(noun: str) -> bool:
    last = noun.split()[-1].lower() if noun.split() else ""
    return last.endswith("s") and not last.endswith(("ss", "us", "is"))


def _agreement(name: str) -> dict[str, str]:
    """Pronoun and verb forms for the product's name: 'Quiet One Headphones' are, 'Stride Runner' is."""
    plural = _plural(name)
    words = ("they", "their", "are", "have", "do", "fit", "look", "feel", "cover", "hold", "them") if plural else \
        ("it", "its", "is", "has", "does", "fits", "looks", "feels", "covers", "holds", "it")
    return dict(zip(("it", "its", "is", "has", "does", "fits", "looks", "feels", "covers", "holds", "them"), words))


_PLURAL_VERB = {"is": "are", "has": "have", "does": "do", "was": "were"}


def _agree(text: str, name: str) -> str:
    """A plural name takes a plural verb: 'the Quiet One Headphones keeps' -> 'keep', 'is' -> 'are'."""
    def plural(m: re.Match) -> str:
        verb = m.group(2)
        return f"{m.group(1)} {_PLURAL_VERB.get(verb, verb[:-1])}"
    return re.sub(rf"({re.escape(name)}) (is|has|does|was|[a-z]+[^s\W]s)\b", plural, text)


def slots_for(product: Product, fact: Fact | None = None, keyword: str | None = None) -> dict[str, Any]:
    """Catalog slots for one sentence: the product's facts plus the one fact and keyword it is about."""
    slots = {**product_slots(product), **_agreement(product.name)}
    for i, feature in enumerate(product.features[:3], start=1):
        slots[f"F{i}"] = feature[:1].upper() + feature[1:]
    # features that read as nouns, for lists ("weighs 240 g" cannot stand in "with A, B and C")
    nouns = [f for f in product.features[:3] if feature_form(f, product.language) in ("noun", "quantity")]
    for i, feature in enumerate(nouns, start=1):
        slots[f"n{i}"], slots[f"N{i}"] = feature, feature[:1].upper() + feature[1:]
    if fact is not None:
        slots["f"] = fact.text
        slots["F"] = fact.text[:1].upper() + fact.text[1:]
        slots["fc"] = {"clause": fact.text, "adjective": f"{slots['is']} {fact.text}", "quantity": f"{slots['holds']} {fact.text}"}.get(fact.form)
    if keyword is not None:
        slots["k"] = keyword
        noun = _banks("sentences", product.language).get(f"noun {keyword.lower()}")
        slots["kn"] = noun[0] if noun else keyword  # the keyword as a noun phrase: "commute" -> "the commute"
    return slots


def bank(name: str, product: Product, kind: str = "sentences") -> list[str]:
    """Template sources of a bank: the category's own bank when there is one, else the general one."""
    banks = _banks(kind, product.language)
    return list(banks.get(f"{name}@{product.category}") or banks.get(name, []))


def render(sources: list[str], slots: dict[str, Any]) -> list[str]:
    """Each source rendered with the slots; a line needing a slot the product lacks is skipped."""
    out = []
    for source in sources:
        try:
            text = " ".join(_compiled(source).render(**slots).split())
        except UndefinedError:
            continue
        if slots.get("it") == "they":
            text = _agree(text, slots["name"])
        if slots.get("f") and _plural(slots["f"]):
            text = _agree(text, slots["f"])
        if text and "None" not in text and text not in out:
            out.append(text)
    return out


def sentence_bank(product: Product, section: str, role: str, fact: Fact | None, keyword: str | None) -> str:
    """The bank a grammar sentence for this slot comes from."""
    if section == "point":
        if role == "follow":
            return f"follow {fact.kind}"
        return f"{'point' if fact.form == 'noun' else 'clause'} {fact.kind}"
    banks = _banks("sentences", product.language)
    if section == "scene":
        if role == "follow":
            return f"scene follow {keyword.lower()}" if f"scene follow {keyword.lower()}" in banks else "scene follow"
        if fact.form != "noun":
            return "scene clause"
        return f"scene {keyword.lower()}" if f"scene {keyword.lower()}" in banks else "scene"
    if section == "cta":
        return "cta follow" if role == "follow" else "price"
    return "title" if section == "headline" else f"lead {role}"


def price_banks(product: Product) -> list[str]:
    """Price sentences that state exactly the catalog's offer: the sale, else the discount, else the price."""
    slots = product_slots(product)
    if slots.get("sale"):
        return ["price sale"]
    if slots.get("discount"):
        return ["price discount"]
    return ["price"]


def opener_bank(section: str, role: str, fact: Fact | None) -> str:
    """The bank of catalog-filled starts the model continues for this slot."""
    if section == "point":
        return "follow" if role == "follow" else ("point noun" if fact.form == "noun" else "point clause")
    if section == "scene":
        if role == "follow":
            return "scene follow"
        return "scene opener" if fact.form == "noun" else "scene clause"
    return f"{section} {role}"
