"""JSON API for an experiment's lifecycle: POST /v1/experiments/{id}/pause | resume | stop | archive.

Each needs the lifecycle:write scope (an API key with it, or a logged-in operator's or admin's session with its
CSRF header), and answers
{"experiment_id", "previous", "status", "message"}; a step the experiment's state refuses answers 409
with the one-line reason, an unknown experiment 404.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from creative.services import archive_experiment, pause_experiment, resume_experiment, stop_experiment
from creative.web.security import requires
from experiments.errors import ExperimentError, ExperimentNotFound

STEPS = {"pause": pause_experiment, "resume": resume_experiment, "stop": stop_experiment, "archive": archive_experiment}
NO_STORE = {"cache-control": "no-store"}


async def change(request: Request, step: str) -> Response:
    experiment_id = request.path_params["experiment"]
    state = request.app.state
    try:
        done = await run_in_threadpool(STEPS[step], state.ws, experiment_id)
    except ExperimentNotFound as exc:
        return JSONResponse({"error": str(exc)}, status_code=404, headers=NO_STORE)
    except ExperimentError as exc:  # refused by the state, or a round holds the lock
        return JSONResponse({"error": str(exc)}, status_code=409, headers=NO_STORE)
    state.serving.invalidate(experiment_id)  # serving follows at once: frozen, or the leader
    return JSONResponse(done.to_dict(), headers=NO_STORE)


def _route(step: str) -> Route:
    @requires("lifecycle:write", api=True)
    async def endpoint(request: Request) -> Response:
        return await change(request, step)

    return Route(f"/v1/experiments/{{experiment}}/{step}", endpoint, methods=["POST"], name=f"experiment-{step}")


routes = [_route(step) for step in STEPS]
