"""Guardrails every candidate passes before it can be stored: facts, banned claims, length, duplicates, quality.

Each check returns reasons (empty when it passes) so a rejected candidate can show the user why.
Checks are pure functions of the text and the product's facts; whether a text reads as copy lives in
copy.wording, which names and kinds it may use in copy.entities.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Iterable, Sequence

from creative.catalog import Product
from creative.copy.entities import (
    RARE_NAME,
    ProductWords,
    check_brand_offer,
    check_entities,
    check_grounding,
    check_kind,
    check_name_case,
    word_frequency,
)
from creative.copy.limits import HEADLINE, LengthLimit, article_length, char_length, cjk_count, pixel_width
from creative.copy.wording import check_cut_feature, check_quality

DATA = "creative.copy.data"
_TOLERANCE = 0.005

# ---------------------------------------------------------------- word lists (one file each)


@cache
def _data_lines(name: str) -> tuple[str, ...]:
    text = resources.files(DATA).joinpath(name).read_text(encoding="utf-8")
    # "# " starts a comment; "#1" is an entry
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("# ") and line.strip() != "#")


def banned_phrases(language: str) -> tuple[str, ...]:
    return _data_lines("banned_zh.txt" if language == "zh" else "banned_en.txt")


def known_brands() -> tuple[str, ...]:
    return _data_lines("known_brands.txt")


@cache
def _banned_pattern(language: str) -> re.Pattern:
    parts = []
    for phrase in banned_phrases(language):
        wild = phrase.endswith("*")
        body = re.escape(phrase.rstrip("*")).replace(r"\ ", r"[\s-]+")
        if language == "zh":
            parts.append(body)
        else:
            start = r"(?<![A-Za-z0-9])" if phrase[0].isalnum() else ""
            end = r"[A-Za-z]*" if wild else (r"(?![A-Za-z0-9])" if phrase.rstrip("*")[-1].isalnum() else "")
            parts.append(start + body + end)
    # longest first so "best-selling" is reported rather than "best"
    parts.sort(key=len, reverse=True)
    return re.compile("|".join(parts), re.IGNORECASE)


# ---------------------------------------------------------------- facts


_NUMBER = re.compile(
    r"(?P<cur>[$¥￥€£]|US\$|RMB|USD)?\s?(?P<num>\d+(?:,\d{3})*(?:\.\d+)?)\s?"
    r"(?P<unit>%|％|percent\b|折|元|块|美元|dollars?\b)?(?P<off>\s*off\b)?",
    re.IGNORECASE,
)
_EN_NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100,
}
_EN_WORD_NUMBER = re.compile(
    r"\b(?P<word>" + "|".join(_EN_NUMBER_WORDS) + r")[\s-]+(?P<unit>percent|dollars?|hours?|grams?|liters?|litres?|days?|years?)\b",
    re.IGNORECASE,
)
_HALF = re.compile(r"\bhalf[\s-]+(?:off|price)\b|半价|五折", re.IGNORECASE)
_ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_NUMERAL = re.compile(r"(?P<num>[零一二两三四五六七八九十百千万]+)(?P<unit>折|元|块|小时|克|毫升|升|米|成|倍|公斤|斤)")


def _zh_to_number(text: str) -> float:
    """Chinese numerals up to the ten-thousands (三十 -> 30, 八五 -> 85, 一千二百 -> 1200)."""
    if all(ch in _ZH_DIGITS for ch in text):  # digit by digit, as in 八五折
        return float("".join(str(_ZH_DIGITS[ch]) for ch in text))
    total, section, digit = 0, 0, 0
    for ch in text:
        if ch in _ZH_DIGITS:
            digit = _ZH_DIGITS[ch]
        elif ch == "十":
            section += (digit or 1) * 10
            digit = 0
        elif ch == "百":
            section += digit * 100
            digit = 0
        elif ch == "千":
            section += digit * 1000
            digit = 0
        elif ch == "万":
            total += (section + digit) * 10000
            section = digit = 0
    return float(total + section + digit)


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class ProductFacts:
    """The numbers a text may state about one product, by kind, and the brands it may not name."""

    brand: str
    prices: frozenset[float]
    discounts: frozenset[float]  # percent off
    zhe: frozenset[float]  # Chinese 折 (8.5折 and 85折 both mean 15% off)
    quantities: frozenset[float]  # numbers in the name and features: 240 g, 30 hours, 20 L
    other_brands: tuple[str, ...]
    language: str
    list_price: float = 0.0
    sale_price: float | None = None
    name_words: tuple[str, ...] = ()

    @property
    def all_numbers(self) -> frozenset[float]:
        return self.prices | self.discounts | self.quantities

    @classmethod
    def of(cls, product: Product, brands: Iterable[str] = ()) -> "ProductFacts":
        prices = {product.price}
        discounts: set[float] = set()
        if product.sale_price is not None and product.sale_price < product.price:
            prices |= {product.sale_price, round(product.price - product.sale_price, 2)}
            exact = (1 - product.sale_price / product.price) * 100
            discounts |= {round(exact), round(exact, 1)}
        if product.discount_pct:
            discounts.add(float(product.discount_pct))
        zhe = {(100 - d) / 10 for d in discounts} | {100 - d for d in discounts}
        quantities = set()
        for text in (product.name, *product.features):
            quantities |= {float(m.group("num").replace(",", "")) for m in _NUMBER.finditer(text)}
            quantities |= {_zh_to_number(m.group("num")) for m in _ZH_NUMERAL.finditer(text)}
        own = f"{product.brand} {product.name}".casefold()
        others = sorted({b for b in (*known_brands(), *brands) if b and b.casefold() not in own}, key=len, reverse=True)
        return cls(brand=product.brand, prices=frozenset(prices), discounts=frozenset(discounts), zhe=frozenset(zhe),
                   quantities=frozenset(quantities), other_brands=tuple(others), language=product.language,
                   list_price=product.price,
                   sale_price=product.sale_price if product.sale_price is not None and product.sale_price < product.price else None,
                   name_words=tuple(re.findall(r"[A-Za-z]+", f"{product.name} {product.brand}")))


def _member(value: float, allowed: Iterable[float]) -> bool:
    return any(abs(value - a) < _TOLERANCE for a in allowed)


def check_facts(text: str, facts: ProductFacts) -> list[str]:
    """Every number, percentage, price and discount must be the catalog's; a brand named must be the product's."""
    reasons: list[str] = []
    for m in _NUMBER.finditer(text):
        value = float(m.group("num").replace(",", ""))
        unit = (m.group("unit") or "").lower()
        if unit in ("%", "％", "percent") or m.group("off"):
            allowed, kind = facts.discounts | facts.quantities, "discount"
        elif unit == "折":
            allowed, kind = facts.zhe, "discount (折)"
        elif m.group("cur") or unit in ("元", "块", "美元", "dollar", "dollars"):
            allowed, kind = facts.prices, "price"
        else:
            allowed, kind = facts.all_numbers, "number"
        if not _member(value, allowed):
            shown = ", ".join(_fmt(a) for a in sorted(allowed)) or "none"
            reasons.append(f"facts: {kind} {m.group(0).strip()!r} is not in the catalog (allowed: {shown})")
    for m in _EN_WORD_NUMBER.finditer(text):
        value = float(_EN_NUMBER_WORDS[m.group("word").lower()])
        if not _member(value, facts.all_numbers):
            reasons.append(f"facts: {m.group(0)!r} states a number that is not in the catalog")
    for m in _ZH_NUMERAL.finditer(text):
        value = _zh_to_number(m.group("num"))
        allowed = facts.zhe if m.group("unit") == "折" else facts.prices if m.group("unit") in ("元", "块") else facts.all_numbers
        if not _member(value, allowed):
            reasons.append(f"facts: {m.group(0)!r} states a number that is not in the catalog")
    if _HALF.search(text) and not _member(50, facts.discounts):
        reasons.append("facts: claims half price but the catalog discount is " + (", ".join(f"{_fmt(d)}%" for d in sorted(facts.discounts)) or "none"))
    if facts.sale_price is None and not facts.discounts:
        implied = _IMPLIED_DEAL.search(text) or re.search(r"\bnow\s+[$¥￥€£]", text, re.IGNORECASE)
        if implied:
            reasons.append(f"facts: {implied.group(0)!r} implies a reduction but the catalog has no sale price or discount")
    if facts.sale_price is not None:
        stated = {float(m.group("num").replace(",", "")) for m in _NUMBER.finditer(text) if m.group("cur") or (m.group("unit") or "") in ("元", "块")}
        mentions_deal = _member(facts.sale_price, stated) or _IMPLIED_DEAL.search(text) or re.search(r"\d\s*(?:%|％)", text)
        if _member(facts.list_price, stated) and not mentions_deal:
            reasons.append(f"facts: shows the regular price {_fmt(facts.list_price)} without the sale price {_fmt(facts.sale_price)}")
        for m in _WAS_PRICE.finditer(text):
            value = float(m.group("num").replace(",", ""))
            if not _member(value, {facts.list_price}):
                reasons.append(f"facts: {m.group(0).strip()!r} is not the regular price {_fmt(facts.list_price)}")
            elif not (_member(facts.sale_price, stated) or re.search(r"\d\s*(?:%|％|折)", text)):
                reasons.append(f"facts: {m.group(0).strip()!r} without the current price {_fmt(facts.sale_price)} (or the discount)")
        for m in _CURRENT_PRICE.finditer(text):
            value = float(m.group("num").replace(",", ""))
            if _member(value, {facts.list_price}) and not _member(value, {facts.sale_price}):
                reasons.append(f"facts: {m.group(0).strip()!r} calls the regular price current; the sale price is {_fmt(facts.sale_price)}")
    for brand in facts.other_brands:
        if _names_brand(text, brand):
            reasons.append(f"facts: names {brand!r}, which is not this product or its brand {facts.brand!r}")
    for word, name in _misspelt_names(text, facts.name_words):
        reasons.append(f"facts: {word!r} looks like a misspelt {name!r}")
    return reasons


_IMPLIED_DEAL = re.compile(r"\b(?:was|save|saving|sale|discount(?:ed)?|reduced|clearance|deal)\b|\d\s*%\s*off|原价|直降|立省|[\d一二三四五六七八九]\s*折|打折|折扣|特价|特惠|优惠", re.IGNORECASE)
_WAS_PRICE = re.compile(r"(?:\b(?:was|were|originally|regular(?:ly)?|reg\.?)\s+|原价)[$¥￥]?\s?(?P<num>\d+(?:,\d{3})*(?:\.\d+)?)", re.IGNORECASE)
_CURRENT_PRICE = re.compile(r"(?:\b(?:now|only|just|for|at|today|is|are)\s+|现价|到手价|特价|只要|仅)[$¥￥]?\s?(?P<num>\d+(?:,\d{3})*(?:\.\d+)?)", re.IGNORECASE)


def _misspelt_names(text: str, name_words: Iterable[str]) -> list[tuple[str, str]]:
    """Words close to, but not equal to, a word of the product's name or brand (Northwind -> Netherwind)."""
    import difflib

    out = []
    names = {w.casefold(): w for w in name_words if len(w) >= 4}
    for word in re.findall(r"[A-Za-z]{4,}", text):
        low = word.casefold()
        if low in names or low.rstrip("s") in names or word_frequency(low, "en") >= RARE_NAME:
            continue  # a common word ("travel" beside "Trail") is a word, not a misspelling; name spans catch swaps
        for key, name in names.items():
            inflected = os.path.commonprefix([low, key]) and len(os.path.commonprefix([low, key])) >= len(key) - 1
            if difflib.SequenceMatcher(None, low, key).ratio() >= 0.65 and not inflected:
                out.append((word, name))
                break
    return out


def _names_brand(text: str, brand: str) -> bool:
    if cjk_count(brand):
        return brand in text
    return re.search(r"(?<![A-Za-z0-9])" + re.escape(brand) + r"(?![A-Za-z0-9])", text) is not None


# ---------------------------------------------------------------- banned claims


def check_banned(text: str, language: str, brand_banned: Sequence[str] = ()) -> list[str]:
    """Absolute or unsubstantiated claims from the language's banned list (see the data files for sources),
    and the words the product's brand kit bans (creative.brands), as whole words in any case."""
    found = []
    for lang in {language, "en"}:  # a Chinese title can still carry "#1" or "100%"
        for m in _banned_pattern(lang).finditer(text):
            phrase = m.group(0)
            if phrase not in found:
                found.append(phrase)
    reasons = [f"banned claim: {p!r}" for p in found]
    folded = text.casefold()
    for word in brand_banned:
        if _names_brand(folded, word.casefold()):
            reasons.append(f"banned by the brand kit: {word!r}")
    return reasons


# ---------------------------------------------------------------- length and width


def check_length(text: str, limit: LengthLimit = HEADLINE) -> list[str]:
    n = char_length(text)
    reasons = []
    if n > limit.max_chars:
        reasons.append(f"length: {n} characters, over the {limit.name} limit of {limit.max_chars}")
    elif 0 < n < limit.min_chars:
        reasons.append(f"length: {n} characters, under the {limit.name} minimum of {limit.min_chars}")
    if limit.max_width_px and n:
        width = pixel_width(text, limit.font_size, limit.weight)
        if width > limit.max_width_px:
            reasons.append(f"width: {width}px at {limit.font_size}px {limit.weight}, wider than the {limit.max_width_px}px slot")
    return reasons


# ---------------------------------------------------------------- duplicates


def normalise(text: str) -> str:
    """Case, spacing and punctuation folded away, so trivial variants compare equal."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def ngram_jaccard(a: str, b: str, n: int = 3) -> float:
    """Character n-gram Jaccard similarity of the normalised texts (robust to word order tweaks)."""
    a, b = normalise(a), normalise(b)
    ga = {a[i : i + n] for i in range(max(1, len(a) - n + 1))}
    gb = {b[i : i + n] for i in range(max(1, len(b) - n + 1))}
    return len(ga & gb) / max(1, len(ga | gb))


NEAR_DUPLICATE = {"en": (3, 0.7), "zh": (2, 0.6)}  # (n-gram size, Jaccard threshold)


def duplicate_reason(text: str, kept: Sequence[str], language: str) -> str | None:
    """Why `text` duplicates one of the texts already kept (exact after normalising, or near)."""
    n, threshold = NEAR_DUPLICATE.get(language, NEAR_DUPLICATE["en"])
    key = normalise(text)
    for other in kept:
        if key == normalise(other):
            return f"duplicate: same as {other!r}"
        similarity = ngram_jaccard(text, other, n)
        if similarity >= threshold:
            return f"near duplicate: {similarity:.2f} similar to {other!r}"
    return None


# ---------------------------------------------------------------- combined


@dataclass(frozen=True)
class Guardrails:
    """All checks for one product; a candidate's reasons are the concatenation of every failed check."""

    product: Product
    facts: ProductFacts
    limit: LengthLimit = HEADLINE
    allowed_latin: tuple[str, ...] = field(default=())
    words: ProductWords | None = None
    brand_banned: tuple[str, ...] = ()  # the product's brand kit's banned words

    @classmethod
    def for_product(cls, product: Product, brands: Iterable[str] = (), limit: LengthLimit = HEADLINE,
                    brand_banned: Iterable[str] = ()) -> "Guardrails":
        latin = tuple(w for w in re.findall(r"[A-Za-z][A-Za-z0-9]*", " ".join([product.name, product.brand, *product.features])))
        return cls(product=product, facts=ProductFacts.of(product, brands), limit=limit, allowed_latin=latin, words=ProductWords.of(product),
                   brand_banned=tuple(brand_banned))

    def check_title(self, text: str, finished: bool = True) -> list[str]:
        lang = self.product.language
        return [
            *check_quality(text, lang, finished=finished, title=True, allowed_latin=self.allowed_latin),
            *check_length(text, self.limit),
            *check_facts(text, self.facts),
            *check_banned(text, lang, self.brand_banned),
            *self.check_names(text),
            *check_cut_feature(text, self.product.features, lang),
        ]

    def check_names(self, text: str) -> list[str]:
        """Entity and category checks: the title names only this product, its brand and its kind."""
        words = self.words or ProductWords.of(self.product)
        return [*check_entities(text, words), *check_name_case(text, words), *check_kind(text, words), *check_brand_offer(text, words)]

    def check_grounding(self, text: str, names_only: bool = False) -> list[str]:
        """The title says something about this product (see entities.check_grounding); its own sale price or discount does."""
        stated = {float(m.group("num").replace(",", "")) for m in _NUMBER.finditer(text)}
        if not names_only and any(_member(v, self.facts.prices | self.facts.discounts | self.facts.zhe) for v in stated) and (
                self.facts.sale_price is not None or self.facts.discounts):
            return []
        return check_grounding(text, self.words or ProductWords.of(self.product), names_only)

    def check_article_text(self, text: str) -> list[str]:
        """Facts, banned claims and overall length of an assembled article."""
        lang = self.product.language
        reasons = [*check_facts(text, self.facts), *check_banned(text, lang, self.brand_banned)]
        n, (low, high), unit = article_length(text, lang)
        if not low <= n <= high:
            reasons.append(f"length: {n} {unit}, outside {low}-{high}")
        return reasons

    def check_section(self, text: str, finished: bool = True) -> list[str]:
        lang = self.product.language
        return [
            *check_quality(text, lang, finished=finished, title=False, allowed_latin=self.allowed_latin),
            *check_facts(text, self.facts),
            *check_banned(text, lang, self.brand_banned),
        ]
