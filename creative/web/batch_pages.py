"""Batch pages: choose elements, launch a rendering job, review its gallery, start an experiment from it."""

from __future__ import annotations

from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from creative.errors import USER_ERRORS
from creative.web import integrations
from creative.web.page_common import flash, page, render, require_user
from creative.web.security import checked_form, requires


@page
async def batches_page(request: Request) -> Response:
    state = request.app.state
    options = await run_in_threadpool(integrations.batch_options, state.ws)
    jobs = await run_in_threadpool(state.jobs.recent, "batch")
    return render(request, "batches.html", {"options": options, "jobs": jobs})


@requires("batches:write")
async def launch_batch(request: Request) -> Response:
    user = require_user(request)
    form = await checked_form(request)
    state = request.app.state
    selection = {key: [str(v) for v in form.getlist(key) if str(v).strip()] for key in integrations.SELECTION_FIELDS}
    try:
        max_n = int(form.get("max_creatives") or integrations.DEFAULT_MAX_CREATIVES)
    except ValueError:
        raise HTTPException(400, "max creatives must be a whole number") from None
    try:
        work = integrations.batch_work(state.ws, selection, max_n)
    except USER_ERRORS as exc:
        flash(request, str(exc), "error")
        return RedirectResponse("/batches", status_code=303)
    job_id = state.jobs.submit("batch", {**selection, "max_creatives": max_n}, user.username, work)
    return RedirectResponse(f"/batches/{job_id}", status_code=303)


def _job_or_404(request: Request):
    job = request.app.state.jobs.get(request.path_params["job"])
    if job is None:
        raise HTTPException(404, "no such batch")
    return job


@page
async def batch_page(request: Request) -> Response:
    job = _job_or_404(request)
    return render(request, "batch.html", {"job": job, "result": job.result or {}})


@page
async def job_json(request: Request) -> Response:
    job = _job_or_404(request)
    return JSONResponse({"job_id": job.job_id, "status": job.status, "done": job.done, "total": job.total, "message": job.message})


@page
async def batch_file(request: Request) -> Response:
    """A file of a batch's output directory (gallery images); the path must stay inside it."""
    job = _job_or_404(request)
    out_dir = (job.result or {}).get("out_dir")
    if not out_dir:
        raise HTTPException(404, "the batch has no output yet")
    root = Path(out_dir).resolve()
    target = (root / request.path_params["name"]).resolve()
    if not target.is_relative_to(root) or not target.is_relative_to(request.app.state.home.root) or not target.is_file():
        raise HTTPException(404, "no such file in this batch")
    return FileResponse(target)


@requires("experiments:write")
async def batch_experiment(request: Request) -> Response:
    require_user(request)
    form = await checked_form(request)
    job = _job_or_404(request)
    batch = (job.result or {}).get("batch")
    if job.status != "done" or not batch:
        raise HTTPException(409, "the batch has not finished rendering")
    name = str(form.get("name") or f"batch {job.job_id}").strip()[:200]
    policy = str(form.get("policy") or "thompson")
    try:
        experiment_id = await run_in_threadpool(integrations.experiment_from_batch, request.app.state.ws, batch, name, policy)
    except USER_ERRORS as exc:
        flash(request, str(exc), "error")
        return RedirectResponse(f"/batches/{job.job_id}", status_code=303)
    flash(request, f"experiment {experiment_id} created from the batch")
    return RedirectResponse(f"/experiments/{experiment_id}", status_code=303)


routes = [
    Route("/batches", batches_page, methods=["GET"]),
    Route("/batches", launch_batch, methods=["POST"]),
    Route("/batches/{job}", batch_page),
    Route("/batches/{job}/status.json", job_json),
    Route("/batches/{job}/files/{name:path}", batch_file),
    Route("/batches/{job}/experiment", batch_experiment, methods=["POST"]),
]
