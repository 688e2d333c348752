"""Copy review pages: generate title candidates as a background job, then approve, reject, un-approve or edit them.

Every post answers a script's fetch with JSON (a message and the review's new HTML, swapped in place: no
reload, the reader keeps their place) and a plain form post with a redirect and a flash message.
"""

from __future__ import annotations

from typing import Any, Callable

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from creative.errors import CreativeError
from creative.web import article_pages, copy_review
from creative.web.page_common import answer, fragment, job_status, page, render, require_user
from creative.web.security import checked_form, requires

REVIEW = "_copy_review.html"


def _review_context(request: Request) -> dict[str, Any]:
    state = request.app.state
    return {"review": copy_review.copy_review(state.ws, state.jobs), "engines": copy_review.COPY_ENGINES}


async def _review(request: Request) -> dict[str, Any]:
    return await run_in_threadpool(_review_context, request)


@page
async def copy_page(request: Request) -> Response:
    return render(request, "copy.html", await _review(request))


@page
async def review_fragment(request: Request) -> Response:
    return HTMLResponse(fragment(request, REVIEW, await _review(request)), headers={"cache-control": "no-store"})


@page
async def copy_status(request: Request) -> Response:
    return await job_status(request, "copy", "no such copy run")


async def _answer(request: Request, action: Callable[[], str], anchor: str = "") -> Response:
    """A post's answer (page_common.answer): the review's new HTML swapped in, or back to the copy page at `anchor`."""
    return await answer(request, action, REVIEW, lambda: _review_context(request), f"/copy{anchor}")


@requires("copy:write")
async def copy_generate(request: Request) -> Response:
    user = require_user(request)
    form = await checked_form(request)
    state = request.app.state
    product, engine = str(form.get("product", "")), str(form.get("engine", "grammar"))

    def submit() -> str:
        try:
            n = int(str(form.get("n") or 5))
        except ValueError:
            raise CreativeError("titles per style must be a whole number, e.g. 3") from None
        work = copy_review.copy_work(state.ws, product, engine, n)
        job_id = state.jobs.submit("copy", {"product": product, "engine": engine, "n": n}, user.username, work)
        return f"generating {n} titles per style for {product} (run {job_id})"

    return await _answer(request, submit)


def _decision(form) -> str:
    decision = str(form.get("decision", ""))
    if decision not in copy_review.DECISIONS:
        raise HTTPException(400, f"decision must be one of {', '.join(copy_review.DECISIONS)}")
    return decision


@requires("copy:write")
async def copy_decide(request: Request) -> Response:
    """One candidate (its own buttons) or many (`ids` ticked in a run): approve, reject or un-approve."""
    user = require_user(request)
    form = await checked_form(request)
    decision = _decision(form)
    state, job_id = request.app.state, request.path_params["job"]
    index = request.path_params.get("index")
    ids = [index] if index is not None else [str(v) for v in form.getlist("ids")]
    return await _answer(request, lambda: copy_review.copy_decide(state.ws, state.jobs, job_id, ids, decision, user.username),
                         f"#run-{job_id}")


@requires("copy:write")
async def copy_edit(request: Request) -> Response:
    require_user(request)
    form = await checked_form(request)
    state, job_id = request.app.state, request.path_params["job"]
    text = str(form.get("text", ""))
    return await _answer(request, lambda: copy_review.copy_edit(state.ws, state.jobs, job_id, request.path_params["index"], text),
                         f"#run-{job_id}")


routes = [
    *article_pages.routes,  # first: /copy/articles/... before the runs' /copy/{job}/...
    Route("/copy", copy_page),
    Route("/copy/review.html", review_fragment),
    Route("/copy/generate", copy_generate, methods=["POST"]),
    Route("/copy/{job}/status.json", copy_status),
    Route("/copy/{job}/decide", copy_decide, methods=["POST"]),
    Route("/copy/{job}/{index}/decide", copy_decide, methods=["POST"]),
    Route("/copy/{job}/{index}/edit", copy_edit, methods=["POST"]),
]
