"""What every UI page module shares: rendering with the flash message, the login gate, the user of a post."""

from __future__ import annotations

from typing import Any, Callable
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from creative.errors import USER_ERRORS
from creative.web.security import current_user


def render(request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200) -> Response:
    flash_message = request.scope["session"].pop("flash", None)
    return request.app.state.render(request, name, {"flash": flash_message, **(context or {})}, status)


def flash(request: Request, message: str, kind: str = "ok") -> None:
    request.scope["session"]["flash"] = {"message": message, "kind": kind}


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def require_user(request: Request):
    """The user, or an HTTPException the handlers turn into a redirect (pages) or 401 (posts)."""
    user = current_user(request)
    if user is None:
        raise HTTPException(401, "log in first")
    return user


def page(handler):
    """A GET page: anonymous visitors go to the login page and come back afterwards."""
    async def wrapped(request: Request) -> Response:
        if current_user(request) is None:
            return login_redirect(request)
        return await handler(request)
    wrapped.__name__ = handler.__name__
    return wrapped


def fragment(request: Request, name: str, context: dict[str, Any] | None = None) -> str:
    """A template rendered on its own (a part of a page a script swaps in), with the page's CSRF token."""
    ctx = {"request": request, "csrf": request.scope.get("session", {}).get("csrf", ""), **(context or {})}
    return request.app.state.templates.get_template(name).render(ctx)


def wants_json(request: Request) -> bool:
    """A script's fetch (it asks for JSON); a plain form post gets a redirect and a flash message instead."""
    return "application/json" in request.headers.get("accept", "")


async def job_status(request: Request, kind: str, missing: str) -> Response:
    """The progress of the background job in the path (of `kind`), as a page's script polls it; 404 `missing` otherwise."""
    jobs = request.app.state.jobs
    job = await run_in_threadpool(jobs.get, request.path_params["job"])
    if job is None or job.kind != kind:
        raise HTTPException(404, missing)
    return JSONResponse((await run_in_threadpool(jobs.status, job)).to_json(), headers={"cache-control": "no-store"})


async def answer(request: Request, action: Callable[[], str], template: str, context: Callable[[], dict[str, Any]], back: str,
                 location: Callable[[], str | None] = lambda: None) -> Response:
    """A post's answer: `action` (a message back) runs in a worker thread; errors a user can fix are shown (422), not raised.

    A script's fetch gets JSON: the message and, on success, the page to open (`location`) when there is one, else
    `template` rendered with `context()` to swap in place; a plain form post gets a flash message and a redirect there
    (or to `back`).
    """
    try:
        message, kind = await run_in_threadpool(action), "ok"
    except USER_ERRORS as exc:
        message, kind = str(exc), "error"
    go = location() if kind == "ok" else None
    if wants_json(request):
        body: dict[str, Any] = {"message": message, "kind": kind}
        if go:
            body["location"] = go
        else:
            body["html"] = fragment(request, template, await run_in_threadpool(context))
        return JSONResponse(body, status_code=200 if kind == "ok" else 422)
    flash(request, message, kind)
    return RedirectResponse(go or back, status_code=303)
