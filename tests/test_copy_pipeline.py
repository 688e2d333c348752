"""The copy pipeline and CLI end to end: engines, grammar top-up, storing elements, articles, JSON output."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from creative.catalog import Product, list_products
from creative.cli import cli
from creative.copy.evaluation import TARGET_PER_STYLE
from creative.copy.guardrails import Guardrails
from creative.copy.limits import article_length
from creative.copy.pipeline import CopyPipeline, store_article, store_titles
from creative.copy.styles import STYLES
from creative.copy.testing import save_tiny_model, tiny_model

SHOE = Product("SKU-1", "Stride Runner", "Northwind", "shoes", 89.0, 69.0, 22, ["breathable mesh upper", "foam midsole", "weighs 240 g"], ["running", "commute"], "en", "https://x.example/1")
POT = Product("SKU-2", "紫砂茶壶", "鹿", "家居", 368.0, 312.8, 15, ["手工拉坯", "容量300毫升", "出水顺畅"], ["送礼", "品茶"], "zh", "https://x.example/2")


@pytest.fixture(scope="module")
def noise_pipeline():
    return CopyPipeline(model=tiny_model(seed=2), brands=["Northwind", "Aurora"], per_style=6)


def test_model_candidates_are_all_kept_and_grammar_tops_up_to_n(noise_pipeline):
    cands = noise_pipeline.titles(SHOE, n=TARGET_PER_STYLE)
    for style in STYLES:
        mine = [c for c in cands if c.style == style]
        lm = [c for c in mine if c.engine == "lm"]
        assert len(lm) == 6  # every model candidate is reported, rejected ones with reasons
        assert all(c.reasons for c in lm if c.status == "rejected")
        accepted = [c for c in mine if c.status == "accepted"]
        assert len(accepted) >= TARGET_PER_STYLE
        assert all(c.reasons == [] for c in accepted)
        # grammar titles were scored by the same model so the ranking compares like with like
        assert all(c.loglik is not None for c in mine if c.engine == "grammar")


def test_no_fill_returns_only_model_candidates(noise_pipeline):
    cands = noise_pipeline.titles(SHOE, styles=["poetic"], n=5, fill=False)
    assert {c.engine for c in cands} == {"lm"} and len(cands) == 6


def test_chinese_product_uses_grammar_when_the_model_writes_english_only():
    pipe = CopyPipeline()  # the embedded model, never loaded for this
    cands = pipe.titles(POT, n=5)
    assert not pipe.model_loaded
    assert {c.engine for c in cands} == {"grammar"}
    assert any("does not write Chinese" in note for note in cands[0].notes)


def test_grammar_is_deterministic():
    a = [(c.text, c.status, c.score) for c in CopyPipeline().titles(SHOE, engine="grammar")]
    b = [(c.text, c.status, c.score) for c in CopyPipeline().titles(SHOE, engine="grammar")]
    assert a == b


def test_grammar_gives_three_accepted_titles_per_style_for_every_sample_product(sample_home, engine):
    # issue 11's target (copy.evaluation.TARGET_PER_STYLE); stricter guardrails refuse long or vague lines
    products = list_products(engine)
    assert {p.language for p in products} == {"en", "zh"}
    pipe = CopyPipeline(brands={p.brand for p in products})
    for product in products:
        guard = Guardrails.for_product(product, pipe.brands)
        counts = Counter()
        for c in pipe.titles(product, engine="grammar"):
            if c.status == "accepted":
                assert guard.check_title(c.text) == []
                counts[c.style] += 1
        assert all(counts[s] >= TARGET_PER_STYLE for s in STYLES), (product.product_id, counts)


def test_top_titles_are_stored_as_title_elements_with_their_attributes(store):
    cands = CopyPipeline().titles(SHOE, engine="grammar")
    stored = store_titles(store, SHOE, cands, n=2)
    assert len(stored) == 2 * len(STYLES)
    element = store.get(stored[0].code)
    assert element.code.startswith("T-") and element.kind == "title" and element.text == stored[0].text
    assert {"style", "language", "engine", "score"} <= set(element.attributes)
    assert element.attributes["engine"] == "grammar" and element.brand == "Northwind"
    again = store_titles(store, SHOE, CopyPipeline().titles(SHOE, engine="grammar"), n=2)
    assert [c.code for c in again] == [c.code for c in stored]  # same text, same element


@pytest.mark.parametrize("product", [SHOE, POT], ids=["en", "zh"])
def test_grammar_article_has_every_section_within_length(product, store):
    cands = CopyPipeline().article(product, keywords=product.keywords, engine="grammar")
    best = cands[0]
    assert best.kind == "article" and best.status == "accepted", best.reasons
    assert [s["section"] for s in best.sections] == ["headline", "lead", "point", "point", "point", "scene", "scene", "cta"]
    n, (low, high), _ = article_length(best.text, product.language)
    assert low <= n <= high
    for section, feature in zip(best.sections[2:5], product.features):
        assert feature.lower() in section["text"].lower()
    stored = store_article(store, product, cands)
    assert stored.code.startswith("A-") and store.get(stored.code).attributes["engine"] == "grammar"


def test_model_article_stands_in_grammar_for_failed_sections_and_says_so(noise_pipeline):
    cands = noise_pipeline.article(SHOE, keywords=["commute", "gift"], per_section=2)
    articles = [c for c in cands if c.kind == "article"]
    drafts = [c for c in cands if c.kind == "sentence"]
    assert any(a.status == "accepted" for a in articles)
    assert drafts and all(d.reasons for d in drafts)  # the noise model's drafts, each with reasons
    for a in articles:
        assert all(s["engine"] in ("lm", "grammar") for s in a.sections)


# ---------------------------------------------------------------- CLI


def _invoke(home, *args):
    result = CliRunner().invoke(cli, ["--home", str(home.root), "--db", home.db_url, "copy", *args])
    return result


def test_cli_titles_json_with_a_local_model_directory(sample_home, tmp_path):
    model_dir = save_tiny_model(tmp_path / "tiny")
    result = _invoke(sample_home, "titles", "--product", "SKU-1001", "--model", str(model_dir), "--candidates", "4", "--n", "5", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {"text", "style", "status", "reasons", "score", "code", "engine"} <= set(rows[0])
    assert {r["engine"] for r in rows} == {"lm", "grammar"}
    for style in STYLES:
        stored = [r for r in rows if r["style"] == style and r["code"]]
        assert len(stored) == 5 and all(r["status"] == "accepted" and r["code"].startswith("T-") for r in stored)
    assert all(r["reasons"] for r in rows if r["status"] == "rejected")


def test_cli_titles_all_with_grammar_covers_the_catalog(sample_home):
    result = _invoke(sample_home, "titles", "--all", "--engine", "grammar", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    counts = Counter((r["product_id"], r["style"]) for r in rows if r["status"] == "accepted")
    assert len({p for p, _ in counts}) == 8 and min(counts.values()) >= TARGET_PER_STYLE
    zh = [r for r in rows if r["language"] == "zh"]
    assert {r["style_label"] for r in zh} == {"描述型", "特价型", "功效型", "古诗词型"}


def test_cli_styles_accept_chinese_names_and_reject_unknown_ones(sample_home):
    ok = _invoke(sample_home, "titles", "--product", "SKU-2002", "--styles", "特价型", "--json")
    assert ok.exit_code == 0 and {r["style"] for r in json.loads(ok.stdout)} == {"promotion"}
    bad = _invoke(sample_home, "titles", "--product", "SKU-2002", "--styles", "funny")
    assert bad.exit_code != 0 and "unknown style 'funny'" in bad.output


def test_cli_article_json(sample_home):
    result = _invoke(sample_home, "article", "--product", "SKU-2001", "--keywords", "通勤,送礼", "--engine", "grammar", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    best = rows[0]
    assert best["status"] == "accepted" and best["code"].startswith("A-") and "送礼" in best["text"]


def test_cli_unknown_product_is_one_clear_line(sample_home):
    result = _invoke(sample_home, "titles", "--product", "NOPE", "--engine", "grammar")
    assert result.exit_code != 0 and "NOPE" in result.output


def test_invented_words_from_the_model_are_rejected_but_catalog_words_are_not():
    guard = Guardrails.for_product(SHOE)
    assert any("Nuxtrain" in r for r in guard.check_title("Nuxtrain breathable midsole"))
    assert not any(r.startswith("entity") for r in guard.check_title("Stride Runner, foam midsole"))


def test_model_title_that_talks_about_the_task_is_rejected():
    guard = Guardrails.for_product(SHOE)
    assert any(r.startswith("not copy") for r in guard.check_title("Product: Stride Runner"))


def test_every_prompt_renders_for_every_sample_product_and_its_examples_are_known_names(sample_home, engine):
    import re

    from creative.copy.templates import EXAMPLE_NAMES, HERE, product_slots, render_messages

    for product in list_products(engine):
        slots = {**product_slots(product), "show_price": True}
        for style in STYLES:
            messages = render_messages(f"title_{style}_{product.language}.j2", slots)
            assert messages[-1]["role"] == "user" and product.name in messages[-1]["content"]
            assert [m["role"] for m in messages[1:]] == ["user", "assistant"] * ((len(messages) - 2) // 2) + ["user"]
        assert render_messages(f"article_sentence_{product.language}.j2", slots, noun=product.category, fact=product.features[0],
                               keyword=None, previous=None, opener=product.features[0])
    for path in (HERE / "prompts").glob("*.j2"):
        for name in re.findall(r"^(?:Product|Brand|商品|品牌)[:：]\s*(\S[^\n{]*)$", path.read_text(encoding="utf-8"), re.MULTILINE):
            assert name.strip() in EXAMPLE_NAMES, (path.name, name)


def test_chinese_product_uses_the_model_when_it_writes_chinese(monkeypatch):
    from creative.copy.model import LanguageModel

    monkeypatch.setattr(LanguageModel, "writes_chinese", property(lambda self: True))
    pipe = CopyPipeline(model=tiny_model(seed=3), per_style=3)
    cands = pipe.titles(POT, styles=["poetic"], n=2)
    assert sum(c.engine == "lm" for c in cands) == 3
    assert {c.to_json()["style_label"] for c in cands} == {"古诗词型"}
    assert not any(c.notes for c in cands)  # no "does not write Chinese" fallback note
    assert any(c.status == "accepted" for c in cands)  # grammar still tops up the noise model's output


def test_a_model_title_no_likelier_for_its_product_than_for_decoys_is_refused(monkeypatch):
    """Contrastive relevance: each title passing the guardrails is scored after the product's prompt and after decoys'."""
    from creative.copy.entities import decoy_products
    from creative.copy.pipeline import Candidate
    from creative.copy.ranking import rank

    pipe = CopyPipeline(model=tiny_model(seed=2), brands=["Northwind"], per_style=2)
    own = pipe.preprocess_title(SHOE, "descriptive")
    decoys = [pipe.preprocess_title(d, "descriptive") for d in decoy_products(SHOE)]
    assert len(decoys) == 2 and own not in decoys
    asked = []

    def score(prompt_ids, texts):
        asked.append(list(texts))
        mine = prompt_ids == own
        return [{"Stride Runner for daily miles": 1.0 if mine else 0.2, "Comfort for every day": 1.0 if mine else 1.4}[t] for t in texts]

    monkeypatch.setattr(pipe.model, "score", score)
    specific, generic = (Candidate(t, "descriptive", "en", "lm", SHOE.product_id, loglik=-1.0)
                         for t in ("Stride Runner for daily miles", "Comfort for every day"))
    refused = Candidate("The best shoe", "descriptive", "en", "lm", SHOE.product_id, reasons=["banned claim: 'best'"])
    pipe._contrast(SHOE, "descriptive", own, [specific, generic, refused])
    assert asked == [["Stride Runner for daily miles", "Comfort for every day"]] * 3  # own prompt, then each decoy; refused ones not scored
    assert specific.reasons == []
    assert generic.reasons == ["relevance: as likely for another product (contrast -0.40 < +0.00)"]
    ranked = rank([specific, generic, refused], "en")
    assert [(c.text, c.status) for c in ranked if c.status == "accepted"] == [("Stride Runner for daily miles", "accepted")]
