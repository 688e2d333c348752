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
    ("Stride \u202eRunner now $69", True, "garbled"),
    ("Stride <b>Runner</b> now $69", True, "garbled"),
    ("Stride Runner [now $69](javascript:x)", True, "garbled"),
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


# ---------------------------------------------------------------- issue 11: names, kinds, facts that read true

BOTTLE = Product("SKU-4", "Everyday Bottle", "Aurora", "bags", 25.0, None, None, ["750 ml", "keeps drinks cold for 24 hours", "leak-proof lid"], ["gym", "outdoors"], "en", "https://x.example/4")
PHONES = Product("SKU-3", "Quiet One Headphones", "Aurora", "electronics", 199.0, 149.0, 25, ["active noise cancelling", "30-hour battery", "fold-flat design"], ["music", "gift"], "en", "https://x.example/3")
ZH_SHOE = Product("SKU-5", "轻跑鞋", "北风", "鞋靴", 599.0, 399.0, 33, ["透气网面", "缓震中底", "单只重240克"], ["通勤", "跑步"], "zh", "https://x.example/5")


def _kinds(reasons):
    return {r.split(":")[0] for r in reasons}


@pytest.mark.parametrize("product,text", [
    (SHOE, "Straight Runner: 22% off"),  # a word of the name swapped
    (PHONES, "Smart One Headphones: 25% off"),
    (PHONES, "Lumina: 30-hour battery"),  # an invented name
    (PHONES, "Arcadia 30-hour battery"),  # a real but rare word standing as a name
    (SHOE, "Numinous Stride Runner"),  # an invented word added to the name
    (SHOE, "Stride runner shoes"),  # the name miscased
    (SHOE, "Northwind Breathable under"),  # a capital in mid-sentence marks a name that is not the product's
])
def test_a_name_in_the_title_must_be_the_catalog_name_brand_or_alias(product, text):
    assert "entity" in _kinds(guard(product).check_title(text)), text


def test_catalog_names_aliases_and_plain_words_pass_the_entity_check():
    for product, text in [(SHOE, "Northwind Stride Runner"), (SHOE, "Meet the Stride Runner"), (PHONES, "Quiet One: 30 hours of music"),
                          (SHOE, "Light steps, long roads"), (SHOE, "The road hums, you carry on")]:
        assert "entity" not in _kinds(guard(product).check_title(text)), text


def test_a_title_naming_another_kind_of_product_is_refused():
    assert "category" in _kinds(guard(BOTTLE).check_title("Daypack: 750 ml; keeps drinks"))
    assert "category" in _kinds(guard(SHOE).check_title("Northwind Breathable blower"))
    assert "category" not in _kinds(guard(BOTTLE).check_title("Everyday Bottle, just $25"))


def test_chinese_poetic_line_must_not_name_or_borrow_another_products_imagery():
    teapot_line = "一壶清风里，半日闲情中"
    assert "category" in _kinds(guard(ZH_SHOE).check_title(teapot_line))
    assert "category" not in _kinds(guard(POT).check_title(teapot_line))
    assert "category" in _kinds(guard(POT).check_title("足下生清风，步步向远方"))  # a shoe's line names nothing, but is a shoe's


def test_chinese_misspelt_name_is_refused():
    assert "entity" in _kinds(guard(POT).check_title("紫沙茶壶限时8.5折"))
    assert "entity" not in _kinds(guard(POT).check_title("紫砂茶壶限时8.5折"))


def test_a_was_price_needs_the_current_price():
    assert any("current price" in r for r in guard(PHONES).check_title("Quiet One Headphones, was $199"))
    assert guard(PHONES).check_title("Now $149, was $199") == []
    assert any("current price" in r for r in guard(ZH_SHOE).check_title("轻跑鞋原价¥599"))


def test_now_price_on_a_product_without_a_sale_is_refused():
    assert any(r.startswith("facts") for r in guard(BOTTLE).check_title("Everyday Bottle, now $25"))


@pytest.mark.parametrize("product,text", [
    (SHOE, "The Stride Runner is a highly"),
    (BOTTLE, "Everyday Bottle: keeps drinks"),  # stops inside a catalog feature
    (PHONES, "Quiet One Headphones: 25%"),
    (ZH_SHOE, "北风轻跑鞋，透气网"),
    (ZH_SHOE, "穿上它，跑步更轻松，通勤更"),
])
def test_cut_off_titles_are_refused(product, text):
    assert "cut off" in _kinds(guard(product).check_title(text)), text


def test_repeated_words_and_keyword_lists_are_not_copy():
    assert any("twice" in r for r in guard(PHONES).check_title("Music, good for music"))
    assert any("list of keywords" in r for r in guard(BOTTLE).check_title("Gym, outdoor; leak-proof"))
    assert any("twice" in r for r in check_quality("运动好搭档：运动手环", "zh"))
    assert check_quality("Light steps, long roads", "en") == []


def test_a_title_must_say_something_about_the_product():
    assert guard(PHONES).check_grounding("Special gift for work")  # occasions only
    assert guard(PHONES).check_grounding("Take 25% off today") == []  # its own discount
    assert guard(PHONES).check_grounding("Fold-flat design for travel") == []  # a feature
    assert guard(PHONES).check_grounding("Fold-flat design for travel", names_only=True)  # a model title must name it
    assert guard(PHONES).check_grounding("Music-friendly headphones", names_only=True) == []  # its kind


def test_an_offer_under_the_brand_alone_is_refused_as_a_brand_wide_sale():
    brand_wide = [r for r in guard().check_title("Northwind, was $89, now $69") if "brand-wide" in r]
    assert brand_wide == ["facts: an offer under the brand 'Northwind' alone reads as a brand-wide sale; name the product"]
    assert any("brand-wide" in r for r in guard(ZH_SHOE).check_title("北风特惠，现价¥399"))
    for product, text in [(SHOE, "Northwind Stride Runner, now $69"), (SHOE, "Northwind: light steps, long roads"),
                          (ZH_SHOE, "北风轻跑鞋，现价¥399")]:
        assert not any("brand-wide" in r for r in guard(product).check_title(text)), text
