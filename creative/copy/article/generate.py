"""Writing an article sentence by sentence: the model finishes catalog-filled starts, grammar stands in.

For each slot of the plan the model sees a narrow prompt (the product, the one fact, the keyword, the
previous sentence) and continues a start filled from the catalog, so numbers, prices and names are
never sampled. Several candidates are drawn; each passes the guardrails and the sentence checks, then
the survivors are ranked by fluency plus contrastive relevance: how much more likely the model finds
the words given this fact than given the product's other facts. A slot the model cannot fill gets a
sentence from the grammar's phrase banks, labelled as grammar.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Iterable

from creative.catalog import Product
from creative.copy.article import phrases
from creative.copy.article.checks import echo_reason, first_sentence, guarded, sentence_reasons
from creative.copy.article.plan import ArticlePlan, Fact, Slot
from creative.copy.article.variety import Ledger
from creative.copy.guardrails import Guardrails, check_length
from creative.copy.limits import LONG_HEADLINE
from creative.copy.model import LanguageModel, SamplingConfig
from creative.copy.templates import render_messages

SAMPLING = SamplingConfig(temperature=0.6, top_k=40, top_p=0.9, max_new_tokens=32, stop_at_newline=True)
# Below this mean token log-probability the model's sentence is usually word salad.
MIN_MEAN_LOGPROB = -2.6
# A sentence must be more likely for its own fact than for the product's others (nats per token).
# Measured on real output: off-topic filler ("You are a creative AI ...") scores about 0.02, on-topic sentences 0.1-1.2.
MIN_RELEVANCE = 0.1
RELEVANCE_WEIGHT = 2.0
# The model writes the points and the scenes, where a fact and a contrast keep it on topic; the headline, lead and
# call to action are catalog-filled phrase-bank sentences (the model's leads invented product lines and prices).
MODEL_SECTIONS = ("point", "scene")


@dataclass
class Sentence:
    """One sentence of the article and who wrote it: the model (lm) or the phrase banks (grammar)."""

    slot: Slot
    text: str
    engine: str
    written: str = ""  # the model's part, after the catalog-filled start
    loglik: float | None = None
    relevance: float | None = None

    @property
    def score(self) -> float | None:
        if self.loglik is None:
            return None
        return round(self.loglik + RELEVANCE_WEIGHT * (self.relevance or 0.0), 4)


@dataclass
class Draft:
    """A model candidate that was not used, with why."""

    slot: Slot
    text: str
    reasons: list[str]
    loglik: float | None = None
    relevance: float | None = None


@dataclass
class Article:
    plan: ArticlePlan
    sentences: list[Sentence]
    drafts: list[Draft] = field(default_factory=list)
    seconds: float = 0.0
    unwritten: list[Slot] = field(default_factory=list)  # slots no engine could fill
    repeated: list[Slot] = field(default_factory=list)  # of those, the ones a bank line would have filled but for repeating

    @property
    def headline(self) -> str:
        return next((s.text for s in self.sentences if s.slot.section == "headline"), "")

    @property
    def product(self) -> Product:
        return self.plan.product


def used_up(article: Article) -> list[str]:
    """Why the article cannot go out headless: every headline the phrase banks can write is in its earlier articles, or
    none fits at all (a product name too long for the long_headline limit).

    Other parts may run out too (the lead, the price sentence); the article is then only shorter.
    """
    if not any(s.section == "headline" for s in article.unwritten):
        return []
    p = article.product
    if not any(s.section == "headline" for s in article.repeated):  # nothing was used before: no headline ever fits
        return [f"no headline: none the phrase banks can write for {p.product_id} fits the {LONG_HEADLINE.name} limit "
                f"({LONG_HEADLINE.max_chars} characters) and the guardrails with its name {p.name!r} ({len(p.name)} characters); "
                "shorten or fix the name in the catalog"]
    return [f"used up: every headline the phrase banks can write for {p.product_id} is already in its stored "
            "articles (no sentence is written twice); edit or remove an earlier article, or edit this one by hand"]


class ArticleWriter:
    """Writes articles for one product's guardrails; `model` None means the grammar engine alone."""

    def __init__(self, guard: Guardrails, model: LanguageModel | None = None, per_sentence: int = 6, seed: int = 0):
        self.guard = guard
        self.model = model
        self.per_sentence = per_sentence
        self.seed = seed
        self._examples: list[str] = []  # the last prompt's example answers: a candidate may not copy them

    @property
    def product(self) -> Product:
        return self.guard.product

    def write(self, plan: ArticlePlan, avoid: Iterable[str] = ()) -> Article:
        """Every slot of the plan, never repeating a sentence of this article or of `avoid`."""
        started = time.perf_counter()
        ledger = Ledger.for_product(self.product, avoid)
        rng = random.Random(f"{self.product.product_id}:{self.seed}:{len(ledger.used)}")
        article = Article(plan, [])
        used_openers: dict[str, int] = {}
        skip: tuple[str, int] | None = None
        for index, slot in enumerate(plan.slots):
            sentence = None
            if self.model is not None and slot.section in MODEL_SECTIONS:
                previous = article.sentences[-1].text if slot.role == "follow" and article.sentences else None
                sentence = self._model_sentence(slot, index, previous, ledger, used_openers, article, rng)
            if sentence is None:
                sentence = self._grammar_sentence(slot, ledger, rng, article.repeated)
            if sentence is None:
                article.unwritten.append(slot)
            if sentence is None and slot.role == "opener" and slot.section in MODEL_SECTIONS:
                skip = (slot.section, slot.group)  # a section without its first sentence is left out whole
            if sentence is not None and (slot.section, slot.group) != skip:
                ledger.add(sentence.text)
                article.sentences.append(sentence)
        article.seconds = time.perf_counter() - started
        return article

    # ------------------------------------------------------------ grammar

    def _grammar_sentence(self, slot: Slot, ledger: Ledger, rng: random.Random, repeated: list[Slot]) -> Sentence | None:
        """A bank line for the slot that is new and passes the checks; None (and the slot in `repeated` when a line
        would have done but for repeating an earlier sentence) when there is none."""
        product = self.product
        names = phrases.price_banks(product) if slot.role == "price" else [phrases.sentence_bank(product, slot.section, slot.role, slot.fact, slot.keyword)]
        if slot.section == "point" and slot.fact is not None:  # a kind's bank can run out: the general bank follows
            names.append(f"{'follow' if slot.role == 'follow' else 'point' if slot.fact.form == 'noun' else 'clause'} general")
        elif slot.section == "scene" and slot.role == "opener" and slot.fact is not None and slot.fact.form == "noun":
            names.append("scene")
        slots = phrases.slots_for(product, slot.fact, slot.keyword)
        repeats = False
        for name in names:
            texts = phrases.render(phrases.bank(name, product), slots)
            rng.shuffle(texts)
            for text in texts:
                if slot.section == "headline" and check_length(text, LONG_HEADLINE):
                    continue
                if ledger.reason(text) is not None:
                    repeats = repeats or not guarded(text, self.guard)
                elif not guarded(text, self.guard):
                    return Sentence(slot, text, "grammar")
        if repeats:
            repeated.append(slot)
        return None

    # ------------------------------------------------------------ model

    def _prompt(self, slot: Slot, fact: Fact | None, keyword: str | None, opener_source: str, previous: str | None) -> tuple[list[int], str]:
        slots = phrases.slots_for(self.product, fact, keyword)
        opener = phrases.render([opener_source], slots)
        if not opener:
            return [], ""
        messages = render_messages(f"article_sentence_{self.product.language}.j2", slots, noun=self.product.category,
                                   fact=None if fact is None else fact.text, keyword=keyword, previous=previous, opener=opener[0])
        self._examples = [m["content"] for m in messages if m["role"] == "assistant"]
        return self.model.chat_prompt(messages, prefix=opener[0]), opener[0]

    def _openers(self, slot: Slot, used: dict[str, int], rng: random.Random) -> list[str]:
        sources = phrases.bank(phrases.opener_bank(slot.section, slot.role, slot.fact), self.product, kind="openers")
        rng.shuffle(sources)
        return sorted(sources, key=lambda s: used.get(s, 0))  # the least used start first, for variety

    def _model_sentence(self, slot: Slot, index: int, previous: str | None, ledger: Ledger, used: dict[str, int],
                        article: Article, rng: random.Random) -> Sentence | None:
        lang, drafts = self.product.language, article.drafts
        article_so_far = [s.text for s in article.sentences]
        for source in self._openers(slot, used, rng)[:1]:
            ids, opener = self._prompt(slot, slot.fact, slot.keyword, source, previous)
            if not ids:
                continue
            used[source] = used.get(source, 0) + 1
            config = SamplingConfig(**{**SAMPLING.__dict__, "seed": self.seed * 1000 + index})
            passed: list[tuple[str, str, float]] = []
            for g in self.model.generate(ids, self.per_sentence, config):
                joined = opener + g.text if lang == "zh" else " ".join((opener + g.text).split())
                sentence = first_sentence(joined, line_ended=g.finished and lang == "en")
                if sentence is None or len(sentence) <= len(opener):
                    drafts.append(Draft(slot, joined, ["cut off: no finished sentence"], round(g.mean_logprob, 4)))
                    continue
                written = sentence[len(opener):]
                reasons = sentence_reasons(sentence, written, self.guard)
                if g.mean_logprob < MIN_MEAN_LOGPROB:
                    reasons.append(f"garbled: the model was unsure of its own text (mean log-prob {g.mean_logprob:.2f})")
                copied = echo_reason(written, self._examples, lang)
                if copied:
                    reasons.append(copied.replace("an earlier sentence", "the prompt's example"))
                repeat = ledger.reason(sentence) or echo_reason(written, article_so_far, lang) or next((f"duplicate: same as another candidate {p[0]!r}" for p in passed if p[0] == sentence), None)
                if repeat:
                    reasons.append(repeat)
                if reasons:
                    drafts.append(Draft(slot, sentence, reasons, round(g.mean_logprob, 4)))
                else:
                    passed.append((sentence, written, g.mean_logprob))
            best = self._rank(slot, source, previous, ids, passed, drafts)
            if best is not None:
                return best
        return None

    def _rank(self, slot: Slot, source: str, previous: str | None, ids: list[int], passed: list[tuple[str, str, float]],
              drafts: list[Draft]) -> Sentence | None:
        """The most fluent candidate among those more likely for this fact than for the product's others."""
        if not passed:
            return None
        written = [w for _, w, _ in passed]
        own = self.model.score(ids, written)
        contrast = [float("-inf")] * len(passed)
        against: list[str] = [""] * len(passed)
        for other in slot.others:
            other_ids, _ = self._prompt(slot, other, slot.keyword, source, previous)
            if not other_ids:
                continue
            for i, lp in enumerate(self.model.score(other_ids, written)):
                if lp > contrast[i]:
                    contrast[i], against[i] = lp, other.text
        best: Sentence | None = None
        for (sentence, part, _), lp, other_lp, other in zip(passed, own, contrast, against):
            relevance = None if other_lp == float("-inf") else round(lp - other_lp, 4)
            if relevance is not None and relevance < MIN_RELEVANCE:
                drafts.append(Draft(slot, sentence, [f"not specific: as likely about {other!r} (relevance {relevance:.2f})"], round(lp, 4), relevance))
                continue
            candidate = Sentence(slot, sentence, "lm", part, round(lp, 4), relevance)
            if best is None or candidate.score > best.score:
                if best is not None:
                    drafts.append(Draft(best.slot, best.text, ["ranked: a better candidate was chosen"], best.loglik, best.relevance))
                best = candidate
            else:
                drafts.append(Draft(slot, sentence, ["ranked: a better candidate was chosen"], round(lp, 4), relevance))
        return best
