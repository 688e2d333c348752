"""What a title names: this product (its name, brand or an alias), a kind of product, or a name nobody knows.

A title may speak only of this product. A product-like name must be the catalog's name, brand or an
alias; a kind of product (a daypack, 壶) must be one this product is; a word that is neither English
(wordfreq) nor Chinese (jieba's dictionary) nor the catalog's own is an invented name. Checks are pure
functions of the text and a `ProductWords` built once per product.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from creative.catalog import Product
from creative.copy.styles import fact_terms

DATA = "creative.copy.data"
# Zipf frequency (log10 per billion words) under which a word the catalog does not use counts as invented.
RARE_WORD = 2.5
# A capitalised word standing as a name (before a colon, a kind of product or a number) must be at least
# this common, or be the catalog's: "Lumina: 30-hour battery", "Luxe watch" are invented product names.
RARE_NAME = 3.5
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]")
_SPAN_TOKEN = re.compile(r"[A-Z0-9][A-Za-z0-9'’-]*")
_SMALL = {"the", "a", "an", "of", "for", "and", "by", "with", "to", "in", "on", "at", "your", "our", "now", "was", "just", "only"}
_ZH_NUMERALS = "一二两三四五六七八九十百千万半几每"


# ---------------------------------------------------------------- kinds of product (one data file)


@cache
def _data() -> dict:
    return json.loads(resources.files(DATA).joinpath("product_kinds.json").read_text(encoding="utf-8"))


def _kinds() -> dict[str, dict[str, list[str]]]:
    return {k: v for k, v in _data().items() if not k.startswith("_")}


def activity_keywords(product: Product) -> list[str]:
    """Keywords that are things people do ("running", 品茶), not occasions or topics ("gift", 送礼).

    English templates say "made for running", so an English activity must read without an article:
    a gerund or one of the few uncountable ones ("travel"); "made for commute" is not English.
    """
    occasions = {w.casefold() for w in _data()["_occasions"].get(product.language, [])}
    out = [k for k in product.keywords if k.casefold() not in occasions]
    if product.language == "en":
        bare = set(_data()["_bare_activities_en"])
        out = [k for k in out if k.lower().endswith("ing") or k.lower() in bare]
    return out


_CLAUSE = re.compile(r"^[a-z]+[^s\W]s\s")  # "keeps drinks cold", "weighs 240 g": a verb first


def noun_features(product: Product) -> list[str]:
    """Features that read as a noun phrase ("foam midsole"), not a clause or a measure ("weighs 240 g", "750 ml")."""
    if product.language == "zh":
        return [f for f in product.features if not re.search(r"\d", f)]
    return [f for f in product.features if not _CLAUSE.match(f) and not re.search(r"\d", f)]


def kind_nouns(language: str) -> dict[str, str]:
    """Every noun that names a kind of product, mapped to its kind."""
    return {noun: kind for kind, entry in _kinds().items() for noun in entry.get(language, [])}


@cache
def _noun_pattern(language: str) -> re.Pattern:
    nouns = sorted(kind_nouns(language), key=len, reverse=True)
    body = "|".join(re.escape(n) for n in nouns)
    return re.compile(body if language == "zh" else rf"(?<![A-Za-z-])(?:{body})(?![A-Za-z-])", re.IGNORECASE)


def named_kinds(text: str, language: str) -> list[tuple[str, str]]:
    """(noun, kind) for each kind-of-product noun in the text, longest match first."""
    nouns = kind_nouns(language)
    return [(m.group(0), nouns[m.group(0).lower()]) for m in _noun_pattern(language).finditer(text)]


def product_kinds(product: Product) -> frozenset[str]:
    """Kinds the product is: from its name when the name says (a bottle filed under bags), else its category."""
    for source in (product.name, product.category, " ".join(product.features)):
        found = {kind for _, kind in named_kinds(source, product.language)}
        if found:
            return frozenset(found)
    return frozenset()


def kind_noun(product: Product) -> str | None:
    """The head noun of the product's name when it names a kind ("Halo Desk Chair" -> "chair"), else None.

    Not the category: "Northwind shoes, now $69" would offer every Northwind shoe.
    """
    found = named_kinds(product.name, product.language)
    if not found:
        return None
    return found[-1][0].lower() if product.language == "en" else found[-1][0]


def imagery_lines(product: Product, use: str = "imagery") -> list[str]:
    """Lines written for the product's kinds, in its language: poetic imagery, or benefits (`use="benefit"`)."""
    key = f"{use}_{product.language}"
    return [line for kind in sorted(product_kinds(product)) for line in _kinds()[kind].get(key, [])]


# ---------------------------------------------------------------- the product's own words


@dataclass(frozen=True)
class ProductWords:
    """Names a title may use for one product, and every word the catalog says about it."""

    name: str
    brand: str
    aliases: tuple[str, ...]
    vocabulary: frozenset[str]  # casefolded words (en) or phrases (zh) from name, brand, category, features, keywords
    kinds: frozenset[str]
    language: str
    names: tuple[str, ...] = ()  # casefolded name, aliases, brand and kind nouns: what the product is called
    grounds: tuple[str, ...] = ()  # casefolded feature words and activity keywords: what it is about

    @classmethod
    def of(cls, product: Product) -> "ProductWords":
        texts = [product.name, product.brand, product.category, *product.features, *product.keywords]
        if product.language == "zh":
            vocabulary = frozenset(t for t in texts if t)
        else:
            vocabulary = frozenset(w.casefold() for t in texts for w in _EN_WORD.findall(t))
        return cls(name=product.name, brand=product.brand, aliases=aliases(product), vocabulary=vocabulary,
                   kinds=product_kinds(product), language=product.language, names=_names(product), grounds=_grounds(product))

    def knows(self, word: str) -> bool:
        low = word.casefold().replace("’", "'")
        stems = {low, low.removesuffix("'s"), low.removesuffix("s"), low.removesuffix("es")}
        return bool(stems & self.vocabulary) or any(part in self.vocabulary for part in low.split("-") if part)


def _names(product: Product) -> tuple[str, ...]:
    kinds = product_kinds(product)
    nouns = [noun for noun, kind in kind_nouns(product.language).items() if kind in kinds]
    return tuple(dict.fromkeys(t.casefold() for t in (product.name, *aliases(product), product.brand, *nouns) if t))


def _grounds(product: Product) -> tuple[str, ...]:
    """Feature words and the keywords that are not occasions ("gift", "office")."""
    occasions = {w.casefold() for w in _data()["_occasions"].get(product.language, [])}
    terms = [*fact_terms(product), *(k for k in product.keywords if k.casefold() not in occasions)]
    return tuple(dict.fromkeys(t.casefold() for t in terms if t))


def aliases(product: Product) -> tuple[str, ...]:
    """Short forms of the name a title may use: without a trailing size ("Trail Pack") or kind noun ("Quiet One")."""
    words = product.name.split()
    out = []
    if len(words) > 2 and re.search(r"\d", words[-1]):
        out.append(" ".join(words[:-1]))
    if len(words) > 2 and words[-1].lower() in kind_nouns(product.language):
        out.append(" ".join(words[:-1]))
    return tuple(dict.fromkeys(out))


# ---------------------------------------------------------------- checks


def check_kind(text: str, words: ProductWords) -> list[str]:
    """A title naming a kind of product this product is not ("Daypack" for a bottle, 壶 for shoes)."""
    reasons = []
    for noun, kind in named_kinds(text, words.language):
        if kind in words.kinds or _in_vocabulary(noun, words):
            continue
        what = "/".join(sorted(words.kinds)) or "unknown"
        reasons.append(f"category: names {noun!r} ({kind}), but this product is {what}")
    for kind, entry in _kinds().items():
        if kind in words.kinds:
            continue
        for line in entry.get(f"imagery_{words.language}", []):
            if line in text and not any(line in mine for k in words.kinds for mine in _kinds()[k].get(f"imagery_{words.language}", [])):
                reasons.append(f"category: the line {line!r} was written for {kind}, not this product")
    return list(dict.fromkeys(reasons))


def check_grounding(text: str, words: ProductWords, names_only: bool = False) -> list[str]:
    """A title must say something about this product: its name, brand, kind, a feature or an activity keyword.

    A line of occasions alone ("Special gift for work") fits any product, so it sells none. With
    `names_only` (a model's titles) it must name the product, its brand or its kind.
    """
    low = text.casefold()
    terms = words.names if names_only else words.names + words.grounds
    if words.language == "zh":
        found = any(t in low for t in terms)
    else:
        found = any(re.search(rf"(?<![a-z]){re.escape(t)}", low) for t in terms)
    if found:
        return []
    what = "name, brand or kind" if names_only else "name, brand, kind, feature or activity"
    return [f"relevance: says nothing about this product (no {what})"]


def check_brand_offer(text: str, words: ProductWords) -> list[str]:
    """An offer under the brand alone ("Lu, was $250, now $200") reads as a brand-wide sale: name the product."""
    low = text.casefold()
    deal = re.search(r"\d\s*(?:%|％|折)|\b(?:was|now|save|off|sale)\b|原价|现价|直降|立省|特价|特惠", low)
    product_named = any(n in low for n in words.names if n != words.brand.casefold())
    if deal and words.brand.casefold() in low and not product_named:
        return [f"facts: an offer under the brand {words.brand!r} alone reads as a brand-wide sale; name the product"]
    return []


def check_name_case(text: str, words: ProductWords) -> list[str]:
    """The product name and brand written as the catalog writes them ("Stride runner" is not "Stride Runner")."""
    if words.language == "zh":
        return []
    reasons = []
    name = words.name.split()
    pairs = [" ".join(name[i : i + 2]) for i in range(len(name) - 1)] or name
    for piece in [*pairs, words.brand]:
        for m in re.finditer(rf"(?<![A-Za-z]){re.escape(piece)}(?:e?s)?(?![A-Za-z])", text, re.IGNORECASE):
            if m.group(0) != piece:
                reasons.append(f"entity: {m.group(0)!r} is written {piece!r} in the catalog")
    own = {v.lower() for w in [*words.name.split(), *words.brand.split()] for v in (w, w.rstrip("s"), re.sub(r"['’]s$", "", w))}
    for m in re.finditer(r"\b([A-Z][a-z]+)['’]s\b", text):  # "Norton's running shoes": someone else's
        if m.group(1).lower() not in own:
            reasons.append(f"entity: {m.group(0)!r} names someone who is not the product or its brand")
    for m in re.finditer(r"(?<=[a-z0-9,;]\s)([A-Z][a-z]+)", text):  # a capital in mid-sentence marks a name
        if m.group(1).lower() not in own and m.group(1) != "I":
            reasons.append(f"entity: {m.group(1)!r} is capitalised like a name, but it is not the product's")
    label = re.match(r"^\s*([A-Za-z][\w'’-]*(?: [\w'’-]+)?)\s*:", text)  # "Office: 15% off" labels the offer
    if label and not any(label.group(1).lower() == n or label.group(1).lower().rstrip("s") == n for n in words.names):
        reasons.append(f"entity: {label.group(1)!r} before the colon is not the product, its brand or kind")
    return list(dict.fromkeys(reasons))


def _in_vocabulary(noun: str, words: ProductWords) -> bool:
    if words.language == "zh":
        return any(noun in phrase for phrase in words.vocabulary)
    return all(words.knows(w) for w in noun.split())


def check_entities(text: str, words: ProductWords) -> list[str]:
    """Names in the title must be this product's: no invented words, no altered or embellished product name."""
    if words.language == "zh":
        return _zh_entities(text, words)
    return _en_invented(text, words) + _en_name_spans(text, words)


def word_frequency(word: str, language: str) -> float:
    """Zipf frequency of a word in the language (0 when unknown): 3 is about once per million words."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word, language)


def _en_invented(text: str, words: ProductWords) -> list[str]:
    reasons = []
    tokens = _EN_WORD.findall(text)
    for i, word in enumerate(tokens):
        if words.knows(word) or len(word) < 3:
            continue
        parts = [p for p in re.split(r"[-'’]", word) if len(p) > 2]
        freq = min((_en_frequency(p) for p in parts), default=_en_frequency(word))
        if freq < RARE_WORD:
            reasons.append(f"entity: {word!r} is not an English word or a catalog name (invented?)")
        elif word[0].isupper() and freq < RARE_NAME and _stands_as_name(text, word, words):
            reasons.append(f"entity: {word!r} reads as a product name, but the product is {words.name!r} by {words.brand!r}")
    return reasons


def _en_frequency(word: str) -> float:
    """Zipf frequency of the word or of its stem ("hums" -> "hum"): inflections are rarer than their word."""
    low = word.lower()
    stems = {low, low.removesuffix("s"), low.removesuffix("es"), low.removesuffix("ed"), low.removesuffix("ing"), low.removesuffix("ly")}
    return max(word_frequency(s, "en") for s in stems if len(s) > 2)


def _stands_as_name(text: str, word: str, words: ProductWords) -> bool:
    """The word is used as a name: followed by a colon, a kind noun, a number or a word of the product's name."""
    m = re.search(re.escape(word) + r"(?P<after>\s*:|\s+\S+)", text)
    if m is None:
        return len(_EN_WORD.findall(text)) <= 2
    after = m.group("after").strip()
    if after == ":" or after[:1].isdigit() or word.endswith(("'s", "’s")):
        return True
    nxt = after.strip(",.;:!?").lower()
    return nxt in kind_nouns("en") or nxt in {w.lower() for w in words.name.split()}


def _en_name_spans(text: str, words: ProductWords) -> list[str]:
    """A capitalised run sharing a word with the product name must hold the whole name or an alias."""
    name_words = {w.lower() for w in words.name.split()} - _SMALL
    brand_words = {w.lower() for w in words.brand.split()}
    accepted = [words.name, *words.aliases]
    reasons = []
    for span in _spans(text):
        low = [t.lower() for t in span]
        shared = set(low) & name_words
        if not shared or shared <= set(kind_nouns("en")) and len(shared) == 1 and len(low) == 1:
            continue
        joined = " ".join(span).lower()
        full = next((n for n in accepted if re.search(rf"(?<![a-z]){re.escape(n.lower())}(?![a-z])", joined)), None)
        if full is None:
            if len(span) == 1 and len(name_words) > 1 and low[0] in name_words:
                continue  # one word of the name on its own ("Stride", "Quiet") is not an altered name
            reasons.append(f"entity: {' '.join(span)!r} is not the product name {words.name!r}")
            continue
        extra = [t for t in joined.replace(full.lower(), " ").split() if t not in brand_words and t not in _SMALL
                 and t not in kind_nouns("en") and not words.knows(t)]
        if extra:
            reasons.append(f"entity: {' '.join(span)!r} adds {' '.join(extra)!r} to the product name {words.name!r}")
    return reasons


def _spans(text: str) -> list[list[str]]:
    """Runs of capitalised (or numeric) words separated only by spaces: the places a name can stand."""
    out: list[list[str]] = []
    for chunk in re.split(r"[,:;.!?|·—–()\"“”]", text):
        run: list[str] = []
        for token in chunk.split():
            if _SPAN_TOKEN.fullmatch(token) and any(ch.isalpha() for ch in token) or (run and token[:1].isdigit()):
                run.append(token)
            else:
                if run:
                    out.append(run)
                run = []
        if run:
            out.append(run)
    return out


def _zh_entities(text: str, words: ProductWords) -> list[str]:
    reasons = []
    for own in (words.name, words.brand):
        if len(own) < 2 or own in text:
            continue
        for i in range(len(text) - len(own) + 1):
            window = text[i : i + len(own)]
            if sum(a != b for a, b in zip(window, own)) == 1 and len(own) >= 3:
                reasons.append(f"entity: {window!r} looks like a misspelt {own!r}")
    # An unknown word standing right before the product's name or kind reads as another name ("星耀降噪耳机").
    names = [words.name, *(n for n, k in kind_nouns("zh").items() if k in words.kinds)]
    for token in zh_words(text):
        if len(token) < 2 or token[0] in _ZH_NUMERALS or _jieba_knows(token) or any(token in v for v in words.vocabulary):
            continue
        if any(text.find(token + n) >= 0 for n in names):
            reasons.append(f"entity: {token!r} before the product name is not a Chinese word or a catalog name (invented?)")
    return reasons


@cache
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def zh_words(text: str) -> list[str]:
    """Chinese words of a text as jieba segments it (punctuation and Latin dropped)."""
    return [w for w in _jieba().lcut(text) if re.search(r"[\u3400-\u9fff]", w)]


def _jieba_knows(token: str) -> bool:
    return _jieba().dt.FREQ.get(token, 0) > 0


@cache
def _decoys(language: str) -> tuple[Product, ...]:
    data = json.loads(resources.files(DATA).joinpath("decoys.json").read_text(encoding="utf-8"))
    return tuple(Product(**d) for d in data.get(language, []))


def decoy_products(product: Product, n: int = 2) -> list[Product]:
    """Products of other kinds to compare a title against (contrastive relevance)."""
    return [d for d in _decoys(product.language) if not product_kinds(d) & product_kinds(product)][:n]
