"""The article adapter's data: the prompt it was trained on, the sentence starts to write for, the checked examples.

The embedded 135M model, prompted with examples, mostly wrote puffery or nonsense for an article's
sentences (8 of 66 labelled sections publishable). A LoRA adapter trained on hand-written sentences for
invented products (none in the evaluation catalogs) teaches it the task itself: finish a catalog-filled
start with one concrete thing the feature does. Training and writing share `messages`, so the adapter
always sees the prompt it learned.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from creative.catalog import Product
from creative.copy.article import phrases
from creative.copy.article.checks import first_sentence, sentence_reasons
from creative.copy.article.plan import Fact, Slot, plan_article
from creative.copy.guardrails import Guardrails
from creative.copy.model import GenerationStats
from creative.copy.templates import render_messages

if TYPE_CHECKING:
    from creative.copy.model import LanguageModel

ADAPTER_DIR = Path(__file__).resolve().parent.parent / "data" / "article_adapter"
LORA_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
PROMPT = "article_sentence_tuned_{language}.j2"
TRAINED_SECTIONS = ("point", "scene")


def messages(product: Product, fact: Fact | None, keyword: str | None, previous: str | None, opener: str) -> list[dict[str, str]]:
    """The adapter's prompt for one sentence: the facts it may use and the start it finishes (no examples)."""
    slots = phrases.slots_for(product, fact, keyword)
    return render_messages(PROMPT.format(language=product.language), slots, noun=product.category,
                           fact=None if fact is None else fact.text, keyword=keyword, previous=previous, opener=opener)


def _starts(product: Product, slot: Slot) -> list[str]:
    sources = phrases.bank(phrases.opener_bank(slot.section, slot.role, slot.fact), product, kind="openers")
    return phrases.render(sources, phrases.slots_for(product, slot.fact, slot.keyword))


def worksheet(products: Iterable[Product], pairs: int = 2) -> list[dict]:
    """For every point and scene of each product's article: `pairs` (first start, follow start) to write sentences for."""
    items = []
    for product in products:
        plan = plan_article(product, list(product.keywords))
        groups: dict[tuple[str, int], list[Slot]] = {}
        for slot in plan.slots:
            if slot.section in TRAINED_SECTIONS:
                groups.setdefault((slot.section, slot.group), []).append(slot)
        for (section, group), slots in groups.items():
            opener, follow = slots[0], slots[1]
            firsts, follows = _starts(product, opener), _starts(product, follow)
            for n in range(pairs):
                items.append({"id": f"{product.product_id}/{section}{group}/{'abcd'[n]}", "product_id": product.product_id,
                              "name": product.name, "category": product.category, "section": section, "feature": opener.fact.text,
                              "keyword": opener.keyword, "first_start": firsts[n % len(firsts)],
                              "second_start": follows[(group + n) % len(follows)], "first": "", "second": ""})
    return items


@dataclass(frozen=True)
class Example:
    """One checked training sentence: the prompt's parts and the sentence, whose start came from the worksheet."""

    product: Product
    fact: Fact
    keyword: str | None
    previous: str | None
    opener: str
    sentence: str

    @property
    def written(self) -> str:
        return self.sentence[len(self.opener):]


def _reasons(example: Example, guard: Guardrails) -> list[str]:
    if not example.sentence.startswith(example.opener):
        return [f"does not begin with its start {example.opener!r}"]
    if first_sentence(example.sentence) != example.sentence:
        return ["not exactly one finished sentence"]
    return sentence_reasons(example.sentence, example.written, guard)


def examples(products: Iterable[Product], rows: Iterable[dict]) -> tuple[list[Example], list[tuple[dict, list[str]]]]:
    """The worksheet rows' sentences that pass the writer's own checks, and the refused ones with why."""
    by_id = {p.product_id: p for p in products}
    good: list[Example] = []
    bad: list[tuple[dict, list[str]]] = []
    for row in rows:
        product = by_id[row["product_id"]]
        plan = plan_article(product, list(product.keywords))
        slot = next(s for s in plan.slots if s.section == row["section"] and s.fact and s.fact.text == row["feature"] and s.keyword == row["keyword"])
        guard = Guardrails.for_product(product)
        first = Example(product, slot.fact, slot.keyword, None, row["first_start"], " ".join(row["first"].split()))
        second = Example(product, slot.fact, slot.keyword, first.sentence, row["second_start"], " ".join(row["second"].split()))
        for part, example in (("first", first), ("second", second)):
            reasons = _reasons(example, guard)
            if reasons:
                bad.append(({**row, "id": f"{row['id']}:{part}", "sentence": example.sentence}, reasons))
            elif part == "first" or not _reasons(first, guard):  # a follow is trained only after a sentence that passed
                good.append(example)
    return good, bad


def token_ids(model, example: Example) -> tuple[list[int], list[int]]:
    """The whole sequence and its trained tail: the written part of the sentence and the end of the turn."""
    prompt = model.chat_prompt(messages(example.product, example.fact, example.keyword, example.previous, example.opener),
                               prefix=example.opener)
    tok = model.tokenizer
    end = tok.convert_tokens_to_ids("<|im_end|>")
    target = tok(example.written, add_special_tokens=False)["input_ids"] + [end if isinstance(end, int) and end >= 0 else tok.eos_token_id]
    return prompt + target, target


def adapter_base() -> str | None:
    """The model the shipped adapter was trained on, None when no adapter is shipped."""
    meta = ADAPTER_DIR / "training.json"
    return json.loads(meta.read_text(encoding="utf-8"))["base"] if meta.is_file() else None


@cache
def adapter_fingerprint() -> str:
    """A short hash of the shipped adapter's weights ('' when none): cached copy is written again when they change."""
    weights = ADAPTER_DIR / "adapter_model.safetensors"
    return hashlib.sha256(weights.read_bytes()).hexdigest()[:16] if weights.is_file() else ""


def with_adapter(base: "LanguageModel") -> "LanguageModel":
    """A copy of `base` with the article adapter merged into its weights; `base` itself when the adapter was trained
    on another model (a `--model DIR` of another family keeps the prompt with examples)."""
    if base.adapter is not None or adapter_base() != base.name:
        return base
    import copy

    from peft import PeftModel

    merged = PeftModel.from_pretrained(copy.deepcopy(base.model), ADAPTER_DIR).merge_and_unload()
    merged.eval()
    return replace(base, model=merged, adapter=ADAPTER_DIR.name, stats=GenerationStats(), _newline_ids=None, _stop_ids=None, _piece_chars=None)
