"""Where flows run: task runners (local threads or a Dask cluster), and a round schedule that outlives its server.

`serve_rounds` serves experiment_round on an interval like `Flow.serve`, and survives the Prefect server
going away: one log line when the server stops answering (Prefect's own per-poll tracebacks about it are
held back meanwhile, flows.common.QuietWhileDown), one when it is back; then runs left stuck "Submitting" are marked crashed and the
looks missed meanwhile coalesce into one. The deployment allows one run at a time and cancels a run
that would overlap it (CANCEL_NEW), so catch-up runs never close rounds side by side.
"""

from __future__ import annotations

import logging
import threading
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable
from uuid import UUID

import httpx
from prefect import get_client, serve
from prefect.client.schemas.filters import DeploymentFilter, FlowRunFilter
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy, StateType
from prefect.exceptions import ObjectNotFound
from prefect.states import Cancelled, Crashed
from prefect.task_runners import ThreadPoolTaskRunner

from creative.outage import Outage
from flows.common import PREFECT_SERVER, QUIET

log = logging.getLogger("flows.schedule")
ONE_ROUND_AT_A_TIME = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)
STUCK_AFTER = timedelta(minutes=2)  # a run takes seconds from Pending ("Submitting") to Running
CHECK_SECONDS = 5.0


def task_runner(dask_address: str | None = None, workers: int | None = None):
    """ThreadPool locally (render chunks release the GIL in Pillow); DaskTaskRunner for a cluster."""
    if dask_address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=dask_address)
    return ThreadPoolTaskRunner(max_workers=workers)


@dataclass(frozen=True)
class RunView:
    """What tidying needs to know of a flow run."""

    id: UUID
    state: StateType
    expected_start: datetime
    state_since: datetime


@dataclass(frozen=True)
class Tidy:
    crash: tuple[UUID, ...]  # left Pending ("Submitting") or Running by a server or runner that went away
    cancel: tuple[UUID, ...]  # late looks that the newest late look covers


def plan_tidy(runs: Iterable[RunView], now: datetime, *, starting: bool = False, down_since: datetime | None = None) -> Tidy:
    """Which runs of a round deployment to crash and which to cancel (pure, so testable).

    Late scheduled looks coalesce into the newest one (one round, not one per missed interval). A run is stuck
    when it has been Pending ("Submitting") for STUCK_AFTER, or since before the server went away (`down_since`):
    it holds the deployment's one slot, so every later look would be cancelled. At start-up nothing of this
    process runs yet, so any Pending or Running run is left over from a runner that is gone."""
    runs = list(runs)
    late = sorted((r for r in runs if r.state == StateType.SCHEDULED and r.expected_start <= now), key=lambda r: r.expected_start)
    if starting:
        crash = [r.id for r in runs if r.state in (StateType.PENDING, StateType.RUNNING) and r.state_since < now]
    else:
        stale_before = max(now - STUCK_AFTER, down_since) if down_since else now - STUCK_AFTER
        crash = [r.id for r in runs if r.state == StateType.PENDING and r.state_since < stale_before]
    return Tidy(crash=tuple(crash), cancel=tuple(r.id for r in late[:-1]))


def tidy_runs(deployment_id: UUID, *, starting: bool = False, down_since: datetime | None = None, now: datetime | None = None) -> Tidy:
    """Apply plan_tidy to the deployment's unfinished runs on the server (`now`: the start-up time when `starting`)."""
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id={"any_": [deployment_id]}),
            flow_run_filter=FlowRunFilter(state={"type": {"any_": [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING]}}))
        views = [RunView(r.id, r.state.type, r.expected_start_time or r.created, r.state.timestamp) for r in runs if r.state]
        plan = plan_tidy(views, now or datetime.now(timezone.utc), starting=starting, down_since=down_since)
        for run_id in plan.crash:
            client.set_flow_run_state(run_id, Crashed(message="left unfinished when the Prefect server or its runner went away; "
                                                              "the next look retries"), force=True)
        for run_id in plan.cancel:
            client.set_flow_run_state(run_id, Cancelled(message="missed while the Prefect server was away; "
                                                                "a later look covers it"), force=True)
    if plan.crash or plan.cancel:
        log.warning("tidied the schedule: %d stuck run(s) marked crashed, %d missed look(s) coalesced into one",
                    len(plan.crash), len(plan.cancel))
    return plan


class ServerWatch:
    """Polls the server's /health; logs the outage once, and tidies the deployment's runs: once it exists (what
    runners before this one left), on recovery, and every TIDY_EVERY checks."""

    TIDY_EVERY = 12

    def __init__(self, api_url: str, deployment: str, outage: Outage, every: float = CHECK_SECONDS) -> None:
        self.api_url, self.deployment, self.outage, self.every = api_url.rstrip("/"), deployment, outage, every
        self.started = datetime.now(timezone.utc)
        self.deployment_id: UUID | None = None
        self.checks = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prefect-server-watch", daemon=True)

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.api_url}/health", timeout=self.every).status_code == 200
        except httpx.HTTPError:
            return False

    def check(self) -> None:
        self.checks += 1
        if not self.healthy():
            self.outage.failed(f"no answer from {self.api_url}/health")
            return
        down_since = self.outage.started_at
        if self.deployment_id is None:
            with get_client(sync_client=True) as client:
                try:
                    self.deployment_id = client.read_deployment_by_name(self.deployment).id
                except ObjectNotFound:  # serve() has not applied it yet
                    return
            tidy_runs(self.deployment_id, starting=True, now=self.started)
        if self.outage.ok():
            tidy_runs(self.deployment_id, down_since=down_since)
        elif self.checks % self.TIDY_EVERY == 0:
            tidy_runs(self.deployment_id)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.check()
            except Exception as exc:  # noqa: BLE001 - a tidy that failed: the server went away again; next check retries
                self.outage.failed(exc)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()


def serve_rounds(flow, name: str, interval: timedelta, parameters: dict, api_url: str) -> None:
    """Serve `flow` (experiment_round) as deployment `name` every `interval` until stopped (Ctrl-C)."""
    deployment = flow.to_deployment(name=name, interval=interval, parameters=parameters, concurrency_limit=ONE_ROUND_AT_A_TIME)
    # Prefect's runner leaves coroutines un-awaited when its observers give up during an outage; harmless
    warnings.filterwarnings("ignore", message=r"coroutine 'Runner\.\w+' was never awaited", category=RuntimeWarning)
    PREFECT_SERVER.what = f"the Prefect server at {api_url}"
    PREFECT_SERVER.meanwhile = f"checking every {CHECK_SECONDS:g} s; scheduled looks wait and missed ones coalesce into one"
    watch = ServerWatch(api_url, f"{flow.name}/{name}", PREFECT_SERVER)
    watch.start()
    QUIET.watched = True
    try:
        serve(deployment)
    finally:
        QUIET.watched = False
        watch.stop()
