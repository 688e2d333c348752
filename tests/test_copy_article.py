"""Articles sentence by sentence: the plan, catalog-filled facts, sentence checks, variety and the formats people paste."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from creative.catalog import Product, parse_catalog
from creative.cli import cli
from creative.copy.article.assemble import render_as
from creative.copy.article.checks import echo_reason, first_sentence, sentence_reasons
from creative.copy.article.plan import feature_form, feature_kind, plan_article
from creative.copy.article.variety import Ledger, distinct_n, repeated_sentences, sentences
from creative.copy.guardrails import Guardrails, normalise
from creative.copy.limits import LONG_HEADLINE
from creative.copy.pipeline import CopyPipeline

ROOT = Path(__file__).resolve().parent.parent
SHOE = Product("SKU-1", "Stride Runner", "Northwind", "shoes", 89.0, 69.0, None, ["breathable mesh upper", "foam midsole", "weighs 240 g"],
               ["running", "commute"], "en", "https://x.example/1")
POT = Product("SKU-2", "紫砂茶壶", "鹿", "家居", 368.0, None, 15, ["手工拉坯", "容量300毫升", "出水顺畅"], ["送礼", "品茶"], "zh", "https://x.example/2")


def _catalog() -> list[Product]:
    paths = ("assets/samples/catalog_en.json", "assets/samples/catalog_zh.json", "creative/copy/data/eval/articles_catalog.json")
    return [p for path in paths for p in parse_catalog(ROOT / path, resolve_image=lambda ref: ref)]


def _numbers(product: Product) -> set[float]:
    """Every number the catalog states, computed here independently of the guardrails."""
    out = {product.price, product.price - (product.sale_price or product.price)}
    if product.sale_price:
        out.add(product.sale_price)
    if product.discount_pct:
        out |= {product.discount_pct, (100 - product.discount_pct) / 10, product.price * (1 - product.discount_pct / 100)}
    for text in (product.name, *product.features):
        out |= {float(x) for x in re.findall(r"\d+(?:\.\d+)?", text)}
    return out


def test_plan_has_a_section_per_feature_a_scene_per_fitting_keyword_and_reports_the_rest():
    plan = plan_article(SHOE, ["running", "commute", "karaoke"])
    order = [(s.section, s.role) for s in plan.slots]
    assert order[:3] == [("headline", "title"), ("lead", "opener"), ("lead", "follow")]
    assert [s.fact.text for s in plan.slots if s.section == "point" and s.role == "opener"] == SHOE.features
    scenes = [s for s in plan.slots if s.section == "scene" and s.role == "opener"]
    assert [s.keyword for s in scenes] == ["running", "commute"]
    assert all(s.fact is not None and s.fact not in s.others for s in scenes)
    assert [f.keyword for f in plan.unfit] == ["karaoke"] and "fits no fact" in plan.unfit[0].reason
    assert order[-2:] == [("cta", "price"), ("cta", "follow")]


def test_features_get_a_kind_and_a_form_that_decide_how_they_are_written():
    assert feature_kind("30-hour battery", "en") == "battery" and feature_kind("leak-proof lid", "en") == "seal"
    assert feature_kind("续航30小时", "zh") == "battery" and feature_kind("防滑表面", "zh") == "grip"
    assert feature_form("weighs 240 g", "en") == "clause" and feature_form("water resistant to 50 m", "en") == "adjective"
    assert feature_form("750 ml", "en") == "quantity" and feature_form("waterproof housing", "en") == "noun"


def test_when_no_keyword_asked_for_fits_a_catalog_keyword_stands_in_so_the_article_is_long_enough():
    plan = plan_article(SHOE, ["karaoke"])
    scenes = [s for s in plan.slots if s.section == "scene"]
    assert {s.keyword for s in scenes} == {"running"} and scenes[0].fact is not None  # the catalog's first fitting keyword
    assert any("none of the keywords asked for (karaoke) fits a fact, so the catalog keyword 'running'" in n for n in plan.notes)
    best = CopyPipeline().article(SHOE, ["karaoke"], engine="grammar")[0]
    assert best.status == "accepted", best.reasons  # without a scene it was 'length: ... words, outside 150-400'
    assert plan_article(SHOE, ["karaoke", "commute"]).notes == [plan_article(SHOE, ["karaoke"]).fits[0].reason]  # one fits: no stand-in


def test_a_keyword_that_fits_no_fact_is_reported_and_not_written():
    best = CopyPipeline().article(SHOE, keywords=["running", "karaoke"], engine="grammar")[0]
    assert best.status == "accepted", best.reasons
    assert "karaoke" not in best.text.lower()
    assert any("'karaoke' fits no fact" in n for n in best.notes)
    assert [s["keyword"] for s in best.sections if s["section"] == "scene"] == ["running"]


@pytest.mark.parametrize("product", _catalog(), ids=lambda p: p.product_id)
def test_numbers_prices_and_names_come_from_the_catalog(product):
    best = CopyPipeline(brands={"Aurora", "Northwind", "Lu", "极光"}).article(product, engine="grammar")[0]
    assert best.status == "accepted", best.reasons
    for number in re.findall(r"\d+(?:,\d{3})*(?:\.\d+)?", best.text):
        assert any(abs(float(number.replace(",", "")) - n) < 0.006 for n in _numbers(product)), (number, best.text)
    cta = best.sections[-1]["text"]
    assert f"{product.price:,.0f}" in cta or f"{product.price:,.2f}" in cta  # the price sentence states the regular price
    assert best.sections[0]["text"].count(product.name) == 1


def test_a_changed_catalog_price_changes_the_article_not_a_sampled_number():
    cheaper = Product(**{**SHOE.__dict__, "sale_price": 59.0})
    text = CopyPipeline().article(cheaper, engine="grammar")[0].sections[-1]["text"]
    assert "$59" in text and "$69" not in text


def test_a_model_sentence_may_not_state_numbers_names_puffery_or_repeat_itself():
    guard = Guardrails.for_product(SHOE, ["Aurora"], LONG_HEADLINE)
    ok = "The foam midsole softens every step on hard pavements, so your legs feel fresh at the end of the day."
    assert sentence_reasons(ok, ok[len("The foam midsole"):], guard) == []
    cases = {
        "facts": "The foam midsole lasts 500 miles of running on hard city pavements.",
        "names": "The foam midsole is made by Aurora for runners who like hard city pavements.",
        "claim": "The foam midsole is the perfect choice for runners on hard city pavements.",
        "voice": "The foam midsole is what we love most about running on hard city pavements.",
    }
    for kind, text in cases.items():
        reasons = sentence_reasons(text, text[len("The foam midsole"):], guard)
        assert any(r.startswith(kind) for r in reasons), (kind, reasons)
    assert echo_reason(" keeps your legs fresh on long runs", ["It keeps your legs fresh all day."], "en")


def test_no_sentence_repeats_within_or_across_a_products_articles():
    pipe, earlier = CopyPipeline(), []
    for seed in range(3):
        pipe.seed = seed
        best = pipe.article(POT, engine="grammar", avoid=earlier)[0]
        said = [s["text"] for sec in best.sections for s in sec["sentences"]]
        assert repeated_sentences(said) == []
        assert not {normalise(s) for s in said} & {normalise(s) for text in earlier for s in sentences(text, "zh")}
        earlier.append(best.text)


def test_when_every_headline_is_used_the_article_is_refused_saying_so_not_judged_on_its_lead():
    pipe, earlier, refused = CopyPipeline(), [], None
    for _ in range(12):  # the banks hold a handful of headlines per product: they run out well before this
        best = pipe.article(SHOE, engine="grammar", avoid=earlier)[0]
        if best.status != "accepted":
            refused = best
            break
        earlier.append(best.text)
    assert refused is not None and len(earlier) >= 2
    assert refused.reasons[0].startswith("used up: every headline the phrase banks can write for SKU-1 is already in its stored articles")
    assert not any("long_headline" in r for r in refused.reasons)  # the lead is not measured as if it were the headline


def test_a_product_whose_name_fits_no_headline_is_refused_saying_so_not_as_used_up():
    """A first article has used nothing: a name too long for every headline is the reason (it said 'used up ... already
    in its stored articles')."""
    name = "Quiet Comfort Extra Wireless Over-Ear Noise Cancelling Headphones Pro Max"
    long_name = Product("SKU-9", name, "Aurora", "electronics", 199.0, 149.0, None,
                        ["active noise cancelling", "30-hour battery", "fold-flat design"], ["music"], "en", "https://x.example/9")
    best = CopyPipeline().article(long_name, engine="grammar")[0]
    assert best.status == "rejected" and not any(r.startswith("used up") for r in best.reasons)
    assert best.reasons[0].startswith("no headline: none the phrase banks can write for SKU-9 fits the long_headline limit (90 characters)")
    assert f"({len(name)} characters); shorten or fix the name in the catalog" in best.reasons[0]


def test_a_sentence_that_only_swaps_the_feature_counts_as_a_repeat():
    ledger = Ledger.of("en", masks=SHOE.features)
    ledger.add("With the foam midsole, long hours feel noticeably easier.")
    assert ledger.reason("With the breathable mesh upper, long hours feel noticeably easier.")
    assert ledger.reason("The weighs 240 g detail lets you run further than before.") is None


def test_distinct_2_counts_word_pairs_in_english_and_character_pairs_in_chinese():
    assert distinct_n("the cat sat the cat sat", "en") == pytest.approx(3 / 5)
    assert distinct_n("好物好物好物", "zh") == pytest.approx(2 / 5)


def test_formats_people_paste_carry_headline_headings_and_escaped_text():
    best = CopyPipeline().article(SHOE, engine="grammar")[0]
    md = render_as("markdown", best.sections, "en")
    assert md.startswith("# ") and "## Breathable mesh upper" in md and "## Running" in md
    html = render_as("html", [{**best.sections[0], "text": "<b>x</b> & y"}, *best.sections[1:]], "en")
    assert "<h1>&lt;b&gt;x&lt;/b&gt; &amp; y</h1>" in html and html.count("<p>") == len(best.sections) - 1
    assert render_as("text", best.sections, "en") == best.text


def _invoke(home, *args):
    return CliRunner().invoke(cli, ["--home", str(home.root), "--db", home.db_url, "copy", "article", *args])


def test_cli_article_formats_and_no_repeat_of_a_stored_article(sample_home):
    first = _invoke(sample_home, "--product", "SKU-1002", "--engine", "grammar", "--format", "markdown")
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("# ") and "## Travel" in first.stdout
    html = _invoke(sample_home, "--product", "SKU-1002", "--engine", "grammar", "--format", "html", "--seed", "1")
    assert html.exit_code == 0 and html.stdout.startswith('<article lang="en">')
    rows = json.loads(_invoke(sample_home, "--product", "SKU-1002", "--engine", "grammar", "--format", "json", "--seed", "2").stdout)
    assert rows[0]["kind"] == "article" and all({"text", "engine", "sentences"} <= set(s) for s in rows[0]["sections"])
    said = [normalise(s) for s in sentences(rows[0]["text"], "en")]
    shown = [normalise(s) for s in sentences(first.stdout.replace("#", ""), "en")]
    assert not set(said[1:]) & set(shown)  # a stored article's sentences are not written again (headings aside)


def test_a_decimal_in_a_catalog_start_does_not_end_the_model_sentence():
    assert first_sentence("With the 2.1 kg trail weight, the pack rides light on a long climb. Then more") == \
        "With the 2.1 kg trail weight, the pack rides light on a long climb."
    assert first_sentence("The 2.5-layer fabric") is None  # no sentence has ended yet


def test_a_line_the_writer_ended_is_a_sentence_unless_its_last_word_leaves_it_hanging():
    assert first_sentence("The watch is water resistant to 50 m, so you can wear it in the pool", line_ended=True) == \
        "The watch is water resistant to 50 m, so you can wear it in the pool."
    assert first_sentence("The foam midsole keeps the shoe in the", line_ended=True) is None
    assert first_sentence("The watch is water resistant to 50 m, so you can wear it in the pool") is None  # cut at the token limit
