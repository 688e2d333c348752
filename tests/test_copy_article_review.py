"""An article reviewed section by section (services.copy): accept, write one section again, edit; grammar engine, real store."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import event

from assets.samples import SAMPLES_DIR, sample_files
from creative.catalog import get_product, import_catalog
from creative.copy.article.variety import sentences
from creative.copy.guardrails import normalise
from creative.copy.pipeline import store_article
from creative.errors import CreativeError
from creative.home import resolve_home
from creative.services import Workspace
from creative.services.copy import (
    SectionRefused,
    accept_section,
    article_review,
    copy_pipeline,
    edit_section,
    list_articles,
    publish_article,
    regenerate_section,
    write_article,
)

PRODUCT = "SKU-1001"


@pytest.fixture
def ws(sample_home) -> Workspace:
    return Workspace.of(sample_home)


@pytest.fixture
def review(ws):
    return write_article(ws, PRODUCT, engine="grammar").review


def _said(texts) -> set[str]:
    return {normalise(s) for text in texts for s in sentences(text, "en")}


def _section(review, kind: str):
    return next(s for s in review.sections if s.kind == kind)


def test_a_stored_article_keeps_its_sections_with_who_wrote_each_sentence(ws, review):
    element = ws.elements.get(review.code)
    assert element.kind == "article" and element.text == "\n\n".join(s.text for s in review.sections)
    kinds = [s.kind for s in review.sections]
    assert kinds[:2] == ["headline", "lead"] and kinds[-1] == "cta" and kinds.count("point") == 3
    assert all(s.status == "draft" and s.reasons == [] for s in review.sections)
    assert all(sentence["engine"] == "grammar" for s in review.sections for sentence in s.sentences)
    assert [s.fact for s in review.sections if s.kind == "point"] == get_product(ws.engine, PRODUCT).features[:3]


def test_regenerating_a_section_changes_only_it_and_never_repeats_a_sentence(ws, review):
    point = _section(review, "point")
    seen, held = [s.text for s in review.sections], [point.text]
    for _ in range(2):
        new = regenerate_section(ws, review.code, point.position)
        assert new.text != point.text and new.fact == point.fact and new.status == "draft"
        assert not _said([new.text]) & _said(seen), new.text  # nothing the product's article said, now or before
        assert len(sentences(new.text, "en")) >= 2 and all(s["engine"] == "grammar" for s in new.sentences)
        seen.append(new.text)
        held.append(new.text)
        point = new
    after = article_review(ws, review.code)
    assert after.section(point.position).replaced == held[:-1]
    assert [s.text for s in after.sections if s.position != point.position] == [s.text for s in review.sections if s.position != point.position]


def test_regenerating_stops_with_the_reason_when_every_sentence_is_used(ws, review):
    point = _section(review, "point")
    with pytest.raises(SectionRefused, match="already used in SKU-1001's articles; edit the section by hand"):
        for _ in range(30):
            point = regenerate_section(ws, review.code, point.position)
    assert article_review(ws, review.code).section(point.position).text == point.text


def test_an_edit_with_a_wrong_price_is_refused_with_the_reason_and_the_old_text_kept(ws, review):
    cta = _section(review, "cta")
    with pytest.raises(SectionRefused, match=r"price '\$49' is not in the catalog.*the old text is kept"):
        edit_section(ws, review.code, cta.position, "The Aurora Quiet One Headphones now cost $49. Order yours on the product page.")
    assert article_review(ws, review.code).section(cta.position).text == cta.text


def test_an_edit_with_a_banned_claim_is_refused_and_the_old_text_kept(ws, review):
    point = _section(review, "point")
    with pytest.raises(SectionRefused, match="banned claim: 'guaranteed'"):
        edit_section(ws, review.code, point.position, f"{point.text} Results are guaranteed.")
    assert article_review(ws, review.code).section(point.position).text == point.text


@pytest.mark.parametrize(("extra", "why"), [
    ("<img src=x onerror=alert(document.domain)> It helps.", "contains markup"),
    ("<script>alert(document.domain)</script> It helps.", "contains markup"),
    ("Read [the details](javascript:alert(document.domain)) first.", "contains markup"),
    ("It feels \u202eeasy on the feet.", "control characters"),
])
def test_an_edit_holding_markup_or_a_bidi_control_is_refused_and_the_old_text_kept(ws, review, extra, why):
    """The Markdown download carries a section's text as it is: a tag or a link in it would be live wherever it is pasted."""
    point = _section(review, "point")
    with pytest.raises(SectionRefused, match=why):
        edit_section(ws, review.code, point.position, f"{point.text} {extra}")
    assert article_review(ws, review.code).section(point.position).text == point.text


@pytest.mark.parametrize("keyword", ["gy\x00m", "gift\u202eevil", "of\u2066fice"])
def test_a_keyword_holding_a_control_or_bidi_character_is_refused(ws, keyword):
    with pytest.raises(CreativeError, match="would hide or reorder what people see"):
        write_article(ws, PRODUCT, engine="grammar", keywords=["commute", keyword])
    assert ws.elements.list("article") == []


def test_an_edit_that_repeats_another_section_is_refused(ws, review):
    lead, point = _section(review, "lead"), _section(review, "point")
    with pytest.raises(SectionRefused, match="duplicate"):
        edit_section(ws, review.code, point.position, f"{sentences(lead.text, 'en')[-1]} {point.text}")
    assert article_review(ws, review.code).section(point.position).text == point.text


def test_a_passing_edit_replaces_the_text_marks_the_new_sentence_and_waits_for_acceptance(ws, review):
    point = accept_section(ws, review.code, _section(review, "point").position, reviewer="mia")
    assert point.status == "accepted"
    added = "It packs down small enough to slip into a jacket pocket."
    edited = edit_section(ws, review.code, point.position, f"{point.text}  {added}", reviewer="mia")
    assert edited.text == f"{point.text} {added}" and edited.status == "draft" and edited.replaced == [point.text]
    assert [s["engine"] for s in edited.sentences] == [*(s["engine"] for s in point.sentences), "edited"]
    assert accept_section(ws, review.code, point.position).status == "accepted"


def test_a_section_failing_the_checks_cannot_be_accepted(ws):
    product = get_product(ws.engine, PRODUCT)
    text = f"{product.name}: quiet on the daily commute\n\nThe {product.name} costs only $5 today."
    element = ws.elements.add_text("article", text, name="old article", attributes={"product_id": PRODUCT, "language": "en"})
    old = article_review(ws, element.code)  # stored before section review: its paragraphs become sections
    assert [s.text for s in old.sections] == text.split("\n\n")
    assert any("not in the catalog" in r for r in old.sections[1].reasons)
    with pytest.raises(SectionRefused, match="fails the checks"):
        accept_section(ws, element.code, 1)
    assert accept_section(ws, element.code, 0).status == "accepted"


def _change_sale_price(ws: Workspace, tmp_path, price: float) -> None:
    """Import the sample catalog's row of PRODUCT again with a new sale price, as a marketer's feed update would."""
    records = json.loads((SAMPLES_DIR / "catalog_en.json").read_text())
    changed = next(r for r in records if r["product_id"] == PRODUCT)
    changed["sale_price"] = price
    (tmp_path / "catalog.json").write_text(json.dumps([changed]))
    import_catalog(ws.engine, tmp_path / "catalog.json", ws.elements.image_resolver())


def test_a_section_whose_price_the_catalog_changed_since_it_was_written_cannot_be_accepted(ws, review, tmp_path):
    """The checks ran when the article was stored; accepting trusted them, so a section with the old price was accepted
    and downloaded after the catalog's sale price had changed."""
    cta = accept_section(ws, review.code, _section(review, "cta").position)
    assert "$69" in cta.text and cta.reasons == [] and cta.status == "accepted"
    _change_sale_price(ws, tmp_path, 59)
    with pytest.raises(SectionRefused, match=r"fails the checks \(.*'\$69' is not in the catalog"):
        accept_section(ws, review.code, cta.position)
    after = article_review(ws, review.code).section(cta.position)
    assert after.status == "draft" and any("$69" in r for r in after.reasons)  # the page shows why; it is no longer published
    headline = accept_section(ws, review.code, _section(review, "headline").position)  # the others still can be
    assert article_review(ws, review.code).render("markdown") == f"# {headline.text}\n"


def test_publishing_after_a_price_change_is_refused_naming_the_stale_section_which_goes_back_to_draft(ws, review, tmp_path):
    """A section accepted before the catalog's price changed went out in the download with the old price."""
    headline, cta = (accept_section(ws, review.code, _section(review, kind).position) for kind in ("headline", "cta"))
    assert "$69" in cta.text and "$69" in publish_article(ws, review.code, "markdown")
    _change_sale_price(ws, tmp_path, 59)
    with pytest.raises(CreativeError, match=rf"nothing was published: section {cta.position + 1} \(cta\): .*'\$69' is not in the catalog"):
        publish_article(ws, review.code, "markdown")
    after = article_review(ws, review.code)
    assert after.section(cta.position).status == "draft" and after.section(headline.position).status == "accepted"
    assert publish_article(ws, review.code, "markdown") == f"# {headline.text}\n"  # the rest goes out once it is reviewed


def test_the_accepted_sections_are_the_article_people_paste(ws, review):
    with pytest.raises(CreativeError, match="no section of .* is accepted yet"):
        review.render("markdown")
    headline, point = _section(review, "headline"), _section(review, "point")
    for s in (headline, point):
        accept_section(ws, review.code, s.position, reviewer="mia")
    after = article_review(ws, review.code)
    assert after.render("markdown") == f"# {headline.text}\n\n## {point.heading}\n\n{point.text}\n"
    html = after.render("html")
    assert html.startswith('<article lang="en">') and html.count("<p>") == 1 and _section(review, "lead").text not in html
    accept_section(ws, review.code, point.position, accept=False)
    assert article_review(ws, review.code).render("markdown") == f"# {headline.text}\n"


def test_a_new_article_says_none_of_the_reviewed_sentences(ws, review):
    point = _section(review, "point")
    edited = edit_section(ws, review.code, point.position, f"{point.text} It packs down small enough to slip into a jacket pocket.")
    second = write_article(ws, PRODUCT, engine="grammar").review
    assert not _said(s.text for s in second.sections) & _said([edited.text, *(s.text for s in review.sections)])


def test_an_article_stored_without_its_sections_gets_them_from_its_plan_and_can_be_rewritten(ws):
    """The flows store articles with store_article alone: the view recovers each section's fact and keyword."""
    product = get_product(ws.engine, PRODUCT)
    pipe = copy_pipeline(ws)
    stored = store_article(ws.elements, product, pipe.article(product, engine="grammar"))
    review = article_review(ws, stored.code)
    assert [s.text for s in review.sections] == [s["text"] for s in stored.sections]
    assert [(s.kind, s.fact, s.keyword, s.heading) for s in review.sections] == \
        [(s["section"], s["fact"], s["keyword"], s["heading"]) for s in stored.sections]
    point = _section(review, "point")
    assert regenerate_section(ws, stored.code, point.position).fact == point.fact


def test_a_section_changed_meanwhile_is_not_overwritten(ws, review, monkeypatch):
    """Two reviewers (or a model run) on one section: the second change, made on the old text, is refused."""
    from creative.services import copy as service

    point = _section(review, "point")
    stale = service.article_review(ws, review.code)
    edit_section(ws, review.code, point.position, f"{point.text} It packs down small enough to slip into a jacket pocket.")
    monkeypatch.setattr(service, "article_review", lambda ws, code: stale)  # this reviewer still sees the old text
    with pytest.raises(CreativeError, match="changed meanwhile"):
        service.accept_section(ws, review.code, point.position)


def test_the_article_list_reads_every_articles_sections_at_once(ws):
    """The articles page lists every article with its sections: the queries do not grow with the number of articles
    (it read the element and the sections of each one, two queries an article)."""
    def listed() -> tuple[list, int]:
        statements = []
        count = lambda *args: statements.append(args[2])  # noqa: E731 - the statement's text
        event.listen(ws.engine, "before_cursor_execute", count)
        try:
            return list_articles(ws), len(statements)
        finally:
            event.remove(ws.engine, "before_cursor_execute", count)

    write_article(ws, PRODUCT, engine="grammar")
    one, queries = listed()
    for product in ("SKU-1002", "SKU-1003", "SKU-1004"):
        write_article(ws, product, engine="grammar")
    many, more_queries = listed()
    assert len(one) == 1 and len(many) == 4 and more_queries == queries
    assert many == [article_review(ws, a.code) for a in many]
    assert sorted(a.product_id for a in many) == [PRODUCT, "SKU-1002", "SKU-1003", "SKU-1004"]


@pytest.mark.postgres
def test_an_article_opened_by_several_reviewers_at_once_gets_its_sections_once(tmp_path, pg_url):
    """An article the flows stored without sections gets them when it is first opened; opened by four requests at once on
    PostgreSQL, all but one failed on the primary key (a 500 on the page)."""
    ws = Workspace.of(resolve_home(tmp_path / "home", pg_url))
    ws.elements.add_images(sample_files("products"), "product")
    import_catalog(ws.engine, SAMPLES_DIR / "catalog_en.json", ws.elements.image_resolver())
    product, pipe = get_product(ws.engine, PRODUCT), copy_pipeline(ws)
    for keywords in (["commute"], ["gift"], ["travel"]):
        stored = store_article(ws.elements, product, pipe.article(product, engine="grammar", keywords=keywords))
        start, errors, seen = threading.Barrier(4), [], []

        def open_it() -> None:
            start.wait()
            try:
                seen.append(article_review(ws, stored.code))
            except Exception as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and len(seen) == 4 and all(r == seen[0] for r in seen)
        assert [s.text for s in seen[0].sections] == [s["text"] for s in stored.sections]
    ws.engine.dispose()
