"""Batch pages: choose elements (with a live count of banners), launch a rendering job, review its gallery under
the batch's own id, download it as a zip, start an experiment from it; an experiment's winners as a zip."""

from __future__ import annotations

import os
import tempfile

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from creative.errors import USER_ERRORS, CreativeError
from creative.services.batches import batch_folder, experiment_from_batch, review_banners
from creative.web import batch_review
from creative.web.page_common import flash, job_status, page, render, require_user, wants_json
from creative.web.security import checked_form, requires
from creative.web.uploads import safe_filename
from experiments.errors import ExperimentNotFound
from experiments.policies import DEFAULT_POLICY

BANNER_DECISIONS = {"approve": "approved", "reject": "rejected", "clear": None}


def _selection(values: FormData | QueryParams) -> dict[str, list[str]]:
    return {key: [str(v) for v in values.getlist(key) if str(v).strip()] for key in batch_review.SELECTION_FIELDS}


def _max_n(values: FormData | QueryParams) -> int:
    try:
        return int(str(values.get("max_creatives") or batch_review.DEFAULT_MAX_CREATIVES))
    except ValueError:
        raise CreativeError("at most must be a whole number, e.g. 12") from None


@page
async def batches_page(request: Request) -> Response:
    state = request.app.state
    options = await run_in_threadpool(batch_review.batch_options, state.ws)
    jobs = await run_in_threadpool(state.jobs.recent, "batch")
    return render(request, "batches.html", {"options": options, "jobs": jobs})


@page
async def banner_count(request: Request) -> Response:
    """The number of banners the form's current choice makes (the launch's own selection code)."""
    query = request.query_params
    try:
        data = {"ok": True, **await run_in_threadpool(batch_review.count_message, request.app.state.ws, _selection(query), _max_n(query))}
    except USER_ERRORS as exc:  # an incomplete choice is part of filling in the form, not a failed request
        data = {"ok": False, "banners": None, "message": str(exc)}
    return JSONResponse(data, headers={"cache-control": "no-store"})


@requires("batches:write")
async def launch_batch(request: Request) -> Response:
    user = require_user(request)
    form = await checked_form(request)
    state = request.app.state
    selection = _selection(form)
    try:
        max_n = _max_n(form)
        work = await run_in_threadpool(batch_review.batch_work, state.ws, selection, max_n)
    except USER_ERRORS as exc:
        flash(request, str(exc), "error")
        return RedirectResponse("/batches", status_code=303)
    job_id = state.jobs.submit("batch", {**selection, "max_creatives": max_n}, user.username, work)
    return RedirectResponse(f"/batches/{job_id}", status_code=303)


@page
async def batch_page(request: Request) -> Response:
    """A rendering job while it runs (then its batch, under the batch id), or a batch by its id."""
    state, key = request.app.state, request.path_params["job"]
    job = await run_in_threadpool(state.jobs.get, key)
    if job is not None and job.kind == "batch":
        if job.status == "done" and (job.result or {}).get("batch"):
            return RedirectResponse(f"/batches/{job.result['batch']}", status_code=303)
        return render(request, "batch_job.html", {"job": await run_in_threadpool(state.jobs.status, job)})
    try:
        view = await run_in_threadpool(batch_review.batch_view, state.ws, state.jobs, key)
    except batch_review.BatchUnknown as exc:
        raise HTTPException(404, str(exc)) from None
    return render(request, "batch.html", {"view": view})


@page
async def job_json(request: Request) -> Response:
    return await job_status(request, "batch", "no such batch job")


@page
async def batch_file(request: Request) -> Response:
    """A file of a batch's folder (its banners, manifest, static gallery); the path must stay inside it."""
    state = request.app.state
    try:
        folder = await run_in_threadpool(batch_review.batch_folder, state.ws, state.jobs, request.path_params["job"])
    except batch_review.BatchUnknown as exc:
        raise HTTPException(404, str(exc)) from None
    target = (folder / request.path_params["name"]).resolve()
    if not target.is_relative_to(folder) or not target.is_file():
        raise HTTPException(404, "no such file in this batch")
    return FileResponse(target, headers={"cache-control": "private, max-age=3600"})


async def _zip_response(build, filename: str) -> Response:
    """Build a zip in a temporary file off the event loop, send it, then delete it."""
    spool = tempfile.NamedTemporaryFile(prefix="creative-", suffix=".zip", delete=False)
    try:
        with spool:
            await run_in_threadpool(build, spool)
    except BaseException:
        os.unlink(spool.name)
        raise
    return FileResponse(spool.name, media_type="application/zip", filename=safe_filename(filename, default="banners.zip"),
                        background=BackgroundTask(os.unlink, spool.name))


@page
async def batch_download(request: Request) -> Response:
    state, batch = request.app.state, request.path_params["job"]
    only = "approved" if request.query_params.get("only") == "approved" else None
    try:
        return await _zip_response(lambda out: batch_review.batch_zip(state.ws, state.jobs, batch, out, only),
                                   f"batch-{batch}{'-approved' if only else ''}.zip")
    except batch_review.BatchUnknown as exc:
        raise HTTPException(404, str(exc)) from None
    except USER_ERRORS as exc:
        raise HTTPException(409, str(exc)) from None


@page
async def winners_download(request: Request) -> Response:
    ws, experiment_id = request.app.state.ws, request.path_params["experiment"]
    try:
        return await _zip_response(lambda out: batch_review.winners_zip(ws, experiment_id, out), f"winners-{experiment_id}.zip")
    except ExperimentNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except USER_ERRORS as exc:
        raise HTTPException(409, str(exc)) from None


@requires("batches:write")
async def review_batch_banners(request: Request) -> Response:
    """Approve, reject or clear one banner (or the ticked ones) of a batch; stored, shown on the tile in place."""
    user = require_user(request)
    form = await checked_form(request)
    batch = request.path_params["job"]
    decision = str(form.get("decision", ""))
    if decision not in BANNER_DECISIONS:
        raise HTTPException(400, f"decision must be one of {', '.join(BANNER_DECISIONS)}")
    ids = [str(v) for v in form.getlist("ids")]
    state = BANNER_DECISIONS[decision]
    try:
        n = await run_in_threadpool(lambda: review_banners(request.app.state.ws, ids, state, user.username, batch=batch))
        message, kind = (f"{n} banner{'s' if n != 1 else ''} " + (state or "back to review")), "ok"
    except USER_ERRORS as exc:
        message, kind = str(exc), "error"
    if wants_json(request):
        return JSONResponse({"message": message, "kind": kind, "review": state or "none", "label": state or "to review"},
                            status_code=200 if kind == "ok" else 422)
    flash(request, message, kind)
    return RedirectResponse(f"/batches/{batch}#gallery", status_code=303)


@requires("experiments:write")
async def batch_experiment(request: Request) -> Response:
    require_user(request)
    form = await checked_form(request)
    batch = request.path_params["job"]
    name = str(form.get("name") or f"batch {batch}").strip()[:200]
    policy = str(form.get("policy") or DEFAULT_POLICY)
    try:
        experiment_id, left_out = await run_in_threadpool(experiment_from_batch, request.app.state.ws, batch, name, policy)
    except USER_ERRORS as exc:
        if await run_in_threadpool(batch_folder, request.app.state.ws, batch) is None:
            raise HTTPException(404, str(exc)) from None  # no such batch: no page to send the message to
        flash(request, str(exc), "error")
        return RedirectResponse(f"/batches/{batch}", status_code=303)
    flash(request, f"experiment {experiment_id} created from batch {batch}"
          + (f"; {left_out} rejected banner{'s' if left_out != 1 else ''} left out" if left_out else ""))
    return RedirectResponse(f"/experiments/{experiment_id}", status_code=303)


routes = [
    Route("/batches", batches_page, methods=["GET"]),
    Route("/batches", launch_batch, methods=["POST"]),
    Route("/batches/count.json", banner_count),
    Route("/batches/{job}", batch_page),
    Route("/batches/{job}/status.json", job_json),
    Route("/batches/{job}/download.zip", batch_download),
    Route("/batches/{job}/files/{name:path}", batch_file),
    Route("/batches/{job}/review", review_batch_banners, methods=["POST"]),
    Route("/batches/{job}/experiment", batch_experiment, methods=["POST"]),
    Route("/experiments/{experiment}/winners.zip", winners_download),
]
