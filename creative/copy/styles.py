"""Title styles, their Chinese names, and how well a text fits a style (one half of the ranking score)."""

from __future__ import annotations

import re

from creative.catalog import Product
from creative.copy.errors import CopyError

STYLES = ("descriptive", "promotion", "benefit", "poetic")
ZH_LABELS = {"descriptive": "描述型", "promotion": "特价型", "benefit": "功效型", "poetic": "古诗词型"}
_BY_LABEL = {label: style for style, label in ZH_LABELS.items()}

_SALE_WORDS = re.compile(r"\b(save|off|now|deal|sale|just|only|was|today)\b|特价|限时|到手|立省|直降|特惠|折|现价|只要", re.IGNORECASE)
_BENEFIT_WORDS = re.compile(r"\b(you|your|for|keeps?|ready|easy|easier|comfort\w*|every|made|less|upgraded?|counts|without)\b|更|轻松|安心|舒心|自在|从容|不将就|搭档", re.IGNORECASE)
_IMAGERY = re.compile(r"\b(dawn|light|road|roads|sky|rain|sun|wind|moon|morning|mornings|calm|quiet|soft|softly|miles|hour|day|night|sea|hum|hums|cloud|steps|comforts)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d")
_STOP = {"with", "that", "this", "from", "your", "for", "and", "the", "keeps", "design"}


def parse_styles(value: str | None) -> tuple[str, ...]:
    """Styles from a comma list of English or Chinese names; all four when empty."""
    if not value:
        return STYLES
    out = []
    for raw in value.split(","):
        name = raw.strip()
        style = name.lower() if name.lower() in STYLES else _BY_LABEL.get(name)
        if style is None:
            raise CopyError(f"unknown style {name!r}; use one of {', '.join(STYLES)} (or {', '.join(ZH_LABELS.values())})")
        if style not in out:
            out.append(style)
    return tuple(out)


def label(style: str, language: str) -> str:
    return ZH_LABELS.get(style, style) if language == "zh" else style


def fact_terms(product: Product) -> set[str]:
    """Words (en) or character pairs (zh) that show a text talks about this product's features."""
    terms: set[str] = set()
    for feature in product.features:
        if product.language == "zh":
            core = re.sub(r"[\d.]+|[^\u3400-\u9fff]", "", feature)
            terms |= {core[i : i + 2] for i in range(len(core) - 1)}
        else:
            terms |= {w for w in re.findall(r"[a-z]{4,}", feature.lower()) if w not in _STOP}
    return terms


def mentions_fact(text: str, terms: set[str]) -> bool:
    low = text.lower()
    return any(t in low for t in terms)


def style_fit(text: str, style: str, product: Product) -> float:
    """0..1: cues a reader would expect of the style; cheap, explainable, same for both engines."""
    low = text.lower()
    names_product = product.name.lower() in low or product.brand.lower() in low or product.category.lower() in low
    feature = mentions_fact(text, fact_terms(product))
    has_number = bool(_NUMBER.search(text))
    if style == "descriptive":
        return 0.4 * names_product + 0.4 * feature + 0.2 * (not has_number)
    if style == "promotion":
        return 0.6 * has_number + 0.2 * bool(_SALE_WORDS.search(text)) + 0.2 * names_product
    if style == "benefit":
        return 0.4 * feature + 0.4 * bool(_BENEFIT_WORDS.search(text)) + 0.2 * (not has_number)
    if style == "poetic":
        if product.language == "zh":
            parts = [p for p in re.split(r"[，,。、\s]+", text) if p]
            paired = len(parts) == 2 and len(parts[0]) == len(parts[1])
            metre = all(4 <= len(p) <= 7 for p in parts)
            return 0.5 * paired + 0.2 * metre + 0.3 * (not has_number)
        cadence = "," in text or len(text.split()) <= 6
        return 0.3 * cadence + 0.4 * bool(_IMAGERY.search(text)) + 0.3 * (not has_number)
    raise CopyError(f"unknown style {style!r}")
