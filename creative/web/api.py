"""The ad-serving API: /v1/serve, /v1/click, /v1/events and the creatives' images.

serve and click are public (an ad page calls them) and rate-limited per client address and per
user; the per-user limit is the experiment's own `max_events_per_user_minute`, so nothing this
server records is later rejected as a bot burst. events needs the events:write scope (an API key
with it, or a logged-in operator's or admin's session); its batch is parsed and ingested in a worker
thread (creative.web.event_batch). Each route is declared once with its parameters and answers, which
/openapi.json and /api/docs describe.
"""

from __future__ import annotations

import functools
import os
import re
import time
from dataclasses import asdict
from urllib.parse import quote

from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from creative.web.api_schemas import ApiError, EventsAnswer, ServedCreative
from creative.web.errors import BadToken
from creative.web.event_batch import MAX_EXPERIMENTS, MAX_LINES, SAMPLE_LIMIT, BatchRefused, split_batch
from creative.web.ratelimit import user_bucket
from creative.web.security import client_address, current_user, requires
from creative.web.settings import MB, WebSettings
from creative.web.tokens import Impression
from experiments.errors import ExperimentError, ExperimentNotFound
from experiments.events import CLICK, IMPRESSION, MAX_FEATURES_DEPTH, UNKNOWN_EXPERIMENT, Event
from experiments.model import MAX_CREATIVE_ID_LENGTH, RejectedLine

_SIZE = re.compile(r"^\d{1,5}x\d{1,5}$")
NO_STORE = {"cache-control": "no-store"}


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={**NO_STORE, **headers})


def _bad_id(value: str | None) -> bool:
    return not value or len(value) > MAX_CREATIVE_ID_LENGTH or not value.isprintable()


def _base_url(request: Request) -> str:
    """scheme://host of this request, without building Starlette's URL object on the hot path."""
    scope = request.scope
    host = next((v for n, v in scope["headers"] if n == b"host"), None)
    if host is None:
        return str(request.base_url).rstrip("/")
    return f"{scope.get('scheme', 'http')}://{host.decode('latin-1')}{scope.get('root_path', '')}"


async def _address_limited(request: Request, now_ms: int) -> JSONResponse | None:
    state = request.app.state
    if await state.address_limiter.ahit(client_address(request), state.settings.serve_per_address_per_minute, now_ms):
        return None
    return _error(429, "too many requests from this address; slow down", **{"retry-after": str(state.address_limiter.retry_after(now_ms))})


async def serve(request: Request) -> Response:
    """Choose a creative for (experiment, user, size), record the impression, return its image and click token."""
    state = request.app.state
    q = request.query_params
    experiment_id, user, size = q.get("experiment"), q.get("user"), q.get("size") or None
    if _bad_id(experiment_id) or _bad_id(user):
        return _error(400, "pass experiment=ID and user=U (each 1-200 printable characters)")
    if size is not None and not _SIZE.match(size):
        return _error(400, f"size {size[:20]!r} is not WIDTHxHEIGHT, e.g. 300x250")
    now_ms = int(time.time() * 1000)
    if (limited := await _address_limited(request, now_ms)) is not None:
        return limited
    try:
        view = await state.serving.view_off_loop(experiment_id)
    except ExperimentNotFound:
        return _error(404, f"no experiment {experiment_id!r}")
    if not await state.user_limiter.ahit(user_bucket(experiment_id, user, client_address(request)), view.config.max_events_per_user_minute, now_ms):
        return _error(429, "too many requests for this user; slow down", **{"retry-after": str(state.user_limiter.retry_after(now_ms))})
    choice = view.choose(user, size, state.serving.rnd, state.serving.np_rng)
    if choice is None:
        return _error(404, f"experiment {experiment_id} has no active creative of size {size}; sizes: {', '.join(sorted(k for k in view.tables if k != '*')) or 'none'}")
    creative_id, holdout = choice.creative_id, choice.holdout or None
    impression_id = f"w{os.urandom(10).hex()}"
    arm = view.arms[creative_id]
    # the round of service: a late-ingested impression is checked against the allocation it was served by
    if not state.recorder.record(Event(impression_id, IMPRESSION, now_ms, experiment_id, creative_id, user, size or arm.size,
                                       served_round=view.current_round, holdout=holdout)):
        # back-pressure: neither the database nor the spool is taking events; an ad we could not count is not served
        return _error(503, "the server cannot record impressions right now (its event buffer is full); retry shortly", **{"retry-after": "1"})
    token = state.signer.sign(Impression(experiment_id, creative_id, user, impression_id, now_ms, size or arm.size,
                                         view.current_round, choice.holdout))
    base = _base_url(request)
    return JSONResponse({
        "experiment": experiment_id,
        "creative": creative_id,
        "size": arm.size,
        "impression_id": impression_id,
        "image_url": f"{base}/v1/creatives/{quote(experiment_id, safe='')}/{quote(creative_id, safe='')}",
        "click_url": f"{base}/v1/click?token={token}",
        "token": token,
        "matched_tags": list(choice.matched),
        "round": view.current_round,
        "holdout": choice.holdout,
    }, headers=NO_STORE)


async def click(request: Request) -> Response:
    """Record a click for a token this server signed, then send the browser to the product's page."""
    state = request.app.state
    now_ms = int(time.time() * 1000)
    if (limited := await _address_limited(request, now_ms)) is not None:
        return limited
    try:
        imp = state.signer.verify(request.query_params.get("token", ""))
    except BadToken as exc:
        return _error(400, str(exc))
    try:
        view = await state.serving.view_off_loop(imp.experiment)
    except ExperimentNotFound:
        return _error(404, f"experiment {imp.experiment!r} no longer exists")
    arm = view.arms.get(imp.creative)
    if arm is None or not arm.landing_url:
        return _error(404, f"creative {imp.creative!r} has no landing page; import the product's catalog row with its landing_url")
    headers = dict(NO_STORE)
    age_ms = now_ms - imp.ts_ms
    if age_ms > view.config.attribution_window_hours * 3_600_000:
        headers["x-click-recorded"] = "no: outside the attribution window"
    elif not await state.user_limiter.ahit(user_bucket(imp.experiment, imp.user, client_address(request)), view.config.max_events_per_user_minute, now_ms):
        return _error(429, "too many requests for this user; slow down", **{"retry-after": str(state.user_limiter.retry_after(now_ms))})
    else:
        # one event id per impression: a second click on the same ad is an idempotent duplicate
        recorded = state.recorder.record(Event(f"c{imp.impression_id}", CLICK, max(now_ms, imp.ts_ms), imp.experiment, imp.creative,
                                               imp.user, imp.size, impression_id=imp.impression_id, holdout=imp.holdout or None))
        headers["x-click-recorded"] = "yes" if recorded else "no: the event buffer is full"  # the visitor still gets the page
    return RedirectResponse(arm.landing_url, status_code=302, headers=headers)


async def creative_image(request: Request) -> Response:
    view_id, creative_id = request.path_params["experiment"], request.path_params["creative"]
    try:
        view = await request.app.state.serving.view_off_loop(view_id)
    except ExperimentNotFound:
        return _error(404, f"no experiment {view_id!r}")
    arm = view.arms.get(creative_id)
    if arm is None or arm.file is None or not arm.file.is_file():
        return _error(404, f"creative {creative_id!r} has no image file in the home")
    return FileResponse(arm.file, headers={"cache-control": "public, max-age=3600"})


def _ingest_batch(store, body: bytes, forced: str | None, source: str) -> tuple[int, dict]:
    """Split, parse and ingest one batch (in a worker thread): the HTTP status and the answer's body."""
    batch = split_batch(body, forced)
    reports = []
    for experiment_id, lines in batch.groups.items():
        try:
            reports.append(store.ingest_lines(experiment_id, lines, source=source).to_dict())
        except ExperimentNotFound as exc:
            reports.append({"experiment_id": experiment_id, "error": str(exc), "lines": len(lines),
                            "rejected": {UNKNOWN_EXPERIMENT: len(lines)}, "rejected_total": len(lines),
                            "samples": [asdict(RejectedLine(n, UNKNOWN_EXPERIMENT, f"line {n}: {exc}")) for n, _ in lines[:SAMPLE_LIMIT]]})
    accepted = sum(r.get("accepted", 0) for r in reports)
    duplicates = sum(r.get("duplicates", 0) for r in reports)
    answer = {"lines": batch.lines, "accepted": accepted, "duplicates": duplicates,
              "rejected": sum(r["rejected_total"] for r in reports) + batch.unassigned_total,
              "reports": reports, "unassigned": [asdict(u) for u in batch.unassigned], "unassigned_total": batch.unassigned_total}
    if answer["rejected"] and not accepted and not duplicates:  # nothing in the batch was usable: say so with the status too
        first = min([s for r in reports for s in r["samples"]] + answer["unassigned"], key=lambda s: s["line"])
        answer["error"] = f"no line of the batch was ingested; {first['detail']}"
        return 422, answer
    return 200, answer


@requires("events:write", api=True)
async def events(request: Request) -> Response:
    """JSONL batch in the experiment wire format, for ad servers that log elsewhere; parsed and ingested off the event loop."""
    user = current_user(request)
    forced = request.query_params.get("experiment")
    if forced is not None and _bad_id(forced):
        return _error(400, "experiment=ID must be 1-200 printable characters")
    body = await request.body()
    try:
        status, answer = await run_in_threadpool(_ingest_batch, request.app.state.experiment_store, body, forced,
                                                 f"web-api:{user.username}")
    except BatchRefused as exc:
        return _error(exc.status, str(exc))
    except ExperimentError as exc:
        return _error(400, str(exc))
    # no serving view is invalidated: events change no allocation, arm or tag (rounds do), and each
    # invalidation would make every request in flight wait for a fresh read
    return JSONResponse(answer, status_code=status, headers=NO_STORE)


# ---- the API's description: routes declared once, with their parameters and answers (/openapi.json, /api/docs) --------
def _param(name: str, where: str, description: str, *, required: bool = False, pattern: str | None = None,
           max_length: int | None = None, example: str | None = None) -> dict:
    schema: dict = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    if max_length:
        schema["maxLength"] = max_length
    return {"name": name, "in": where, "required": required, "description": description, "schema": schema,
            **({"example": example} if example else {})}


def _operation(path: str, endpoint, methods: list[str], **described) -> tuple[Route, APIRoute]:
    """A route as served (Starlette's, the fast path) and as described (FastAPI's, read only by get_openapi), from one declaration."""
    return Route(path, endpoint, methods=methods), APIRoute(path, endpoint, methods=methods, response_model=None, **described)


def _answers(**by_status: str) -> dict:
    """Error answers, all {"error": "..."}: status -> when."""
    return {int(status[1:]): {"model": ApiError, "description": when} for status, when in by_status.items()}


_ID = {"required": True, "max_length": MAX_CREATIVE_ID_LENGTH}
_RATE = "too many requests from this address or for this user (Retry-After says when to retry)"
EVENTS_DESCRIPTION = f"""One JSON object per line (JSONL), in the experiment wire format:

    {{"event_id": "e1", "type": "impression", "ts": "2026-05-01T12:00:00Z", "experiment": "exp-…", "creative": "c1", "user": "u1", "size": "300x250"}}
    {{"event_id": "e2", "type": "click", "impression_id": "e1", "ts": "2026-05-01T12:00:04Z", "experiment": "exp-…", "creative": "c1", "user": "u1"}}

- **ts**: an ISO-8601 string; `Z` or an offset such as `+02:00`, fractions of a second allowed; without an offset it is UTC
  (`2026-05-01T12:00:00Z`, `2026-05-01T14:00:00.250+02:00`, `2026-05-01 12:00:00`, `2026-05-01`). Epoch numbers,
  `05/01/2026` and RFC 2822 dates are rejected as malformed; more than the experiment's `max_clock_skew_minutes` ahead, as future_timestamp.
- **ids**: `event_id`, `experiment`, `creative`, `user` are required non-empty strings; `event_id` is the idempotency key
  (a re-delivered id counts as a duplicate, never twice); a click names its impression's `event_id` in `impression_id`
  and counts once per impression, within the experiment's attribution window. Optional: `size`, `user_features` (an object
  nested at most {MAX_FEATURES_DEPTH} levels), `round` (the round it was served in), `holdout` (true: stored, never counted).
- **Limits**: at most {MAX_LINES:,} lines and the server's body limit ({WebSettings.events_limit_bytes // MB} MB by default, `WebSettings.events_limit_bytes`) a request (413 beyond either),
  and at most {MAX_EXPERIMENTS} experiments named in one batch (422). `?experiment=ID` files every line under that experiment.
- **Answer**: counts, a report per experiment with the first {SAMPLE_LIMIT} rejected lines, and the first {SAMPLE_LIMIT} lines that
  name no experiment plus their count. Line numbers are the body's own, from 1, blank lines counted. A bad line (not JSON,
  nested too deep, missing a field) is rejected alone; 422 only when no line of the batch was usable.
"""

_operations = [
    _operation("/v1/serve", serve, methods=["GET"], tags=["serving"], summary="Choose and record an impression",
               description="The creative to show a user for an experiment and placement, its image, and a signed click token; "
                           "the impression is recorded (503 with Retry-After when it cannot be kept, and the ad is then not served).",
               responses={200: {"model": ServedCreative, "description": "the creative to show"},
                          **_answers(s400="a missing or malformed experiment, user or size", s404="no such experiment, or none of its creatives has that size",
                                     s429=_RATE, s503="the server cannot record impressions right now (retry after Retry-After)")},
               openapi_extra={"parameters": [
                   _param("experiment", "query", "the experiment's id", **_ID),
                   _param("user", "query", "your stable id for the visitor (per-user limits and preference tags use it)", **_ID),
                   _param("size", "query", "the placement, WIDTHxHEIGHT; omitted: any of the experiment's sizes", pattern=_SIZE.pattern,
                          example="300x250")]}),
    _operation("/v1/click", click, methods=["GET"], tags=["serving"], summary="Record a click and redirect",
               description="Records one click per impression for a token this server signed (within the experiment's attribution window), "
                           "then redirects to the offer's landing page; `x-click-recorded` says whether the click counted.",
               status_code=302, response_class=RedirectResponse, response_description="redirect to the product's landing page",
               responses={**_answers(s400="a missing, forged or altered token", s404="the experiment or the creative's landing page is gone",
                                     s429=_RATE)},
               openapi_extra={"parameters": [_param("token", "query", "the token of a /v1/serve answer (its click_url carries it)", required=True)]}),
    _operation("/v1/events", events, methods=["POST"], tags=["events"],
               summary="Ingest a batch of impression and click events (JSONL)", description=EVENTS_DESCRIPTION,
               responses={200: {"model": EventsAnswer, "description": "ingested; rejected lines are listed by line number"},
                          422: {"model": EventsAnswer, "description": "no line was usable (`error` names the first bad line); or, "
                                                                      f"with only `error`, more than {MAX_EXPERIMENTS} experiments in one batch"},
                          **_answers(s400="a malformed ?experiment=ID", s401="no API key or session", s403="the key or role lacks events:write, or a session without the CSRF header",
                                     s413=f"over {MAX_LINES:,} lines or over the body limit")},
               openapi_extra={"security": [{"apiKey": []}],
                              "parameters": [_param("experiment", "query", "file every line under this experiment", max_length=MAX_CREATIVE_ID_LENGTH)],
                              "requestBody": {"required": True, "content": {"application/x-ndjson": {"schema": {"type": "string"}},
                                                                            "text/plain": {"schema": {"type": "string"}}}}}),
    _operation("/v1/creatives/{experiment}/{creative}", creative_image, methods=["GET"], tags=["serving"],
               summary="A creative's banner image", responses={200: {"description": "the image", "content": {"image/*": {}}},
                                                               **_answers(s404="no such experiment, creative or image file")},
               openapi_extra={"parameters": [_param("experiment", "path", "the experiment's id", required=True),
                                             _param("creative", "path", "the creative's id", required=True)]}),
]


@functools.cache
def openapi_document() -> dict:
    """The API's OpenAPI description, from the declarations above."""
    document = get_openapi(title="creative ad-serving API", version="1", routes=[described for _, described in _operations],
                           description="Serving, clicks and event ingestion. Full manual: README, \"Web app and ad-serving API\".")
    document.setdefault("components", {})["securitySchemes"] = {
        "apiKey": {"type": "http", "scheme": "bearer", "description": "an API key from `creative users api-key --scope events:write`"}}
    return document


async def openapi_json(request: Request) -> Response:
    return JSONResponse(openapi_document())


async def api_docs(request: Request) -> Response:
    """The description as a page: server-rendered, so it needs no script from elsewhere (the pages' CSP allows none)."""
    return request.app.state.render(request, "api_docs.html", {"api": openapi_document(), "described": _described_html()})


@functools.cache
def _described_html() -> dict[str, Markup]:
    """Each operation's description (our own markdown, no raw HTML) as HTML, by operationId."""
    md = MarkdownIt("commonmark", {"html": False})
    return {op["operationId"]: Markup(md.render(op.get("description", ""))) for methods in openapi_document()["paths"].values()
            for op in methods.values()}


routes = [*(served for served, _ in _operations), Route("/openapi.json", openapi_json, methods=["GET"]), Route("/api/docs", api_docs, methods=["GET"])]
