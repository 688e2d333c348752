"""One section of an article at a time: which plan slots write it, its model drafts, and the checks on a reviewer's text.

A section is named by its kind and what it is about (a point's fact, a scene's keyword), so it can be
found again in a fresh plan of the same product and keywords and written anew on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from creative.copy.article.assemble import _heading as assemble_heading  # one rule for headings
from creative.copy.article.checks import section_reasons
from creative.copy.article.generate import Article
from creative.copy.article.plan import ArticlePlan, Slot
from creative.copy.article.variety import Ledger, sentences
from creative.copy.guardrails import Guardrails
from creative.copy.limits import cjk_count, word_count

# A reviewer's section text, at most (words for en, characters for zh): a section is a short paragraph.
MAX_SECTION = {"en": 160, "zh": 400}


@dataclass(frozen=True)
class SectionKey:
    """What a section is about: its kind, and the fact or keyword of a point or scene."""

    kind: str
    fact: str | None = None
    keyword: str | None = None

    @classmethod
    def of(cls, slot: Slot) -> "SectionKey":
        return cls(slot.section, slot.fact.text if slot.fact else None, slot.keyword)


def section_plan(plan: ArticlePlan, key: SectionKey) -> ArticlePlan | None:
    """The plan cut down to the slots of one section; None when the plan has no such section (the catalog changed)."""
    slots = tuple(s for s in plan.slots if SectionKey.of(s) == key)
    return ArticlePlan(plan.product, plan.keywords, slots, plan.fits) if slots else None


def section_drafts(article: Article, key: SectionKey, limit: int = 12) -> list[dict]:
    """The model's unused sentences for one section, with why each was not used (the first `limit`)."""
    out = [{"text": d.text, "reasons": list(d.reasons)} for d in article.drafts if SectionKey.of(d.slot) == key]
    return out[:limit]


def edited_reasons(text: str, kind: str, guard: Guardrails, others: list[str], elsewhere: list[str] = ()) -> list[str]:
    """Why a section's new text (a reviewer's, or written again) cannot stand: the guardrails and the writer's checks.

    `others` are the article's other sections (no repeated sentence, no echoed phrase); `elsewhere` the
    product's other articles (no repeated sentence: common phrases across articles are fine).
    """
    p, language = guard.product, guard.product.language
    size = cjk_count(text) if language == "zh" else word_count(text)
    most = MAX_SECTION["zh" if language == "zh" else "en"]
    reasons = section_reasons(text, kind, guard, others)
    if size > most:
        reasons.append(f"length: {size} {'characters' if language == 'zh' else 'words'}, more than {most} for one section")
    ledger = Ledger.for_product(p, elsewhere)
    for sentence in sentences(text, language):
        why = ledger.reason(sentence)
        if why:
            reasons.append(f"{why} (in another article of {p.product_id})")
    return list(dict.fromkeys(reasons))


def recovered_keys(plan: ArticlePlan, kinds: list[str]) -> list[SectionKey]:
    """What each section of an article stored without that was about (`kinds` in the article's order): the plan's
    sections of each kind, in order. A kind whose count differs from the plan's stays unknown (fact and keyword None)."""
    planned = list(dict.fromkeys(SectionKey.of(s) for s in plan.slots))
    out: list[SectionKey] = []
    for i, kind in enumerate(kinds):
        options = [k for k in planned if k.kind == kind]
        nth = kinds[:i].count(kind)
        out.append(options[nth] if len(options) == kinds.count(kind) else SectionKey(kind))
    return out


def heading(key: SectionKey) -> str | None:
    """The heading an assembled section of this kind gets (a point's fact, a scene's keyword)."""
    return assemble_heading(key.kind, key.fact, key.keyword)
