"""UI pages: login, catalog, experiments, user tags (elements: element_pages; copy review: copy_pages; batches: batch_pages).

Every page needs a logged-in user; every post goes through `checked_form` (CSRF + origin). Work that
takes more than a moment (rendering a batch) runs as a background job the page polls.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from creative.catalog import import_catalog, list_products
from creative.elements.store import ElementStore
from creative.errors import CatalogRejected
from creative.services import archive_experiment, close_round, pause_experiment, resume_experiment, stop_experiment
from creative.services.experiments import update_settings
from creative.services.reports import report_path, round_report_dir, valid_experiment_id
from creative.web import integrations
from creative.web.charts import bar_chart, line_chart
from creative.web.page_common import flash as _flash
from creative.web.page_common import page
from creative.web.page_common import render as _render
from creative.web.page_common import require_user as _require
from creative.web.scheduler import get_schedule, set_schedule
from creative.web.security import checked_form, log_in, log_out, requires
from creative.web.uploads import safe_filename, staged_upload
from experiments.errors import ExperimentError, ExperimentNotFound, InvalidExperiment
from experiments.model import ExperimentConfig
from experiments.rounds import round_history
from experiments.summary import CHART_TOP, chart_series, choice_effects, experiment_summary
from experiments.tag_store import StoredTags, latest_tags
from experiments.tags import export_tags


# ---- helpers ---------------------------------------------------------------------------------------
def _store(request: Request) -> ElementStore:
    return request.app.state.ws.elements


def _safe_next(target: str | None) -> str:
    """Only local paths: a login link must not send the user to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target or urlparse(target).netloc:
        return "/"
    return target


# ---- login ------------------------------------------------------------------------------------------
async def login_page(request: Request) -> Response:
    return _render(request, "login.html", {"next": _safe_next(request.query_params.get("next"))})


async def login(request: Request) -> Response:
    form = await checked_form(request)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    if await log_in(request, username, password) is None:
        return _render(request, "login.html", {"error": "wrong user name or password", "next": _safe_next(str(form.get("next", "")))}, status=401)
    return RedirectResponse(_safe_next(str(form.get("next", ""))), status_code=303)


async def logout(request: Request) -> Response:
    await checked_form(request)
    await log_out(request)
    return RedirectResponse("/login", status_code=303)


@page
async def home_page(request: Request) -> Response:
    return RedirectResponse("/elements", status_code=303)


# ---- catalog ----------------------------------------------------------------------------------------
@page
async def catalog_page(request: Request) -> Response:
    products = await run_in_threadpool(list_products, request.app.state.engine)
    known = {e.code for e in await run_in_threadpool(_store(request).list, "product")}  # a removed picture is shown as removed, not linked
    return _render(request, "catalog.html", {"products": products, "known": known})


@requires("catalog:write")
async def catalog_import(request: Request) -> Response:
    _require(request)
    form = await checked_form(request)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        _flash(request, "choose a .csv or .json catalog file", "error")
        return RedirectResponse("/catalog", status_code=303)
    name = safe_filename(upload.filename, default="catalog.csv")
    data = await upload.read()

    def run() -> str:
        with staged_upload(request.app.state.home.root, name, data) as path:
            try:
                report = import_catalog(request.app.state.engine, path, _store(request).image_resolver())
            except CatalogRejected as exc:
                raise CatalogRejected(str(exc).replace(str(path), name)) from None
        return f"{name}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged"

    try:
        _flash(request, await run_in_threadpool(run))
    except CatalogRejected as exc:
        _flash(request, str(exc), "error")
    request.app.state.serving.invalidate()
    return RedirectResponse("/catalog", status_code=303)


# ---- experiments ------------------------------------------------------------------------------------
@page
async def experiments_page(request: Request) -> Response:
    store = request.app.state.experiment_store

    def load():
        return [store.status(i) for i in store.experiment_ids()]

    return _render(request, "experiments.html", {"experiments": list(reversed(await run_in_threadpool(load)))})


def _experiment_context(request: Request, experiment_id: str, vs: str) -> dict[str, Any]:
    """Results as the closed rounds stored them, summarised for a marketer (experiments.summary, as the report does)."""
    state = request.app.state
    ws = state.ws
    status = ws.experiments.status(experiment_id)
    arms = ws.experiments.arms(experiment_id)
    history = round_history(ws.engine, experiment_id)
    summary = experiment_summary(status, arms, history, vs)
    series = chart_series(history, summary)
    markers = [(r.round_no, r.decision.kind) for r in history if r.decision.kind != "continue"]
    charts = {
        "traffic": line_chart(series.traffic, title="Share of impressions in each round", y_label="share", chart_id="chart-traffic",
                                 y_max=1.0, percent=True, markers=markers),
        "ctr": line_chart(series.ctr, title="Click-through rate at each round's close", y_label="CTR", chart_id="chart-ctr",
                          percent=True, markers=markers),
    }
    effects = integrations.element_effects(ws, experiment_id)
    last_round = history[-1].round_no if history else None
    kept = last_round is not None and valid_experiment_id(experiment_id) and (round_report_dir(ws.home, experiment_id, last_round) / "index.html").is_file()
    return {"status": status, "summary": summary, "history": history, "last_round": last_round,
            "report_url": report_path(experiment_id, last_round) if kept else None,
            "charts": charts, "choices": choice_effects(effects.effects) if effects else None,
            "config": ExperimentConfig.from_dict(status.config), "chart_top": CHART_TOP,
            "schedule": get_schedule(ws.engine, experiment_id), "pending": state.recorder.pending}


@page
async def experiment_page(request: Request) -> Response:
    experiment_id = request.path_params["experiment"]
    try:
        ctx = await run_in_threadpool(_experiment_context, request, experiment_id, request.query_params.get("vs") or "control")
    except ExperimentNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except InvalidExperiment as exc:
        raise HTTPException(400, str(exc)) from None
    return _render(request, "experiment.html", ctx)


async def _experiment_action(request: Request, action) -> Response:
    """A POST on an experiment: `action(experiment_id, form) -> message` in a worker thread, shown as a flash."""
    _require(request)
    form = await checked_form(request)
    experiment_id = request.path_params["experiment"]
    try:
        _flash(request, await run_in_threadpool(action, experiment_id, form))
    except ExperimentNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except ExperimentError as exc:
        _flash(request, str(exc), "error")
    request.app.state.serving.invalidate(experiment_id)
    return RedirectResponse(f"/experiments/{quote(experiment_id)}", status_code=303)


@requires("rounds:write")
async def run_round_now(request: Request) -> Response:
    state = request.app.state

    def close(experiment_id: str, form) -> str:
        # the recorder's flush first: everything served so far belongs to this round
        closed = close_round(state.ws, experiment_id, wait=5.0, flush=state.recorder.flush, force=True,  # a person's "now"
                             keep_report=True)
        d = closed.result.decision
        return f"round {closed.result.round_no} closed: {d.kind}" + (f" ({d.reason})" if d.reason else "")

    return await _experiment_action(request, close)


LIFECYCLE = {"pause": pause_experiment, "resume": resume_experiment, "stop": stop_experiment, "archive": archive_experiment}


@requires("lifecycle:write")
async def change_lifecycle(request: Request) -> Response:
    """Pause, resume, stop or archive: the use case checks the step is allowed from the current state."""
    step = LIFECYCLE.get(request.path_params["step"])
    if step is None:
        raise HTTPException(404, f"no such step; use one of {', '.join(LIFECYCLE)}")
    ws = request.app.state.ws
    return await _experiment_action(request, lambda experiment_id, form: step(ws, experiment_id).summary())


def _settings_from(form) -> dict[str, Any]:
    try:
        return {"tag_min_impressions": int(str(form.get("tag_min_impressions", ""))),
                "tag_min_probability": float(str(form.get("tag_min_probability", "")))}
    except ValueError:
        raise InvalidExperiment("tag thresholds must be numbers: impressions a whole number, probability between 0.5 and 1") from None


@requires("experiments:write")
async def experiment_settings(request: Request) -> Response:
    ws = request.app.state.ws

    def save(experiment_id: str, form) -> str:
        ws.experiments.status(experiment_id)  # an unknown experiment is a 404 before its form is judged
        config = update_settings(ws, experiment_id, **_settings_from(form))
        return (f"tag thresholds saved: at least {config.tag_min_impressions} impressions and probability "
                f"{config.tag_min_probability:g}; the tags use them from now on")

    return await _experiment_action(request, save)


@requires("schedules:write")
async def schedule_rounds(request: Request) -> Response:
    _require(request)
    form = await checked_form(request)
    experiment_id = request.path_params["experiment"]
    try:
        every = int(form.get("every_minutes") or 0)
    except ValueError:
        raise HTTPException(400, "minutes must be a whole number") from None
    try:
        request.app.state.experiment_store.status(experiment_id)
        await run_in_threadpool(set_schedule, request.app.state.engine, experiment_id, every)
        _flash(request, f"a round will close every {every} minutes" if every else "schedule turned off")
    except ExperimentNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except ExperimentError as exc:
        _flash(request, str(exc), "error")
    return RedirectResponse(f"/experiments/{quote(experiment_id)}", status_code=303)


# ---- user tags --------------------------------------------------------------------------------------
async def _stored_tags(request: Request, experiment_id: str) -> StoredTags:
    """The tags the last closed round stored (computed by `close_round`, never on a page view)."""
    store = request.app.state.experiment_store
    if experiment_id not in await run_in_threadpool(store.experiment_ids):
        raise HTTPException(404, f"no experiment {experiment_id!r}")
    return await run_in_threadpool(latest_tags, request.app.state.engine, experiment_id)


@page
async def tags_page(request: Request) -> Response:
    store = request.app.state.experiment_store
    ids = await run_in_threadpool(store.experiment_ids)
    experiment_id = request.query_params.get("experiment") or (ids[-1] if ids else None)
    ctx: dict[str, Any] = {"ids": ids, "experiment_id": experiment_id, "stored": None}
    if experiment_id:
        stored = await _stored_tags(request, experiment_id)
        counts: dict[str, int] = {}
        for tag in stored.result.tags:
            counts[tag.label] = counts.get(tag.label, 0) + 1
        bars = sorted(counts.items(), key=lambda kv: -kv[1])
        ctx.update(stored=stored, result=stored.result, bars=bars,
                   chart=bar_chart(bars, title="Tagged users per preference", chart_id="chart-tags") if bars else None)
    return _render(request, "tags.html", ctx)


@page
async def tags_export(request: Request) -> Response:
    experiment_id = request.query_params.get("experiment", "")
    stored = await _stored_tags(request, experiment_id)

    def write() -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            return export_tags(stored.result, Path(tmp) / "tags.csv", fmt="csv", experiment_id=experiment_id).read_bytes()

    filename = safe_filename(f"tags-{experiment_id}-round-{stored.round_no}.csv")
    return Response(await run_in_threadpool(write), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{filename}"'})


routes = [
    Route("/", home_page),
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/catalog", catalog_page),
    Route("/catalog/import", catalog_import, methods=["POST"]),
    Route("/experiments", experiments_page),
    Route("/experiments/{experiment}", experiment_page),
    Route("/experiments/{experiment}/round", run_round_now, methods=["POST"]),
    Route("/experiments/{experiment}/schedule", schedule_rounds, methods=["POST"]),
    Route("/experiments/{experiment}/settings", experiment_settings, methods=["POST"]),
    Route("/experiments/{experiment}/{step:str}", change_lifecycle, methods=["POST"]),
    Route("/tags", tags_page),
    Route("/tags/export.csv", tags_export),
]
