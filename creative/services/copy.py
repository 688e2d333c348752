"""Copy use cases: one guardrail brand list for every front, a reviewer's approval, withdrawal and edit of a title,
and articles: written and stored with their sections, each section accepted, written again or edited on its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from creative.brands import kits_by_brand
from creative.catalog import Product, get_product, list_products
from creative.copy.article import assemble
from creative.copy.article.plan import plan_article
from creative.copy.article.sections import SectionKey, edited_reasons, heading, recovered_keys, section_drafts
from creative.copy.article.variety import sentences as variety_sentences
from creative.copy.errors import CopyError
from creative.copy.guardrails import Guardrails, duplicate_reason
from creative.copy.limits import LONG_HEADLINE
from creative.copy.model import LanguageModel
from creative.copy.pipeline import Candidate, CopyPipeline, store_article, store_titles
from creative.elements import Element
from creative.errors import CreativeError, ElementNotFound
from creative.services.workspace import Workspace
from creative.tables import article_sections as sections_table
from creative.text import unsafe_character


def guardrail_brands(ws: Workspace) -> tuple[str, ...]:
    """Every brand and product name in the catalog: a title naming another one breaks the facts guardrail."""
    return tuple(sorted({x for p in list_products(ws.engine) for x in (p.brand, p.name)}))


def brand_banned_words(ws: Workspace) -> dict[str, tuple[str, ...]]:
    """Each brand kit's banned words by brand_key: a title for that brand's products may not use them."""
    return {key: kit.banned for key, kit in kits_by_brand(ws.engine).items() if kit.banned}


def copy_pipeline(ws: Workspace, *, model: str | None = None, seed: int = 0, language_model: LanguageModel | None = None,
                  **options: Any) -> CopyPipeline:
    """The copy pipeline every front uses: the catalog's brands, the brand kits' banned words, the home's model cache
    (or `language_model`, one already loaded)."""
    return CopyPipeline(model=language_model, model_spec=model, cache_dir=ws.home.model_cache_dir, brands=guardrail_brands(ws),
                        seed=seed, brand_banned=brand_banned_words(ws), **options)


def approve_title(ws: Workspace, candidate: Candidate, reviewer: str | None = None) -> Element:
    """A reviewed title becomes a title element of its product (idempotent by text); refused if it failed the guardrails."""
    if candidate.kind != "title" or candidate.status != "accepted":
        raise CreativeError(f"this title failed the guardrails ({'; '.join(candidate.reasons) or 'not accepted'}); it cannot be approved")
    product = get_product(ws.engine, candidate.product_id)
    store = ws.elements
    stored = store_titles(store, product, [candidate], n=1, reviewer=reviewer)
    return store.get(stored[0].code)


def withdraw_title(ws: Workspace, code: str) -> None:
    """Take an approved title back out of the library (un-approve); one already gone is not an error."""
    try:
        ws.elements.remove(code)
    except ElementNotFound:
        pass


def edit_title(ws: Workspace, candidate: Candidate, text: str, others: Sequence[str] = ()) -> Candidate:
    """A reviewer's rewrite of a candidate, judged by the guardrails generated titles pass (engine "edited").

    `others` are the accepted titles of the same style: a near duplicate of one of them is refused, as in ranking.
    """
    text = " ".join(text.split())
    if not text:
        raise CreativeError("the new title is empty; type the text or cancel the edit to keep the old one")
    product = get_product(ws.engine, candidate.product_id)
    edited = Candidate(text, candidate.style, candidate.language, "edited", product.product_id)
    copy_pipeline(ws).judge_title(edited, product)
    why = duplicate_reason(text, [o for o in others if o != text], product.language)
    if why:
        edited.reasons.append(why)
    edited.status = "rejected" if edited.reasons else "accepted"
    return edited


# ---------------------------------------------------------------- articles

ARTICLE_ENGINES = ("auto", "lm", "grammar")
SECTION_STATUSES = ("draft", "accepted")
REGENERATE_TRIES = 3  # a regenerated section failing the checks is written again this many times before giving up


class SectionRefused(CreativeError):
    """A section's new text (a reviewer's edit, or written again) failed the checks; the old text is kept."""


@dataclass(frozen=True)
class ArticleSection:
    """One section of a stored article as a reviewer works on it."""

    position: int
    kind: str  # headline | lead | point | scene | cta
    heading: str | None
    fact: str | None
    keyword: str | None
    text: str
    sentences: list[dict[str, Any]]  # each with its engine: lm, grammar, or edited (a reviewer's)
    status: str  # draft | accepted
    reasons: list[str]  # why the checks refuse the current text; empty when it passes
    drafts: list[dict[str, Any]]  # the model's unused sentences for it, with why
    replaced: list[str]  # texts it held before
    reviewer: str | None = None

    @property
    def key(self) -> SectionKey:
        return SectionKey(self.kind, self.fact, self.keyword)

    @property
    def engine(self) -> str:
        engines = list(dict.fromkeys(s.get("engine", "grammar") for s in self.sentences))
        return engines[0] if len(engines) == 1 else "+".join(engines)

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def to_json(self) -> dict[str, Any]:
        return {"position": self.position, "section": self.kind, "heading": self.heading, "fact": self.fact, "keyword": self.keyword,
                "text": self.text, "engine": self.engine, "sentences": self.sentences, "status": self.status, "reasons": self.reasons,
                "drafts": self.drafts, "replaced": self.replaced, "reviewer": self.reviewer}


@dataclass(frozen=True)
class ArticleReview:
    """A stored article (its element) and its sections under review; the accepted ones are the article people paste."""

    code: str
    product_id: str
    language: str
    engine: str
    keywords: list[str]
    model: str | None
    sections: list[ArticleSection]
    notes: list[str] = field(default_factory=list)  # from the writing: keywords left out, who wrote how much

    @property
    def accepted(self) -> list[ArticleSection]:
        return [s for s in self.sections if s.accepted]

    def section(self, position: int) -> ArticleSection:
        for s in self.sections:
            if s.position == position:
                return s
        raise CreativeError(f"article {self.code} has no section {position}; reload the page")

    def render(self, fmt: str) -> str:
        """The accepted sections as Markdown, HTML or plain text (assemble.render_as)."""
        if fmt not in ("text", "markdown", "html"):
            raise CreativeError(f"format must be text, markdown or html, got {fmt!r}")
        if not self.accepted:
            raise CreativeError(f"no section of {self.code} is accepted yet; accept the sections to publish first")
        return assemble.render_as(fmt, [{"section": s.kind, "heading": s.heading, "text": s.text} for s in self.accepted], self.language)

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "product_id": self.product_id, "language": self.language, "engine": self.engine,
                "keywords": self.keywords, "model": self.model, "notes": self.notes, "sections": [s.to_json() for s in self.sections]}


@dataclass
class ArticleWritten:
    """What writing an article gave: the best candidate, the model's unused drafts and, when stored, its review."""

    product: Product
    candidates: list[Candidate]
    review: ArticleReview | None = None

    @property
    def best(self) -> Candidate:
        return self.candidates[0]


def _product_articles(ws: Workspace, product_id: str) -> list[Element]:
    return [e for e in ws.elements.list("article") if (e.attributes or {}).get("product_id") == product_id]


def _section_rows(ws: Workspace, codes: Sequence[str]) -> list[Any]:
    if not codes:
        return []
    with ws.engine.connect() as conn:
        return conn.execute(select(sections_table).where(sections_table.c.article_code.in_(list(codes)))
                            .order_by(sections_table.c.article_code, sections_table.c.position)).all()


def _product_texts(ws: Workspace, product_id: str, code: str = "") -> tuple[list[str], list[str]]:
    """What the product's articles say, from one read of them and their sections: (used) every text they hold or
    held: as written, as reviewed, and what reviews replaced; (elsewhere) the articles other than `code` as they
    stand (reviewed sections where there are any)."""
    articles = _product_articles(ws, product_id)
    rows = _section_rows(ws, [e.code for e in articles])
    used = [e.text or "" for e in articles]
    for row in rows:
        used += [row.text, *row.replaced]
    reviewed = {r.article_code for r in rows}
    elsewhere = [r.text for r in rows if r.article_code != code] + [e.text or "" for e in articles
                                                                     if e.code != code and e.code not in reviewed]
    return used, elsewhere


def _section_of(row: Any) -> ArticleSection:
    return ArticleSection(row.position, row.kind, row.heading, row.fact, row.keyword, row.text, list(row.sentences), row.status,
                          list(row.reasons), list(row.drafts), list(row.replaced), row.reviewer)


def _insert_sections(ws: Workspace, code: str, sections: Sequence[dict[str, Any]], drafts: Callable[[SectionKey], list],
                     guard: Guardrails) -> None:
    """A stored article's sections as drafts, each with the checks' reasons; an article that has them keeps its own."""
    language = guard.product.language
    now = datetime.now(timezone.utc)
    rows = []
    for i, sec in enumerate(sections):
        others = [o["text"] for j, o in enumerate(sections) if j != i]
        key = SectionKey(sec["section"], sec.get("fact"), sec.get("keyword"))
        sentences = [dict(s) for s in sec.get("sentences") or
                     [{"text": t, "engine": sec.get("engine", "grammar")} for t in variety_sentences(sec["text"], language)]]
        rows.append({"article_code": code, "position": i, "kind": sec["section"], "heading": sec.get("heading"), "fact": key.fact,
                     "keyword": key.keyword, "text": sec["text"], "sentences": sentences, "status": "draft",
                     "reasons": edited_reasons(sec["text"], sec["section"], guard, others), "drafts": drafts(key),
                     "replaced": [], "reviewer": None, "updated_at": now})
    try:
        with ws.engine.begin() as conn:
            if conn.execute(select(sections_table.c.position).where(sections_table.c.article_code == code)).first() is None:
                conn.execute(insert(sections_table), rows)
    except IntegrityError:
        # Two requests opening (or writing) the same article at once both found no sections: the other one stored them.
        # Anything else (the article removed meanwhile: ElementNotFound from get) is not that race.
        ws.elements.get(code)
        if not _section_rows(ws, [code]):
            raise


def _check_engine(engine: str) -> None:
    if engine not in ARTICLE_ENGINES:
        raise CopyError(f"unknown engine {engine!r}; use one of {', '.join(ARTICLE_ENGINES)}")


def _engine_for(pipe: CopyPipeline, product: Product, engine: str) -> str:
    """`auto` resolved: the model where it writes the product's language, else the grammar."""
    if engine == "auto":
        return "lm" if pipe.writes(product.language) else "grammar"
    return engine


def _guardrails(ws: Workspace, product: Product) -> Guardrails:
    """An article's checks against the catalog and the brand kits as they are now."""
    return copy_pipeline(ws).guardrails(product, LONG_HEADLINE)


def check_keywords(keywords: Sequence[str] | None) -> None:
    """Refuse a keyword holding a control or bidi character: it is stored with the article and shown on its page."""
    for keyword in keywords or ():
        bad = unsafe_character(keyword)
        if bad:
            raise CopyError(f"the keyword {keyword!r} contains {bad}, which would hide or reorder what people see; remove it")


def write_article(ws: Workspace, product_id: str, *, engine: str = "auto", keywords: Sequence[str] | None = None, per_section: int = 6,
                  store: bool = True, pipeline: CopyPipeline | None = None,
                  progress: Callable[[int, int], None] | None = None) -> ArticleWritten:
    """An article for a catalog product, never repeating a sentence of the product's stored articles; the best accepted
    one stored as an `article` element with its sections ready for review.

    engine: grammar (phrase banks), lm (the model; grammar where it does not write the language, with a note) or auto
    (the model where it writes the language, else grammar, without the note). `progress(drafted, planned)` follows
    the model's sentences.
    """
    _check_engine(engine)
    if per_section < 1:
        raise CopyError("--per-section must be at least 1")
    check_keywords(keywords)
    product = get_product(ws.engine, product_id)
    pipe = pipeline or copy_pipeline(ws)
    engine = _engine_for(pipe, product, engine)
    candidates, written = pipe.written_article(product, keywords=keywords, engine=engine, per_section=per_section,
                                               avoid=_product_texts(ws, product.product_id)[0], progress=progress)
    result = ArticleWritten(product, candidates)
    if store:
        stored = store_article(ws.elements, product, candidates, model_name=pipe.model_name, keywords=written.plan.keywords)
        if stored is not None:
            _insert_sections(ws, stored.code, stored.sections or [], lambda key: section_drafts(written, key),
                             pipe.guardrails(product, LONG_HEADLINE))
            result.review = article_review(ws, stored.code)
    return result


def article_review(ws: Workspace, code: str) -> ArticleReview:
    """A stored article and its sections (an article stored before section review gets its sections from its paragraphs)."""
    element = ws.elements.get(code)
    if element.kind != "article":
        raise CreativeError(f"{code} is a {element.kind}, not an article")
    attrs = element.attributes or {}
    rows = _section_rows(ws, [code])
    if not rows:
        product = get_product(ws.engine, attrs.get("product_id", ""))
        paragraphs = [p for p in (element.text or "").split("\n\n") if p.strip()]
        meta = attrs.get("sections") or []
        if len(meta) != len(paragraphs):  # which paragraph is which is unknown: each one a lead
            meta = [{"section": "lead", "engine": attrs.get("engine", "grammar")}] * len(paragraphs)
        old = [{"section": m.get("section", "lead"), "engine": m.get("engine", "grammar"), "text": p} for m, p in zip(meta, paragraphs)]
        try:  # a flow or an earlier version stored it without what each section is about: the plan it came from says
            keys = recovered_keys(plan_article(product, list(attrs.get("keywords") or product.keywords)), [o["section"] for o in old])
        except CopyError:
            keys = [SectionKey(o["section"]) for o in old]
        for o, key in zip(old, keys):
            o.update(fact=key.fact, keyword=key.keyword, heading=heading(key))
        _insert_sections(ws, code, old, lambda key: [], _guardrails(ws, product))
        rows = _section_rows(ws, [code])
    return _review_of(element, rows)


def _review_of(element: Element, rows: Sequence[Any]) -> ArticleReview:
    attrs = element.attributes or {}
    sections = [_section_of(r) for r in rows]
    keywords = list(attrs.get("keywords") or [s.keyword for s in sections if s.keyword])
    return ArticleReview(element.code, attrs.get("product_id", ""), attrs.get("language", "en"), attrs.get("engine", "grammar"),
                         keywords, attrs.get("model"), sections, list(attrs.get("notes") or []))


def list_articles(ws: Workspace) -> list[ArticleReview]:
    """Every stored article with its sections, the newest first: the sections of all of them in one query (an article
    stored without them gets them as article_review gives them)."""
    elements = sorted(ws.elements.list("article"), key=lambda e: (e.created_at is not None, e.created_at), reverse=True)
    with ws.engine.connect() as conn:
        rows = conn.execute(select(sections_table).order_by(sections_table.c.article_code, sections_table.c.position)).all()
    by_article: dict[str, list[Any]] = {}
    for row in rows:
        by_article.setdefault(row.article_code, []).append(row)
    return [_review_of(e, by_article[e.code]) if e.code in by_article else article_review(ws, e.code) for e in elements]


def _update_section(ws: Workspace, section: ArticleSection, code: str, **values: Any) -> None:
    """Write a section's new values unless someone changed its text since it was read (another reviewer, a job)."""
    c = sections_table.c
    with ws.engine.begin() as conn:
        done = conn.execute(update(sections_table).where(c.article_code == code, c.position == section.position, c.text == section.text)
                            .values(updated_at=datetime.now(timezone.utc), **values)).rowcount
    if not done:
        raise CreativeError(f"section {section.position + 1} of {code} changed meanwhile (another reviewer or a model run); "
                            "reload the page to see it, then try again")


def _recheck(ws: Workspace, review: ArticleReview, section: ArticleSection, guard: Guardrails | None = None) -> list[str]:
    """The checks on a section against the catalog as it is now; a failing section goes back to draft with the reasons."""
    guard = guard or _guardrails(ws, get_product(ws.engine, review.product_id))
    reasons = edited_reasons(section.text, section.kind, guard, [s.text for s in review.sections if s.position != section.position])
    if reasons:  # kept for the page to show; a section accepted before a catalog change goes back to draft
        _update_section(ws, section, review.code, reasons=reasons, status="draft")
    return reasons


def accept_section(ws: Workspace, code: str, position: int, reviewer: str | None = None, accept: bool = True) -> ArticleSection:
    """Accept a section into the article people paste (refused while it fails the checks), or take it back to draft.

    The checks run again on accepting: the catalog may have changed since the text was written (a new price); the
    reasons found are kept with the section, so its page shows them, and the section is a draft until it is fixed.
    """
    review = article_review(ws, code)
    section = review.section(position)
    if accept:
        reasons = _recheck(ws, review, section)
        if reasons:
            raise SectionRefused(f"this {section.kind} fails the checks ({'; '.join(reasons)}); edit or regenerate it first")
    passed = {"reasons": []} if accept else {}  # reasons stored earlier may no longer hold (the catalog changed back)
    _update_section(ws, section, code, status="accepted" if accept else "draft", reviewer=reviewer, **passed)
    return article_review(ws, code).section(position)


def publish_article(ws: Workspace, code: str, fmt: str) -> str:
    """The accepted sections as Markdown, HTML or text, each checked again against the catalog as it is now.

    A section accepted before the catalog changed (a new price) would go out wrong: the download is refused naming
    it, and it goes back to draft with the reasons, to be fixed and accepted again.
    """
    review = article_review(ws, code)
    guard = _guardrails(ws, get_product(ws.engine, review.product_id))
    stale = [(s, reasons) for s in review.accepted if (reasons := _recheck(ws, review, s, guard))]
    if stale:
        which = "; ".join(f"section {s.position + 1} ({s.kind}): {', '.join(r)}" for s, r in stale)
        raise CreativeError(f"accepted sections no longer match the catalog, so nothing was published: {which}; they are drafts "
                            "again: fix or regenerate them, then accept them")
    return review.render(fmt)


def _norm(text: str) -> str:
    return " ".join(text.split())


def edit_section(ws: Workspace, code: str, position: int, text: str, reviewer: str | None = None) -> ArticleSection:
    """A reviewer's text for a section, judged by the guardrails and the writer's checks; refused with the reasons
    (SectionRefused) and the old text kept when it fails. An edited section goes back to draft, to be accepted."""
    review = article_review(ws, code)
    section = review.section(position)
    text = _norm(text)
    if not text:
        raise CreativeError("the new text is empty; type the section's text or cancel the edit to keep the old one")
    if text == section.text:
        return section
    product = get_product(ws.engine, review.product_id)
    guard = _guardrails(ws, product)
    others = [s.text for s in review.sections if s.position != position]
    reasons = edited_reasons(text, section.kind, guard, others, _product_texts(ws, review.product_id, code)[1])
    if reasons:
        raise SectionRefused(f"the edit fails the checks: {'; '.join(reasons)}; the old text is kept")
    before = {_norm(s["text"]): s for s in section.sentences}
    sentences = [before.get(_norm(s)) or {"text": s, "engine": "edited"} for s in variety_sentences(text, review.language)]
    _update_section(ws, section, code, text=text, sentences=sentences, status="draft", reasons=[], reviewer=reviewer,
                    replaced=[*section.replaced, section.text])
    return article_review(ws, code).section(position)


def regenerate_section(ws: Workspace, code: str, position: int, *, engine: str = "grammar", reviewer: str | None = None,
                       per_section: int = 6, pipeline: CopyPipeline | None = None) -> ArticleSection:
    """New sentences for one section only, none already used in the product's articles, checked like an edit.

    Refused (SectionRefused, the old text kept) when no new sentence is left to write or every try fails the checks.
    """
    _check_engine(engine)
    review = article_review(ws, code)
    section = review.section(position)
    if section.kind in ("point", "scene") and not (section.fact or section.keyword):
        raise SectionRefused(f"this {section.kind} was stored without what it is about (by an earlier version); "
                             "write a new article to write its sections again")
    product = get_product(ws.engine, review.product_id)
    pipe = pipeline or copy_pipeline(ws)
    engine = _engine_for(pipe, product, engine)
    guard = pipe.guardrails(product, LONG_HEADLINE)
    avoid, elsewhere = _product_texts(ws, product.product_id, code)
    others = [s.text for s in review.sections if s.position != position]
    reasons: list[str] = []
    for attempt in range(REGENERATE_TRIES):
        seed = len(section.replaced) + 1 + attempt  # a new seed each time: the model's same draws would only repeat
        written, _ = pipe.article_section(product, review.keywords, section.key, engine, per_section, avoid, seed)
        if not written.sentences:
            raise SectionRefused(f"every {section.kind} sentence the {engine} engine can write about "
                                 f"{section.fact or section.keyword or 'this'} is already used in {product.product_id}'s articles; "
                                 "edit the section by hand instead")
        new = assemble.section_dicts(written)[0]
        reasons = edited_reasons(new["text"], section.kind, guard, others, elsewhere)
        if not reasons:
            sentences = [dict(s) for s in new["sentences"]]
            _update_section(ws, section, code, text=new["text"], sentences=sentences, status="draft", reasons=[],
                            drafts=section_drafts(written, section.key), reviewer=reviewer, replaced=[*section.replaced, section.text])
            return article_review(ws, code).section(position)
        avoid.append(new["text"])
    raise SectionRefused(f"the {section.kind} written again failed the checks {REGENERATE_TRIES} times "
                         f"(last: {'; '.join(reasons)}); the old text is kept")
