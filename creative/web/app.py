"""The ASGI app: UI pages and the ad-serving API over one home.

`create_app(home)` wires the database, the signing secret, the event recorder and the round
scheduler; uvicorn's lifespan starts them and, on shutdown (SIGTERM included), stops the scheduler
and drains the recorder so no served impression is lost.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from creative.errors import USER_ERRORS, CreativeError
from creative.home import Home
from creative.services import Workspace
from creative.web import api, batch_pages, copy_pages, element_pages, lifecycle, pages, reports
from creative.web.auth import signing_secret
from creative.web.jobs import JobRunner
from creative.web.recorder import EventRecorder
from creative.web.scheduler import RoundScheduler
from creative.web.security import BodyLimitMiddleware, SecurityHeadersMiddleware, SessionMiddleware
from creative.web.settings import WebSettings
from creative.web.shared_state import coordination, default_prefix
from creative.web.tokens import ImpressionSigner

log = logging.getLogger("creative.web")
HERE = Path(__file__).resolve().parent
PUBLIC_PREFIXES = ("/v1/serve", "/v1/click", "/v1/creatives/", "/static/", "/healthz")


def templates_env() -> Environment:
    # autoescape on for every template: a product name "<script>" is shown, never run
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["pct"] = lambda x, digits=2: "–" if x is None else f"{100 * x:.{digits}f}%"
    return env


async def healthz(request: Request) -> Response:
    """Readiness: 503 with the reasons while served events risk not being kept (full buffer, failing database or spool)."""
    recorder = request.app.state.recorder
    reasons = recorder.unready_reasons()
    return JSONResponse({"ok": not reasons, "reasons": reasons, "pending_events": recorder.pending, "recorded": recorder.stats.recorded,
                         "stored": recorder.stats.stored, "spooled": recorder.stats.spooled, "refused": recorder.stats.refused,
                         "rejected": recorder.stats.rejected, "limits_and_views": request.app.state.shared.health},
                        status_code=503 if reasons else 200, headers={"cache-control": "no-store"})


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/v1/") and "text/html" in request.headers.get("accept", "")


async def http_error(request: Request, exc: HTTPException) -> Response:
    if _wants_html(request):
        page = request.app.state.render(request, "error.html", {"status": exc.status_code, "message": exc.detail}, status=exc.status_code)
        page.headers.update(exc.headers or {})
        return page
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def creative_error(request: Request, exc: CreativeError) -> Response:
    if _wants_html(request):
        return request.app.state.render(request, "error.html", {"status": 400, "message": str(exc)}, status=400)
    return JSONResponse({"error": str(exc)}, status_code=400)


def create_app(home: Home, settings: WebSettings | None = None) -> Starlette:
    settings = settings or WebSettings()
    ws = Workspace.of(home)
    engine = ws.engine
    secret = signing_secret(engine)
    env = templates_env()
    # in Redis with several workers or hosts (creative.web.shared_state), else in this process
    shared = coordination(settings.redis_url, settings.redis_prefix or default_prefix(secret))

    recorder = EventRecorder(ws, flush_interval=settings.flush_interval_seconds, capacity=settings.event_buffer_max,
                             drain_seconds=settings.drain_seconds, min_free_bytes=settings.spool_min_free_bytes,
                             replay_lock=lambda: shared.exclusive("spool-replay", ttl_seconds=120, wait_seconds=10))
    scheduler = RoundScheduler(ws, recorder, poll_seconds=settings.schedule_poll_seconds,
                               exclusive=lambda: shared.exclusive("scheduled-rounds", ttl_seconds=600, wait_seconds=0))
    jobs = JobRunner(home, engine)
    serving = shared.serving_cache(ws, settings.refresh_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        recorder.start()
        if settings.run_scheduler:
            scheduler.start()
        try:
            yield
        finally:
            scheduler.stop()
            jobs.stop()
            serving.close()
            recorder.stop()
            log.info("recorder drained: %d recorded, %d stored, %d spooled", recorder.stats.recorded, recorder.stats.stored, recorder.stats.spooled)

    routes = [
        Route("/healthz", healthz),
        *api.routes,
        *lifecycle.routes,
        *reports.routes,
        *pages.routes,
        *copy_pages.routes,
        *batch_pages.routes,
        *element_pages.routes,
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: http_error, **{cls: creative_error for cls in USER_ERRORS}})
    app.add_middleware(BodyLimitMiddleware, default=settings.form_limit_bytes, limits={
        "/elements/upload": settings.upload_limit_bytes, "/catalog/import": settings.catalog_limit_bytes,
        "/v1/events": settings.events_limit_bytes})
    app.add_middleware(SecurityHeadersMiddleware, skip_prefixes=PUBLIC_PREFIXES)
    app.add_middleware(SessionMiddleware, secret=secret, max_age=settings.session_max_age_seconds,
                       secure=settings.secure_cookies, skip_prefixes=PUBLIC_PREFIXES)

    state = app.state
    state.ws, state.home, state.engine, state.settings = ws, home, engine, settings
    state.signer = ImpressionSigner(secret)
    state.recorder, state.scheduler, state.jobs = recorder, scheduler, jobs
    state.serving, state.shared = serving, shared
    state.experiment_store = ws.experiments
    state.address_limiter = shared.window_counter("address", 60)
    state.user_limiter = shared.window_counter("user", 60)
    state.login_throttle = shared.failure_throttle("login", settings.login_window_seconds)
    state.templates = env

    def render(request: Request, name: str, context: dict | None = None, status: int = 200) -> HTMLResponse:
        from creative.web.security import current_user

        ctx = {"request": request, "user": current_user(request), "csrf": request.scope.get("session", {}).get("csrf", ""),
               "path": request.url.path, **(context or {})}
        return HTMLResponse(env.get_template(name).render(ctx), status_code=status)

    state.render = render
    return app
