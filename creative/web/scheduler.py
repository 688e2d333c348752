"""Scheduled rounds: an experiment can close a round every N minutes while the server runs.

Schedules live in web_schedules; one thread polls for due ones. A due round closes through
`creative.services.close_round`, the same call as the page's "Run a round now" and as
`creative schedule rounds` (the Prefect `experiment_round` flow): whichever front closes a round, it
ingests the inbox and the web spool, closes, and stores the tags once. `close_round` takes the
experiment's own round lock without waiting, so a round closed by the CLI or a flow at the same
moment makes this one refused, not doubled. A look with too little data closes nothing ("waiting");
a paused experiment is skipped; once the experiment has ended the schedule turns itself off.

Missed schedules coalesce: a due schedule runs once and its next time counts from then, so a server that
was down for hours closes one round when it is back, not one per missed interval. Each scheduled round
keeps its report at its stable web URL. When the database stops answering, the scheduler logs one line,
retries every poll and logs one more when it is back (creative.outage), not a traceback per poll.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, delete, insert, select, update

from creative.outage import Outage
from creative.services import Workspace, close_round
from creative.web import tables as t
from experiments.errors import ExperimentConcluded, ExperimentError

log = logging.getLogger("creative.web.scheduler")
MIN_EVERY_MINUTES = 1
MAX_EVERY_MINUTES = 7 * 24 * 60


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)  # SQLite drops the zone


def set_schedule(engine: Engine, experiment_id: str, every_minutes: int | None) -> None:
    """Close a round every `every_minutes` from now on; None or 0 turns the schedule off."""
    with engine.begin() as conn:
        conn.execute(delete(t.schedules).where(t.schedules.c.experiment_id == experiment_id))
        if every_minutes:
            if not MIN_EVERY_MINUTES <= every_minutes <= MAX_EVERY_MINUTES:
                raise ExperimentError(f"a round every {every_minutes} minutes is not allowed; use {MIN_EVERY_MINUTES} to {MAX_EVERY_MINUTES} minutes, or 0 to turn it off")
            conn.execute(insert(t.schedules).values(experiment_id=experiment_id, every_minutes=every_minutes,
                                                    next_run_at=_now() + timedelta(minutes=every_minutes), enabled=True))


def get_schedule(engine: Engine, experiment_id: str):
    with engine.connect() as conn:
        return conn.execute(select(t.schedules).where(t.schedules.c.experiment_id == experiment_id)).first()


def run_due(ws: Workspace, recorder=None, now: datetime | None = None) -> list[tuple[str, str]]:
    """Close every due round once (served events flushed first, so they count); returns (experiment id, outcome) pairs."""
    now = now or _now()
    with ws.engine.connect() as conn:
        due = conn.execute(select(t.schedules).where(t.schedules.c.enabled.is_(True))).all()
    out = []
    for row in due:
        if _aware(row.next_run_at) > now:
            continue
        enabled = True
        try:
            look = close_round(ws, row.experiment_id, wait=0.0, keep_report=True, flush=recorder.flush if recorder is not None else None)
            outcome = f"round {look.result.round_no}: {look.result.decision.kind}" if look.closed else look.summary()
            enabled = not look.concludes
        except ExperimentConcluded as exc:  # ended by a person, or archived
            outcome, enabled = str(exc), False
        except ExperimentError as exc:  # paused, a round in progress: try again next time
            outcome = str(exc)
        with ws.engine.begin() as conn:
            conn.execute(update(t.schedules).where(t.schedules.c.experiment_id == row.experiment_id).values(
                last_run_at=now, last_result=outcome[:2000], enabled=enabled,
                next_run_at=now + timedelta(minutes=row.every_minutes)))
        out.append((row.experiment_id, outcome))
    return out


class RoundScheduler:
    def __init__(self, ws: Workspace, recorder=None, poll_seconds: float = 5.0, exclusive=None) -> None:
        self.ws = ws
        self.recorder = recorder
        self.poll_seconds = poll_seconds
        # with several workers or hosts, one at a time looks for due rounds (creative.web.shared_state), so a round
        # closed by one is seen as no longer due by the next, not closed again
        self.exclusive = exclusive or (lambda: contextlib.nullcontext(True))
        self.outage = Outage(log, "scheduled rounds: the database", poll_seconds)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="round-scheduler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self.poll()

    def poll(self) -> None:
        """One look for due rounds; a failure is logged once per streak and retried at the next poll."""
        try:
            with self.exclusive() as mine:
                for experiment_id, outcome in run_due(self.ws, self.recorder) if mine else ():
                    log.info("scheduled round of %s: %s", experiment_id, outcome)
        except Exception as exc:  # noqa: BLE001 - keep polling; the next poll retries
            self.outage.failed(exc)
            return
        self.outage.ok()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
