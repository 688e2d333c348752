"""The article plan: which sentence says what, and exactly which catalog facts it may use.

A 135M model writes a good sentence but not a good paragraph, so an article is planned as a list of
sentence slots (headline, lead, one section per selling point, one scene per keyword, call to action)
and each slot is written on its own. Keywords are matched to the facts they can be written about; a
keyword no fact fits is reported instead of being forced into a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from creative.catalog import Product
from creative.copy.errors import CopyError

POINTS = 3  # selling points: the first three catalog features
# Sentences after a point's first: Chinese sentences are short, and an article needs 300 characters.
FOLLOWS = {"en": 1, "zh": 2}

# Kinds of feature, checked in order: each has its own phrase banks and scene affinities.
KIND_PATTERNS: dict[str, tuple[tuple[str, str], ...]] = {
    "en": (
        ("charging", r"usb|charging|wireless charg"),
        ("battery", r"battery|\bhours?\b.*(?:play|listen)|-hour"),
        ("noise", r"noise|quiet|silent"),
        ("temperature", r"cold|hot|warm|insulat|thermal"),
        ("seal", r"leak|spill|airtight"),
        ("water", r"water|rain|weatherproof|splash"),
        ("volume", r"^\d+(?:\.\d+)?\s?ml$"),
        ("capacity", r"capacity|\b\d+(?:\.\d+)?\s?(?:ml|l)\b|litre|liter|holds"),
        ("weight", r"weigh|\b\d+\s?g\b|gram|lightweight"),
        ("grip", r"non-slip|anti-slip|grip"),
        ("design", r"sleeve|strap|lid|pocket|spout|closure|button|cuff"),
        ("comfort", r"padded|cushion|soft|comfort|breathable|ergonomic|midsole"),
        ("material", r"mesh|fabric|leather|glass|sapphire|clay|cotton|wool|merino|steel|canvas|linen|knit|wood|bamboo"),
        ("light", r"lumen|beam|bright|led\b"),
        ("design", r"fold|design|compact|slim|washable"),
    ),
    "zh": (
        ("battery", r"续航|电池|充电"),
        ("noise", r"降噪|静音"),
        ("temperature", r"保温|保冷|恒温"),
        ("seal", r"防漏|密封|防洒"),
        ("water", r"防水|防泼水"),
        ("capacity", r"容量|毫升|升"),
        ("weight", r"重\d|克|轻盈"),
        ("grip", r"防滑"),
        ("comfort", r"缓震|透气|柔软|亲肤|舒适|厚度"),
        ("material", r"网面|紫砂|拉坯|羊毛|皮|陶|棉|不锈钢|麻"),
        ("design", r"折叠|收纳|出水|便携|背带|机洗|设计|小巧"),
    ),
}

# Which kinds of fact a usage scene can honestly be written about. A keyword missing here fits a fact
# only when the fact (or the product's name or category) mentions it.
SCENE_KINDS: dict[str, tuple[str, ...]] = {
    "commute": ("noise", "battery", "charging", "weight", "water", "seal", "design", "capacity", "comfort", "temperature", "light"),
    "running": ("comfort", "weight", "material"),
    "travel": ("capacity", "battery", "charging", "noise", "water", "seal", "weight"),
    "gym": ("grip", "volume", "capacity", "temperature", "seal", "comfort", "design"),
    "outdoors": ("water", "seal", "temperature", "battery", "light", "volume", "capacity", "weight"),
    "music": ("noise", "battery", "design", "water"),
    "gift": ("material", "design", "comfort", "noise", "temperature", "battery", "water", "seal", "volume", "capacity", "weight", "light", "grip", "charging"),
    "office": ("material", "design", "water", "seal", "noise", "comfort"),
    "camping": ("light", "battery", "water", "capacity", "weight"),
    "hiking": ("light", "weight", "water", "battery", "capacity", "comfort"),
    "coffee": ("capacity", "design", "material", "temperature"),
    "kitchen": ("capacity", "material", "design", "temperature"),
    "yoga": ("comfort", "grip", "design", "weight", "material"),
    "cycling": ("light", "battery", "charging", "water", "design"),
    "sleep": ("comfort", "material", "design"),
    "通勤": ("noise", "battery", "weight", "comfort", "temperature", "design", "capacity", "water", "seal"),
    "跑步": ("comfort", "weight", "material"),
    "送礼": ("material", "design", "comfort", "capacity", "temperature", "noise", "battery", "water", "seal", "weight"),
    "品茶": ("material", "design", "capacity"),
    "音乐": ("noise", "battery", "water", "design"),
    "户外": ("water", "seal", "temperature", "battery", "weight", "capacity", "design"),
    "冬季": ("material", "comfort", "temperature"),
    "瑜伽": ("comfort", "grip", "design", "weight"),
    "健身": ("grip", "comfort", "design", "capacity", "weight"),
}

_CLAUSE_VERBS = {"weighs", "keeps", "holds", "lasts", "folds", "fits", "charges", "dries", "packs"}
_ADJECTIVE = re.compile(r"^(?:(?:water[- ]resistant|waterproof)(?: to\b|$)|machine washable$|dishwasher safe$)", re.IGNORECASE)


def feature_kind(feature: str, language: str) -> str:
    """The kind of a catalog feature (battery, material, ...), 'general' when none matches."""
    for kind, pattern in KIND_PATTERNS["zh" if language == "zh" else "en"]:
        if re.search(pattern, feature, re.IGNORECASE):
            return kind
    return "general"


def feature_form(feature: str, language: str) -> str:
    """How an English feature reads in a sentence: 'noun' (a 30-hour battery), 'clause' (weighs 240 g), 'adjective'
    (water resistant to 50 m) or 'quantity' (750 ml)."""
    if language == "zh":
        return "noun"
    first = feature.split()[0].lower() if feature.split() else ""
    if re.fullmatch(r"\d+(?:\.\d+)?\s?ml", feature.strip(), re.IGNORECASE):
        return "quantity"  # "750 ml": 'holds 750 ml' in a sentence, never 'the 750 ml'
    if first in _CLAUSE_VERBS:
        return "clause"
    if _ADJECTIVE.match(feature):
        return "adjective"
    return "noun"


@dataclass(frozen=True)
class Fact:
    """One catalog feature as a sentence may use it."""

    text: str
    kind: str
    form: str


@dataclass(frozen=True)
class Slot:
    """One sentence to write: its section, its role in the section and the only facts it may use."""

    section: str  # headline | lead | point | scene | cta
    role: str  # title | opener | follow | price
    fact: Fact | None = None
    keyword: str | None = None
    group: int = 0  # which section of the article (points and scenes repeat)
    others: tuple[Fact, ...] = ()  # the product's other facts: what this sentence must NOT be about (contrast)


@dataclass(frozen=True)
class KeywordFit:
    """A keyword and the fact its scene is written about, or why it has none."""

    keyword: str
    fact: Fact | None
    reason: str
    stand_in: bool = False  # a catalog keyword written because none of the keywords asked for fits a fact


@dataclass(frozen=True)
class ArticlePlan:
    product: Product
    keywords: tuple[str, ...]
    slots: tuple[Slot, ...]
    fits: tuple[KeywordFit, ...] = field(default=())

    @property
    def unfit(self) -> tuple[KeywordFit, ...]:
        return tuple(f for f in self.fits if f.fact is None)

    @property
    def notes(self) -> list[str]:
        """What the plan did with the keywords that a reader of the article should know: left out, or stood in for."""
        return [f.reason for f in self.fits if f.fact is None or f.stand_in]


def _fits(keyword: str, fact: Fact, product: Product) -> bool:
    kinds = SCENE_KINDS.get(keyword.lower())
    if kinds is not None:
        return fact.kind in kinds
    # an unknown keyword fits only a fact that says it in so many words
    stem = keyword.lower().rstrip("s")
    return bool(stem) and stem in f"{fact.text} {product.category}".lower()


def match_keywords(product: Product, keywords: list[str], facts: list[Fact]) -> tuple[KeywordFit, ...]:
    """Each keyword with the best fact for its scene (a different fact per keyword when there is one)."""
    out, used = [], set()
    for keyword in keywords:
        kinds = SCENE_KINDS.get(keyword.lower(), ())
        fitting = [f for f in facts if _fits(keyword, f, product)]
        fitting.sort(key=lambda f: (f.text in used, kinds.index(f.kind) if f.kind in kinds else len(kinds)))
        if fitting:
            used.add(fitting[0].text)
            out.append(KeywordFit(keyword, fitting[0], f"{keyword!r} is written about {fitting[0].text!r} ({fitting[0].kind})"))
        else:
            known = "no scene of this kind is known and no fact mentions it" if keyword.lower() not in SCENE_KINDS else \
                f"it suits {', '.join(SCENE_KINDS[keyword.lower()][:4])} facts and this product has none"
            out.append(KeywordFit(keyword, None, f"keyword {keyword!r} fits no fact of {product.product_id}: {known}; left out"))
    return tuple(out)


def plan_article(product: Product, keywords: list[str]) -> ArticlePlan:
    """Headline, lead, a section per selling point, a scene per fitting keyword, call to action."""
    if not product.features:
        raise CopyError(f"product {product.product_id} has no features to write about; add features to the catalog")
    keywords = list(dict.fromkeys(k.strip() for k in keywords if k.strip()))
    facts = [Fact(f, feature_kind(f, product.language), feature_form(f, product.language)) for f in product.features[:POINTS]]
    fits = match_keywords(product, keywords, facts)
    if not any(f.fact for f in fits):  # an article without a scene is too short to publish: a catalog keyword stands in
        spare = [k for k in product.keywords if k not in keywords]
        stand_in = next((f for f in match_keywords(product, spare, facts) if f.fact is not None), None)
        if stand_in is not None:
            asked = f"none of the keywords asked for ({', '.join(keywords)}) fits" if keywords else "no keyword was asked for that fits"
            fits += (KeywordFit(stand_in.keyword, stand_in.fact, f"{asked} a fact, so the catalog keyword {stand_in.keyword!r} has "
                                f"the usage scene (written about {stand_in.fact.text!r})", stand_in=True),)
    slots = [Slot("headline", "title"), Slot("lead", "opener"), Slot("lead", "follow")]
    follows = FOLLOWS[product.language]
    for i, fact in enumerate(facts):
        others = tuple(f for f in facts if f is not fact)
        slots += [Slot("point", "opener", fact, group=i, others=others), *[Slot("point", "follow", fact, group=i, others=others)] * follows]
    for i, fit in enumerate(f for f in fits if f.fact is not None):
        others = tuple(f for f in facts if f is not fit.fact)
        slots += [Slot("scene", "opener", fit.fact, fit.keyword, group=i, others=others),
                  Slot("scene", "follow", fit.fact, fit.keyword, group=i, others=others)]
    slots += [Slot("cta", "price"), Slot("cta", "follow")]
    return ArticlePlan(product, tuple(keywords), tuple(slots), fits)
