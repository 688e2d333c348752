"""Each guardrail on its own: facts, banned claims, length and width, duplicates, empty/cut-off/garbled."""

from __future__ import annotations

from importlib import resources

import pytest

from creative.catalog import Product
from creative.copy.guardrails import (
    Guardrails,
    banned_phrases,
    check_banned,
    check_facts,
    check_length,
    check_quality,
    duplicate_reason,
)
from creative.copy.limits import HEADLINE, LengthLimit, char_length
from creative.copy.pipeline import Candidate
from creative.copy.ranking import rank

SHOE = Product("SKU-1", "Stride Runner", "Northwind", "shoes", 89.0, 69.0, 22, ["breathable mesh upper", "foam midsole", "weighs 240 g"], ["running", "commute"], "en", "https://x.example/1")
POT = Product("SKU-2", "紫砂茶壶", "鹿", "家居", 368.0, 312.8, 15, ["手工拉坯", "容量300毫升", "出水顺畅"], ["送礼", "品茶"], "zh", "https://x.example/2")
BRANDS = ["Northwind", "Aurora", "Lu", "北风", "鹿", "极光"]


def guard(product=SHOE):
    return Guardrails.for_product(product, BRANDS)


def test_discount_in_title_must_match_catalog():
    facts = guard().facts
    assert check_facts("Stride Runner: 22% off", facts) == []
    reasons = check_facts("Stride Runner: 30% off", facts)
    assert reasons and "30%" in reasons[0] and "22" in reasons[0]


def test_price_must_be_a_catalog_price():
    facts = guard().facts
    assert check_facts("Stride Runner, now $69", facts) == []
    assert check_facts("Save $20 on Stride Runner", facts) == []  # the catalog's saving
    assert check_facts("Stride Runner for $59", facts)
    assert check_facts("Stride Runner: $89.99", facts)


def test_regular_and_sale_prices_must_not_swap_roles():
    facts = guard().facts
    assert check_facts("Stride Runner, now $89", facts)
    assert check_facts("Stride Runner for $89", facts)
    assert check_facts("Stride Runner, was $69", facts)
    assert check_facts("Stride Runner: $89", facts)  # the regular price alone hides the sale
    assert check_facts("Stride Runner, was $89, now $69", facts) == []


def test_a_reduction_needs_a_catalog_discount():
    bottle = Product("SKU-4", "Everyday Bottle", "Aurora", "bags", 25.0, None, None, ["750 ml"], ["gym"], "en", "https://x.example/4")
    facts = guard(bottle).facts
    assert check_facts("Everyday Bottle, just $25", facts) == []
    for text in ("Everyday Bottle, was $25", "Save on the Everyday Bottle", "Everyday Bottle sale"):
        assert check_facts(text, facts), text


def test_invented_quantity_or_spelled_number_is_rejected():
    facts = guard().facts
    assert check_facts("Only 240 g of shoe", facts) == []
    assert check_facts("Only 200 g of shoe", facts)
    assert check_facts("Fifty percent lighter", facts)
    assert check_facts("Half price Stride Runner", facts)


def test_brand_named_must_be_the_products_brand():
    facts = guard().facts
    assert check_facts("Northwind Stride Runner", facts) == []
    assert any("Aurora" in r for r in check_facts("Aurora Stride Runner", facts))  # another catalog brand
    assert any("Nike" in r for r in check_facts("Runs like a Nike", facts))  # a well-known brand


def test_misspelt_product_name_is_rejected():
    assert any("Netherwind" in r for r in check_facts("Netherwind running shoes", guard().facts))
    assert check_facts("Striding ahead with Stride Runner", guard().facts) == []


def test_chinese_prices_discounts_and_numerals_must_match():
    facts = guard(POT).facts
    for ok in ("紫砂茶壶限时8.5折", "紫砂茶壶 85折", "到手价312.8元", "容量300毫升", "三百毫升，刚刚好"):
        assert check_facts(ok, facts) == [], ok
    for bad in ("紫砂茶壶七折", "只要300元", "半价紫砂壶", "北风吹过茶香"):
        assert check_facts(bad, facts), bad


@pytest.mark.parametrize("language,file", [("en", "banned_en.txt"), ("zh", "banned_zh.txt")])
def test_every_banned_phrase_in_the_data_file_is_rejected(language, file):
    text = resources.files("creative.copy.data").joinpath(file).read_text(encoding="utf-8")
    assert "Source" in text or "来源" in text  # each list says where it comes from
    phrases = banned_phrases(language)
    assert len(phrases) >= 20
    for phrase in phrases:
        word = phrase.rstrip("*") + ("s" if phrase.endswith("*") else "")
        sample = f"Our {word} shoes" if language == "en" else f"{word}的茶壶"
        assert check_banned(sample, language), phrase


def test_banned_claims_match_words_not_substrings():
    assert check_banned("The best shoes", "en")
    assert check_banned("#1 runner, guaranteed", "en") == ["banned claim: '#1'", "banned claim: 'guaranteed'"]
    assert check_banned("Healthy habits, a bestow", "en") == []
    assert check_banned("国家级工艺", "zh") and check_banned("最好的茶壶", "zh")


def test_headline_length_counts_cjk_per_character():
    assert char_length("紫砂茶壶限时八五折") == 9
    assert check_length("紫" * 30, LengthLimit("headline", 30)) == []
    assert check_length("紫" * 31, LengthLimit("headline", 30))
    assert check_length("x" * 31, HEADLINE)


def test_pixel_width_rejects_a_title_wider_than_its_slot():
    narrow = LengthLimit("headline", 30, font_size=48, max_width_px=300)
    reasons = check_length("Northwind Stride Runner", narrow)
    assert any(r.startswith("width:") for r in reasons)
    assert check_length("Stride", narrow) == []


def test_exact_and_near_duplicates_are_rejected_keeping_the_best():
    assert duplicate_reason("Stride Runner, now $69!", ["stride runner now $69"], "en").startswith("duplicate")
    assert duplicate_reason("Northwind Stride Runner 240g", ["Northwind stride runner"], "en").startswith("near duplicate")
    assert duplicate_reason("Light steps, long roads", ["Stride Runner: 22% off"], "en") is None
    cands = [Candidate(t, "promotion", "en", "lm", "SKU-1", score=s) for t, s in
             [("Stride Runner, now $69", 0.5), ("Stride Runner now $69!", 0.9), ("Save 22% today", 0.4)]]
    ranked = rank(cands, "en")
    assert [c.text for c in ranked if c.status == "accepted"] == ["Stride Runner now $69!", "Save 22% today"]
    dup = next(c for c in ranked if c.status == "rejected")
    assert dup.reasons and dup.reasons[0].startswith("duplicate")


@pytest.mark.parametrize("text,finished,why", [
    ("", True, "empty"),
    ("   ", True, "empty"),
    ("Stride Runner for the", True, "cut off"),
    ("Stride Runner, light and", True, "cut off"),
    ("Stride Runner (now", True, "cut off"),
    ("Stride Runner shoes", False, "cut off"),
    ("#$%@!! ***", True, "garbled"),
    ("Run run run run", True, "garbled"),
    ("Stride \ufffd Runner", True, "garbled"),
    ("Stride Runner 跑鞋", True, "garbled"),
    ("Here is a catchy headline", True, "not copy"),
])
def test_empty_cut_off_and_garbled_output_is_rejected(text, finished, why):
    reasons = check_quality(text, "en", finished=finished)
    assert any(r.startswith(why) for r in reasons), reasons


def test_chinese_copy_must_be_chinese():
    assert check_quality("紫砂茶壶，出水顺畅", "zh") == []
    assert check_quality("Teapot best choice", "zh")


def test_rejected_title_keeps_every_reason():
    reasons = guard().check_title("The best Aurora shoes, now 50% off for the")
    kinds = {r.split(":")[0] for r in reasons}
    assert {"facts", "banned claim", "cut off", "length"} <= kinds
