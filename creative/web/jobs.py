"""Background jobs the UI starts and polls (batch rendering): one worker thread, progress in web_jobs."""

from __future__ import annotations

import logging
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import Engine, insert, select, update

from creative.errors import USER_ERRORS
from creative.home import Home
from creative.web import tables as t

log = logging.getLogger("creative.web.jobs")

Progress = Callable[[int, int, str], None]


def _now() -> datetime:
    return datetime.now(timezone.utc)


class JobRunner:
    def __init__(self, home: Home, engine: Engine) -> None:
        self.home = home
        self.engine = engine
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="web-job")

    def submit(self, kind: str, params: dict[str, Any], created_by: str, work: Callable[[Progress], dict[str, Any]]) -> str:
        job_id = uuid.uuid4().hex[:16]
        now = _now()
        with self.engine.begin() as conn:
            conn.execute(insert(t.jobs).values(job_id=job_id, kind=kind, status="queued", done=0, total=0, message="waiting to start",
                                               params=params, result=None, created_by=created_by, created_at=now, updated_at=now))
        self._pool.submit(self._run, job_id, work)
        return job_id

    def _update(self, job_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(t.jobs).where(t.jobs.c.job_id == job_id).values(updated_at=_now(), **values))

    def _run(self, job_id: str, work: Callable[[Progress], dict[str, Any]]) -> None:
        self._update(job_id, status="running", message="starting")

        def progress(done: int, total: int, message: str) -> None:
            self._update(job_id, done=done, total=total, message=message[:2000])

        try:
            result = work(progress)
            self._update(job_id, status="done", result=result, message="finished")
        except USER_ERRORS as exc:
            self._update(job_id, status="failed", message=str(exc)[:2000])
        except Exception as exc:  # noqa: BLE001 - shown to the user; the trace goes to the log
            log.error("job %s failed:\n%s", job_id, traceback.format_exc())
            self._update(job_id, status="failed", message=f"internal error: {type(exc).__name__}: {exc}"[:2000])

    def set_result(self, job_id: str, result: dict[str, Any]) -> None:
        """Replace a finished job's result (a reviewer's decisions on generated copy)."""
        self._update(job_id, result=result)

    def get(self, job_id: str):
        with self.engine.connect() as conn:
            return conn.execute(select(t.jobs).where(t.jobs.c.job_id == job_id)).first()

    def recent(self, kind: str, limit: int = 20):
        with self.engine.connect() as conn:
            return conn.execute(select(t.jobs).where(t.jobs.c.kind == kind).order_by(t.jobs.c.created_at.desc()).limit(limit)).all()

    def stop(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
