"""Background jobs the UI starts and polls (copy generation, batch rendering), with progress and an ETA.

Each kind of job has its own worker thread, so a 0.3 s batch never waits behind a minute of copy
generation; jobs of one kind run in order (each one already uses the cores it may). Progress lives in
web_jobs; the ETA comes from the rate of the current phase (done/total) or, for a phase that cannot
count its steps (loading a model), from how long that phase took last time (kept in web_settings).
Each runner beats a heartbeat on its unfinished jobs; a job whose process went silent (killed, crashed)
is marked failed by any live worker, and a runner that stops fails the jobs it never got to.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Protocol

from sqlalchemy import Engine, func, insert, or_, select, update

from creative.errors import USER_ERRORS
from creative.home import Home
from creative.web import tables as t

log = logging.getLogger("creative.web.jobs")
PHASE_KEY = "job-phase-seconds:{kind}:{phase}"  # web_settings key: the last measured length of a phase
HEARTBEAT_SECONDS = 10.0
SILENT_AFTER_SECONDS = 60.0  # six missed heartbeats: the process holding the job is gone
UNFINISHED = ("queued", "running")
STOPPED = "the server stopped before this job could finish; start it again"
ORPHANED = "the server process running this job stopped (no sign of life for {seconds:.0f} s); start it again"


class Progress(Protocol):
    def __call__(self, done: int, total: int, message: str, *, phase: str | None = None) -> None:
        """`phase` names a step whose length is worth remembering (e.g. "loading the model")."""


@dataclass(frozen=True)
class JobStatus:
    """What a page shows of a job while it runs: counts, the message, seconds so far and left."""

    job_id: str
    kind: str
    status: str
    done: int
    total: int
    message: str
    elapsed_s: float | None
    eta_s: float | None
    waiting_for: int  # jobs of the same kind ahead of a queued one

    def to_json(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "kind": self.kind, "status": self.status, "done": self.done, "total": self.total,
                "message": self.message, "elapsed_s": self.elapsed_s, "eta_s": self.eta_s, "waiting_for": self.waiting_for,
                "summary": self.summary}

    @property
    def busy(self) -> bool:
        """Queued or running: a page polls it."""
        return self.status in UNFINISHED

    @property
    def summary(self) -> str:
        """One line for people: "loading the model — 42 s so far, about 1 min 10 s left"."""
        if self.status == "queued":
            return f"queued behind {self.waiting_for} {self.kind} job(s)" if self.waiting_for else "starting"
        if self.status != "running":
            return self.message
        parts = [self.message]
        if self.total:
            parts.append(f"{self.done} of {self.total}")
        if self.elapsed_s is not None:
            parts.append(f"{duration(self.elapsed_s)} so far")
        parts.append(f"about {duration(self.eta_s)} left" if self.eta_s is not None else "no estimate yet")
        return " — ".join([parts[0], ", ".join(parts[1:])])


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60} s"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(at: datetime | None) -> datetime | None:
    """SQLite hands timestamps back without their zone; they were written in UTC."""
    return at.replace(tzinfo=timezone.utc) if at is not None and at.tzinfo is None else at


class JobRunner:
    def __init__(self, home: Home, engine: Engine, heartbeat_seconds: float = HEARTBEAT_SECONDS,
                 silent_after_seconds: float = SILENT_AFTER_SECONDS) -> None:
        if silent_after_seconds <= 2 * heartbeat_seconds:
            raise ValueError("silent_after_seconds must exceed two heartbeats, or live jobs would be failed")
        self.home = home
        self.engine = engine
        self.runner_id = uuid.uuid4().hex[:16]
        self.heartbeat_seconds = heartbeat_seconds
        self.silent_after_seconds = silent_after_seconds
        self.stopping = threading.Event()
        self._beating_done = threading.Event()  # set once the running jobs have finished, after `stopping`
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()
        self._heartbeat: threading.Thread | None = None
        self._reaped_at = 0.0

    def _pool(self, kind: str) -> ThreadPoolExecutor:
        with self._lock:
            if kind not in self._pools:
                self._pools[kind] = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"web-job-{kind}")
            return self._pools[kind]

    def submit(self, kind: str, params: dict[str, Any], created_by: str, work: Callable[[Progress], dict[str, Any]]) -> str:
        job_id = uuid.uuid4().hex[:16]
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(insert(t.jobs).values(job_id=job_id, kind=kind, status="queued", done=0, total=0, message="waiting to start",
                                               params=params, result=None, created_by=created_by, created_at=now, updated_at=now,
                                               runner_id=self.runner_id, heartbeat_at=now))
        with self._lock:
            if self._heartbeat is None:
                self._heartbeat = threading.Thread(target=self._beat, name="web-job-heartbeat", daemon=True)
                self._heartbeat.start()
        self._pool(kind).submit(self._run, kind, job_id, work)
        return job_id

    def _beat(self) -> None:
        """Say this process is alive on each of its unfinished jobs, until the jobs it was running have finished."""
        while not self._beating_done.wait(self.heartbeat_seconds):
            try:
                with self.engine.begin() as conn:
                    conn.execute(update(t.jobs).where(t.jobs.c.runner_id == self.runner_id, t.jobs.c.status.in_(UNFINISHED))
                                 .values(heartbeat_at=_now()))
            except Exception:  # noqa: BLE001 - a busy or briefly unreachable database: the next beat tries again
                log.warning("job heartbeat failed; retrying in %.0f s", self.heartbeat_seconds, exc_info=True)

    def reap(self) -> int:
        """Fail the unfinished jobs of processes that went silent (killed or crashed); how many there were."""
        c = t.jobs.c
        now = _now()
        with self.engine.begin() as conn:
            return conn.execute(update(t.jobs).where(
                c.status.in_(UNFINISHED), or_(c.runner_id.is_(None), c.runner_id != self.runner_id),
                or_(c.heartbeat_at.is_(None), c.heartbeat_at < now - timedelta(seconds=self.silent_after_seconds)),
            ).values(status="failed", phase=None, updated_at=now,
                     message=ORPHANED.format(seconds=self.silent_after_seconds))).rowcount

    def _reap_when_due(self) -> None:
        """Reap at most once a heartbeat: pages poll jobs every second, and each reap is a write."""
        if time.monotonic() - self._reaped_at >= self.heartbeat_seconds:
            self._reaped_at = time.monotonic()
            reaped = self.reap()
            if reaped:
                log.warning("marked %d job(s) of a stopped server process failed", reaped)

    def _update(self, job_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(t.jobs).where(t.jobs.c.job_id == job_id).values(updated_at=_now(), **values))

    def _remember(self, kind: str, phase: str | None, started: datetime) -> None:
        """Keep how long a named phase took: the next job's estimate for it."""
        if phase is None:
            return
        seconds = f"{(_now() - started).total_seconds():.3f}"
        key = PHASE_KEY.format(kind=kind, phase=phase)
        with self.engine.begin() as conn:
            if conn.execute(update(t.settings).where(t.settings.c.key == key).values(value=seconds)).rowcount == 0:
                conn.execute(insert(t.settings).values(key=key, value=seconds))

    def _run(self, kind: str, job_id: str, work: Callable[[Progress], dict[str, Any]]) -> None:
        now = _now()
        current: dict[str, Any] = {"phase": None, "started": now, "message": "finished"}
        self._update(job_id, status="running", message="starting", started_at=now, phase=None, phase_started_at=now, phase_done=0)

        def progress(done: int, total: int, message: str, *, phase: str | None = None) -> None:
            values: dict[str, Any] = {"done": done, "total": total, "message": message[:2000]}
            if phase != current["phase"]:
                self._remember(kind, current["phase"], current["started"])
                current.update(phase=phase, started=_now())
                values.update(phase=phase, phase_started_at=current["started"], phase_done=done)
            current["message"] = message  # the work's own last word ("12 accepted, 3 rejected") stays as the result's
            self._update(job_id, **values)

        try:
            result = work(progress)
            self._remember(kind, current["phase"], current["started"])
            self._update(job_id, status="done", result=result, message=current["message"][:2000], phase=None)
        except USER_ERRORS as exc:
            self._update(job_id, status="failed", message=str(exc)[:2000], phase=None)
        except Exception as exc:  # noqa: BLE001 - shown to the user; the trace goes to the log
            log.error("job %s failed:\n%s", job_id, traceback.format_exc())
            self._update(job_id, status="failed", message=f"internal error: {type(exc).__name__}: {exc}"[:2000], phase=None)

    def set_result(self, job_id: str, result: dict[str, Any]) -> None:
        """Replace a finished job's result (a reviewer's decisions on generated copy)."""
        self._update(job_id, result=result)

    def get(self, job_id: str):
        self._reap_when_due()
        with self.engine.connect() as conn:
            return conn.execute(select(t.jobs).where(t.jobs.c.job_id == job_id)).first()

    def recent(self, kind: str, limit: int = 20):
        self._reap_when_due()
        with self.engine.connect() as conn:
            return conn.execute(select(t.jobs).where(t.jobs.c.kind == kind).order_by(t.jobs.c.created_at.desc()).limit(limit)).all()

    def status(self, job) -> JobStatus:
        """The job row with the time so far and an estimate of the time left (None when there is no basis for one)."""
        elapsed = eta = None
        waiting = 0
        now = _now()
        if job.status == "running" and job.started_at is not None:
            elapsed = (now - _aware(job.started_at)).total_seconds()
            phase_start = _aware(job.phase_started_at or job.started_at)
            in_phase = (now - phase_start).total_seconds()
            steps = job.done - job.phase_done
            if job.total and steps > 0:  # the pace of the steps finished so far, less the time into the current one
                last_step = _aware(job.updated_at)
                per_step = (last_step - phase_start).total_seconds() / steps
                eta = max(0.0, per_step * (job.total - job.done) - (now - last_step).total_seconds())
            elif job.phase is not None:
                last = self._phase_seconds(job.kind, job.phase)
                eta = None if last is None else max(0.0, last - in_phase)
        elif job.status == "queued":
            c = t.jobs.c
            with self.engine.connect() as conn:
                waiting = conn.execute(select(func.count()).select_from(t.jobs).where(
                    c.kind == job.kind, c.job_id != job.job_id,
                    (c.status == "running") | ((c.status == "queued") & (c.created_at <= job.created_at)))).scalar_one()
        return JobStatus(job.job_id, job.kind, job.status, job.done, job.total, job.message, elapsed, eta, waiting)

    def _phase_seconds(self, kind: str, phase: str) -> float | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(t.settings.c.value).where(t.settings.c.key == PHASE_KEY.format(kind=kind, phase=phase))).scalar()
        return None if value is None else float(value)

    def stop(self) -> None:
        """Let running jobs finish, drop queued ones, and fail whatever of ours is left, saying why."""
        pools = list(self._pools.values())
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)
        self.stopping.set()
        for pool in pools:  # the heartbeat goes on meanwhile: a job finishing for longer than the silence is not dead
            pool.shutdown(wait=True)
        self._beating_done.set()
        with self.engine.begin() as conn:
            conn.execute(update(t.jobs).where(t.jobs.c.runner_id == self.runner_id, t.jobs.c.status.in_(UNFINISHED))
                         .values(status="failed", phase=None, message=STOPPED, updated_at=_now()))
