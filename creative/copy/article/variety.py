"""Variety: sentences never repeat within an article or across a product's articles; distinct-2 per article."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from creative.catalog import Product
from creative.copy.guardrails import duplicate_reason, normalise

_EN_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")
_ZH_SENTENCE = re.compile(r"(?<=[。！？])")


def sentences(text: str, language: str) -> list[str]:
    """The sentences of a text (paragraph breaks end a sentence too, so a headline is one)."""
    out = []
    for para in text.split("\n"):
        parts = _ZH_SENTENCE.split(para) if language == "zh" else _EN_SENTENCE.split(para)
        out += [p.strip() for p in parts if p.strip()]
    return out


def units(text: str, language: str) -> list[str]:
    """Words (en) or CJK characters and Latin words (zh): the tokens distinct-n counts."""
    if language == "zh":
        return re.findall(r"[\u3400-\u9fff]|[A-Za-z0-9]+", text)
    return re.findall(r"[a-z0-9]+(?:['’-][a-z0-9]+)*", text.lower())


def distinct_n(text: str, language: str, n: int = 2) -> float:
    """Share of distinct n-grams among all n-grams (1.0: nothing repeats)."""
    toks = units(text, language)
    grams = [tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def repeated_sentences(texts: Iterable[str]) -> list[str]:
    """Sentences that occur more than once (after folding case, spacing and punctuation)."""
    seen, out = set(), []
    for s in texts:
        key = normalise(s)
        if key in seen and s not in out:
            out.append(s)
        seen.add(key)
    return out


@dataclass
class Ledger:
    """The sentences already used for one product (this article and the earlier ones); refuses repeats.

    Sentences are compared with the product's own phrases (name, brand, features) blanked out, so a
    sentence that only swaps one feature for another counts as a repeat.
    """

    language: str
    masks: tuple[str, ...] = ()
    used: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, language: str, earlier: Iterable[str] = (), masks: Iterable[str] = ()) -> "Ledger":
        ledger = cls(language, tuple(sorted((m for m in masks if m), key=len, reverse=True)))
        for text in earlier:
            for sentence in sentences(text, language):
                ledger.add(sentence)
        return ledger

    @classmethod
    def for_product(cls, product: Product, earlier: Iterable[str] = ()) -> "Ledger":
        """The ledger of `earlier` for one product, its own phrases (name, brand, features) blanked out."""
        return cls.of(product.language, earlier, masks=(product.name, product.brand, *product.features))

    def _blank(self, text: str) -> str:
        for phrase in self.masks:
            text = re.sub(re.escape(phrase), "·", text, flags=re.IGNORECASE)
        return text

    def reason(self, text: str) -> str | None:
        """Why this sentence repeats one already used, or None."""
        why = duplicate_reason(self._blank(text), self.used, self.language)
        return why.replace("·", "…") if why else None

    def add(self, text: str) -> None:
        self.used.append(self._blank(text))
