"""The article adapter's data and loading: held-out products, checked sentences, the prompt it learned, the right base."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from creative.catalog import parse_catalog
from creative.copy.article import phrases, tuning
from creative.copy.article.plan import plan_article
from creative.copy.model import LanguageModel

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ROOT / "creative/copy/data/train"
EVALUATED = (ROOT / "assets/samples/catalog_en.json", ROOT / "assets/samples/catalog_zh.json", ROOT / "creative/copy/data/eval/articles_catalog.json")


def _load(path: Path):
    return parse_catalog(path, resolve_image=lambda ref: ref)


@pytest.fixture(scope="module")
def training_products():
    return _load(TRAIN / "products_en.json")


def test_no_training_product_or_feature_is_one_the_article_benchmark_judges(training_products):
    judged = [p for path in EVALUATED for p in _load(path)]
    assert {p.name.casefold() for p in training_products}.isdisjoint(p.name.casefold() for p in judged)
    assert {f.casefold() for p in training_products for f in p.features}.isdisjoint(f.casefold() for p in judged for f in p.features)


def test_the_worksheet_asks_for_each_point_and_scene_from_the_starts_the_writer_uses(training_products):
    product = training_products[0]
    items = tuning.worksheet([product])
    plan = plan_article(product, list(product.keywords))
    for item in items:
        slot, follow = (next(s for s in plan.slots if s.section == item["section"] and s.role == role and s.fact.text == item["feature"]
                             and s.keyword == item["keyword"]) for role in ("opener", "follow"))
        starts = phrases.render(phrases.bank(phrases.opener_bank(slot.section, slot.role, slot.fact), product, kind="openers"),
                                phrases.slots_for(product, slot.fact, slot.keyword))
        follows = phrases.render(phrases.bank(phrases.opener_bank(follow.section, follow.role, follow.fact), product, kind="openers"),
                                 phrases.slots_for(product, follow.fact, follow.keyword))
        assert item["first_start"] in starts and item["second_start"] in follows
    assert {i["section"] for i in items} == {"point", "scene"}
    assert len({i["id"] for i in items}) == len(items)


def _row(product, index=0, **sentences):
    item = tuning.worksheet([product])[index]
    return {**item, **sentences}


def test_a_written_pair_that_passes_the_writers_checks_becomes_two_examples(training_products):
    product = training_products[0]
    row = _row(product)
    row["first"] = row["first_start"] + " lets you step onto a wet platform without a second thought."
    row["second"] = row["second_start"] + " you can keep your pace when the path turns slick."
    good, bad = tuning.examples([product], [row])
    assert bad == [] and len(good) == 2
    assert good[1].previous == good[0].sentence  # the follow learns to continue the sentence before it
    assert good[0].written.startswith(" lets you")


def test_sentences_that_break_the_writers_rules_are_refused_with_why_and_their_follow_is_not_trained(training_products):
    product = training_products[0]
    wrong_start = _row(product, first="It lets you walk on wet stone without slipping at all.",
                       second="That means you can walk to the station in a storm.")
    number = _row(product, 1)
    number["first"] = number["first_start"] + " lets you walk for 3 hours on wet stone without slipping."
    number["second"] = number["second_start"] + " you can keep your pace when the path turns slick."
    good, bad = tuning.examples([product], [wrong_start, number])
    reasons = {row["id"]: why for row, why in bad}
    assert "does not begin with its start" in reasons[f"{wrong_start['id']}:first"][0]
    assert any("number" in r for r in reasons[f"{number['id']}:first"])
    assert good == []  # the follows were fine but follow a refused sentence


def test_the_shipped_training_sentences_pass_the_writers_checks():
    rows = [json.loads(line) for line in (TRAIN / "sentences_en.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    good, bad = tuning.examples(_load(TRAIN / "products_en.json"), rows)
    assert len(good) >= 1000
    assert len(bad) <= 0.02 * 2 * len(rows), [(row["id"], why) for row, why in bad[:5]]


def test_the_adapter_prompt_carries_only_the_sentences_facts_and_no_examples(training_products):
    product = training_products[0]
    plan = plan_article(product, list(product.keywords))
    slot = next(s for s in plan.slots if s.section == "scene")
    messages = tuning.messages(product, slot.fact, slot.keyword, None, "With it in mind,")
    assert [m["role"] for m in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert f"Feature: {slot.fact.text}" in user and f"Moment: {slot.keyword}" in user
    assert not any(other.text in user for other in slot.others)


def test_the_adapter_is_merged_only_into_the_model_it_was_trained_on():
    other = LanguageModel(name="some-other-model", model=None, tokenizer=None, dtype=None)
    assert tuning.with_adapter(other) is other
    assert tuning.adapter_base() == "SmolLM2-135M-Instruct"
