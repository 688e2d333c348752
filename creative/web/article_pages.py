"""Article pages: write an article for a product, then review it section by section (accept, write again, edit).

Like the copy review, every post answers a script's fetch with JSON (a message and the part of the page
to swap in: no reload) and a plain form post with a redirect and a flash message. Writing with the model,
and writing a section again with it, run as background jobs the page polls.
"""

from __future__ import annotations

from typing import Any, Callable

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from creative.catalog import get_product
from creative.errors import CreativeError, ElementNotFound, ProductNotFound
from creative.services.copy import accept_section, article_review, edit_section, publish_article, regenerate_section, write_article
from creative.web import article_review as views
from creative.web.page_common import answer, fragment, job_status, page, render, require_user
from creative.web.security import checked_form, requires

LIST = "_article_list.html"
SECTIONS = "_article_sections.html"
DOWNLOADS = {"md": ("markdown", "text/markdown; charset=utf-8"), "html": ("html", "text/html; charset=utf-8"),
             "txt": ("text", "text/plain; charset=utf-8")}
MAX_TEXT = 4000  # characters of a section a reviewer may post


def _list_context(request: Request) -> dict[str, Any]:
    state = request.app.state
    return {"listing": views.article_list(state.ws, state.jobs), "engines": views.ENGINES, "engine_labels": views.ENGINE_LABELS}


def _article_context(request: Request, code: str) -> dict[str, Any]:
    state = request.app.state
    try:
        review = article_review(state.ws, code)
    except ElementNotFound:
        raise HTTPException(404, f"no article {code}; write one on the articles page") from None
    try:
        product = get_product(state.ws.engine, review.product_id)
        name = product.name
    except ProductNotFound:
        name = review.product_id
    return {"review": review, "product_name": name, "jobs": views.article_jobs(state.jobs, code), "labels": views.SECTION_LABELS,
            "writers": views.WRITERS, "engines": views.ENGINES, "engine_labels": views.ENGINE_LABELS}


@page
async def articles_page(request: Request) -> Response:
    return render(request, "articles.html", await run_in_threadpool(_list_context, request))


@page
async def list_fragment(request: Request) -> Response:
    html = fragment(request, LIST, await run_in_threadpool(_list_context, request))
    return HTMLResponse(html, headers={"cache-control": "no-store"})


@page
async def article_job_status(request: Request) -> Response:
    return await job_status(request, views.JOB_KIND, "no such article job")


@page
async def article_page(request: Request) -> Response:
    return render(request, "article.html", await run_in_threadpool(_article_context, request, request.path_params["code"]))


@page
async def sections_fragment(request: Request) -> Response:
    context = await run_in_threadpool(_article_context, request, request.path_params["code"])
    return HTMLResponse(fragment(request, SECTIONS, context), headers={"cache-control": "no-store"})


@page
async def article_download(request: Request) -> Response:
    """The accepted sections as Markdown, HTML or text: a download, or (?inline=1) the text a copy button puts on the clipboard."""
    code, ext = request.path_params["code"], request.path_params["ext"]
    if ext not in DOWNLOADS:
        raise HTTPException(404, "download the article as .md, .html or .txt")
    fmt, media = DOWNLOADS[ext]
    try:
        text = await run_in_threadpool(publish_article, request.app.state.ws, code, fmt)
    except ElementNotFound:
        raise HTTPException(404, f"no article {code}") from None
    except CreativeError as exc:
        raise HTTPException(409, str(exc)) from None
    headers = {"cache-control": "no-store"}
    if request.query_params.get("inline") != "1":
        headers["content-disposition"] = f'attachment; filename="{code}.{ext}"'
    return Response(text, media_type=media, headers=headers)


@requires("copy:write")
async def write(request: Request) -> Response:
    """Grammar answers with the stored article (the page opens it); the model runs as a job the list page polls."""
    user = require_user(request)
    form = await checked_form(request)
    state = request.app.state
    product, engine = str(form.get("product", "")), str(form.get("engine", "grammar"))
    made: dict[str, str | None] = {}

    def submit() -> str:
        keywords = views.parse_keywords(str(form.get("keywords", ""))[:400])
        views.check_engine(engine)
        if engine == "grammar":
            written = write_article(state.ws, product, engine="grammar", keywords=keywords)
            if written.review is None:  # nothing stored: an error to show, not a success to open
                raise CreativeError(views.written_message(written))
            made["code"] = written.review.code
            return views.written_message(written)
        work = views.write_work(state.ws, product, engine, keywords)
        job_id = state.jobs.submit(views.JOB_KIND, {"product": product, "engine": engine, "keywords": keywords}, user.username, work)
        return f"writing an article for {product} with the language model (job {job_id})"

    return await answer(request, submit, LIST, lambda: _list_context(request), "/copy/articles",
                         lambda: f"/copy/articles/{made['code']}" if made.get("code") else None)


def _section_route(run: Callable[[Request, Any, str, int, Any], str]):
    """A post on one section: the CSRF-checked form, then `run(request, form, code, position, user)` for the message."""
    @requires("copy:write")
    async def handler(request: Request) -> Response:
        user = require_user(request)
        form = await checked_form(request)
        code, position = request.path_params["code"], request.path_params["index"]
        return await answer(request, lambda: run(request, form, code, position, user), SECTIONS,
                             lambda: _article_context(request, code), f"/copy/articles/{code}#section-{position}")

    handler.__name__ = run.__name__
    return handler


def _accept(request: Request, form: Any, code: str, position: int, user: Any) -> str:
    decision = str(form.get("decision", "accept"))
    if decision not in ("accept", "draft"):
        raise CreativeError("decision must be accept or draft")
    section = accept_section(request.app.state.ws, code, position, reviewer=user.username, accept=decision == "accept")
    return f"section {position + 1} ({section.kind}) {'accepted' if section.accepted else 'back to draft'}"


def _regenerate(request: Request, form: Any, code: str, position: int, user: Any) -> str:
    state = request.app.state
    engine = views.check_engine(str(form.get("engine", "grammar")))
    if engine == "lm":
        review = article_review(state.ws, code)
        work = views.regenerate_work(state.ws, review, position, engine, user.username)
        job_id = state.jobs.submit(views.JOB_KIND, {"product": review.product_id, "engine": engine, "code": code, "position": position},
                                   user.username, work)
        return f"writing section {position + 1} again with the language model (job {job_id})"
    section = regenerate_section(state.ws, code, position, engine="grammar", reviewer=user.username)
    return f"section {position + 1} ({section.kind}) written again; accept it to publish it"


def _edit(request: Request, form: Any, code: str, position: int, user: Any) -> str:
    text = str(form.get("text", ""))
    if len(text) > MAX_TEXT:
        raise CreativeError(f"a section is at most {MAX_TEXT} characters; shorten it")
    section = edit_section(request.app.state.ws, code, position, text, reviewer=user.username)
    return f"section {position + 1} ({section.kind}) passed the checks and was saved; accept it to publish it"


routes = [
    Route("/copy/articles", articles_page),
    Route("/copy/articles/list.html", list_fragment),
    Route("/copy/articles/write", write, methods=["POST"]),
    Route("/copy/articles/jobs/{job}/status.json", article_job_status),
    Route("/copy/articles/{code}", article_page),
    Route("/copy/articles/{code}/sections.html", sections_fragment),
    Route("/copy/articles/{code}/article.{ext}", article_download),
    Route("/copy/articles/{code}/{index:int}/accept", _section_route(_accept), methods=["POST"]),
    Route("/copy/articles/{code}/{index:int}/regenerate", _section_route(_regenerate), methods=["POST"]),
    Route("/copy/articles/{code}/{index:int}/edit", _section_route(_edit), methods=["POST"]),
]
