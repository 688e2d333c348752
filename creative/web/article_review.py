"""The article view as a marketer reads it: articles by product, each by section, and the jobs the model runs for them.

Writing with the grammar engine answers at once; with the language model it is a background job (kind
"article") with progress, as is writing one section again with the model. The business steps (writing,
checking, storing, accepting, editing) are `creative.services.copy`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from creative.catalog import Product, get_product, list_products
from creative.errors import CreativeError
from creative.services import Workspace
from creative.services.copy import ArticleReview, check_keywords, list_articles, regenerate_section, write_article
from creative.web.copy_review import loaded_pipeline
from creative.web.jobs import JobRunner, JobStatus, Progress

ENGINES = ("grammar", "lm")
ENGINE_LABELS = {"grammar": "templates (instant)", "lm": "language model (a background job)"}
JOB_KIND = "article"
JOBS_SHOWN = 6
MAX_KEYWORDS = 8
SECTION_LABELS = {"headline": "Headline", "lead": "Lead", "point": "Selling point", "scene": "Scene", "cta": "Call to action"}
WRITERS = {"lm": "the model", "grammar": "the templates", "edited": "a reviewer"}


@dataclass
class ArticleJob:
    job: JobStatus
    product_id: str
    engine: str
    what: str  # "a new article" or "section 3 written again"
    code: str | None  # the stored article it made or works on

    @property
    def busy(self) -> bool:
        return self.job.busy


@dataclass
class ArticleList:
    products: list[Product]
    articles: list[tuple[ArticleReview, str]]  # each article and its product's name
    jobs: list[ArticleJob]


def _job(jobs: JobRunner, row: Any) -> ArticleJob:
    params, result = row.params or {}, row.result or {}
    position = params.get("position")
    what = "a new article" if position is None else f"section {int(position) + 1} written again"
    return ArticleJob(jobs.status(row), str(params.get("product", "")), str(params.get("engine", "")), what,
                      result.get("code") or params.get("code"))


def article_jobs(jobs: JobRunner, code: str | None = None) -> list[ArticleJob]:
    """Recent article jobs, the newest first (only those working on `code` when it is given)."""
    out = [_job(jobs, row) for row in jobs.recent(JOB_KIND, limit=JOBS_SHOWN if code is None else 40)]
    return [j for j in out if j.code == code][:JOBS_SHOWN] if code is not None else out


def article_list(ws: Workspace, jobs: JobRunner) -> ArticleList:
    catalog = list_products(ws.engine)
    names = {p.product_id: p.name for p in catalog}
    return ArticleList(catalog, [(a, names.get(a.product_id, a.product_id)) for a in list_articles(ws)], article_jobs(jobs))


def parse_keywords(text: str) -> list[str] | None:
    """Comma-separated keywords (None: the product's own); at most MAX_KEYWORDS."""
    keywords = [k.strip() for k in text.replace("，", ",").split(",") if k.strip()]
    if len(keywords) > MAX_KEYWORDS:
        raise CreativeError(f"at most {MAX_KEYWORDS} keywords, got {len(keywords)}; each becomes a section")
    if any(len(k) > 40 for k in keywords):
        raise CreativeError("a keyword is at most 40 characters; separate keywords with commas")
    return keywords or None


def check_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise CreativeError(f"engine must be one of {', '.join(ENGINES)}")
    return engine


def written_message(written) -> str:
    best = written.best
    if written.review is None:
        return f"the article failed the guardrails and was not stored: {'; '.join(best.reasons) or 'not accepted'}"
    lm = sum(s["engine"] == "lm" for sec in best.sections or [] for s in sec["sentences"])
    said = sum(len(sec["sentences"]) for sec in best.sections or [])
    by = f"{lm} of {said} sentences by the model" if lm else f"all {said} sentences by the templates"
    notes = [n for n in best.notes if not n.startswith("model wrote")]  # that count is said just before
    return f"article {written.review.code} written: {len(written.review.sections)} sections, {by}" + "".join(f"; note: {n}" for n in notes)


def write_work(ws: Workspace, product_id: str, engine: str, keywords: list[str] | None) -> Callable[[Progress], dict[str, Any]]:
    """A job writing an article with the model (checked before it is queued)."""
    check_engine(engine)
    check_keywords(keywords)
    product = get_product(ws.engine, product_id)

    def work(progress: Progress) -> dict[str, Any]:
        pipeline = loaded_pipeline(ws, product, engine, progress)
        writing = f"writing the article ({engine})"
        progress(0, 0, "writing the article", phase=writing)
        written = write_article(ws, product.product_id, engine=engine, keywords=keywords, pipeline=pipeline,
                                progress=lambda done, total: progress(done, total, "writing the article: model sentences drafted",
                                                                      phase=writing))
        message = written_message(written)
        if written.review is None:  # nothing stored: the job failed, saying why
            raise CreativeError(message)
        progress(1, 1, message, phase=writing)
        return {"product_id": product.product_id, "code": written.review.code if written.review else None, "message": message,
                "reasons": written.best.reasons, "notes": written.best.notes}

    return work


def regenerate_work(ws: Workspace, review: ArticleReview, position: int, engine: str, username: str) -> Callable[[Progress], dict[str, Any]]:
    """A job writing one section of `review`'s article again with the model (checked before it is queued)."""
    code = review.code
    review.section(position)
    product = get_product(ws.engine, review.product_id)

    def work(progress: Progress) -> dict[str, Any]:
        pipeline = loaded_pipeline(ws, product, engine, progress)
        writing = f"writing a section ({engine})"
        progress(0, 1, f"writing section {position + 1} again", phase=writing)
        section = regenerate_section(ws, code, position, engine=engine, reviewer=username, pipeline=pipeline)
        message = f"section {position + 1} written again ({section.engine}); accept it to publish it"
        progress(1, 1, message, phase=writing)
        return {"code": code, "position": position, "message": message}

    return work
