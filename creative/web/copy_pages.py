"""Copy review pages: generate title candidates as a background job, then approve or reject them."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from creative.errors import USER_ERRORS
from creative.web import integrations
from creative.web.page_common import flash, page, render, require_user
from creative.web.security import checked_form, requires


@page
async def copy_page(request: Request) -> Response:
    state = request.app.state
    review = await run_in_threadpool(integrations.copy_review, state.ws, state.jobs)
    return render(request, "copy.html", {"review": review, "engines": integrations.COPY_ENGINES})


@requires("copy:write")
async def copy_generate(request: Request) -> Response:
    user = require_user(request)
    form = await checked_form(request)
    state = request.app.state
    try:
        n = int(form.get("n") or 5)
        work = integrations.copy_work(state.ws, str(form.get("product", "")), str(form.get("engine", "grammar")), n)
    except ValueError:
        raise HTTPException(400, "titles per style must be a whole number") from None
    except USER_ERRORS as exc:
        flash(request, str(exc), "error")
        return RedirectResponse("/copy", status_code=303)
    job_id = state.jobs.submit("copy", {"product": str(form.get("product")), "engine": str(form.get("engine")), "n": n}, user.username, work)
    return RedirectResponse(f"/copy?job={job_id}", status_code=303)


@requires("copy:write")
async def copy_decide(request: Request) -> Response:
    user = require_user(request)
    form = await checked_form(request)
    decision = str(form.get("decision", ""))
    if decision not in ("approve", "reject"):
        raise HTTPException(400, "decision must be approve or reject")
    state = request.app.state
    try:
        message = await run_in_threadpool(integrations.copy_decide, state.ws, state.jobs, request.path_params["job"],
                                          request.path_params["index"], decision, user.username)
        flash(request, message)
    except USER_ERRORS as exc:
        flash(request, str(exc), "error")
    return RedirectResponse("/copy", status_code=303)


routes = [
    Route("/copy", copy_page),
    Route("/copy/generate", copy_generate, methods=["POST"]),
    Route("/copy/{job}/{index}/decide", copy_decide, methods=["POST"]),
]
