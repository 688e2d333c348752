"""Schedules after an outage: one log line and a retry, missed looks coalesced into one round, stuck runs tidied."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta, timezone

import httpx
from prefect.client.schemas.objects import StateType
from sqlalchemy.exc import OperationalError
from support.simulated import simulated_experiment

from creative.db import open_database
from creative.outage import Outage
from creative.services import Workspace
from creative.web import scheduler
from creative.web.scheduler import RoundScheduler, get_schedule, run_due, set_schedule
from experiments.inbox import drop_file
from experiments.store import ExperimentStore
from flows.common import PREFECT_SERVER, QuietWhileDown
from flows.runners import STUCK_AFTER, RunView, plan_tidy

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(caplog):
    clock = Clock()
    outage = Outage(logging.getLogger("test.outage"), "the Prefect server at http://x/api", 5, clock)
    with caplog.at_level(logging.WARNING, logger="test.outage"):
        firsts = [outage.failed(httpx.ConnectError("All connection attempts failed")) for _ in range(18)]
        clock.t = 65
        assert outage.ok() and not outage.ok()
    assert firsts == [True] + [False] * 17
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["the Prefect server at http://x/api unreachable (ConnectError: All connection attempts failed); retrying every 5 s, nothing is lost meanwhile",
                     "the Prefect server at http://x/api answers again after 65 s (18 failed attempts); resuming"]
    assert not any(r.exc_info for r in caplog.records)


def test_the_web_scheduler_logs_one_line_while_the_database_is_away_and_keeps_retrying(home, monkeypatch, caplog):
    calls = []

    def due(ws, recorder=None, now=None):
        calls.append(now)
        if len(calls) <= 5:
            raise OperationalError("SELECT web_schedules", {}, Exception("could not connect to server: Connection refused"))
        return [("exp-1", "round 1: continue")]

    monkeypatch.setattr(scheduler, "run_due", due)
    rounds = RoundScheduler(Workspace.of(home), poll_seconds=5)
    with caplog.at_level(logging.INFO, logger="creative.web.scheduler"):
        for _ in range(7):
            rounds.poll()
    messages = [r.getMessage() for r in caplog.records]
    assert len(calls) == 7  # every poll retried
    assert sum("unreachable" in m for m in messages) == 1 and sum("answers again" in m for m in messages) == 1
    assert "Connection refused" in messages[0] and "retrying every 5 s" in messages[0]
    assert messages.count("scheduled round of exp-1: round 1: continue") == 2
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.WARNING)


def test_missed_schedules_close_one_round_not_one_per_missed_interval(home):
    engine = open_database(home.db_url)
    experiment_id, events = simulated_experiment(home, "spring", seed=5, impressions=900)
    drop_file(home.root, experiment_id, "late.jsonl", [json.dumps(e) for e in events])
    set_schedule(engine, experiment_id, 15)
    ws = Workspace.of(home)
    back = datetime.now(timezone.utc) + timedelta(hours=3)  # twelve intervals missed while the server was down
    ran = run_due(ws, now=back)
    assert [(e, outcome.split(":")[0]) for e, outcome in ran] == [(experiment_id, "round 1")]
    assert run_due(ws, now=back) == [] and run_due(ws, now=back + timedelta(minutes=14)) == []
    assert ExperimentStore(engine).status(experiment_id).rounds_closed == 1
    row = get_schedule(engine, experiment_id)
    assert row.next_run_at.replace(tzinfo=timezone.utc) == back + timedelta(minutes=15)  # counted from the catch-up
    assert (home.reports_dir / experiment_id / "round-1" / "index.html").is_file()  # its report at the stable URL


def _run(state: StateType, expected_minutes_ago: float, since_minutes_ago: float | None = None) -> RunView:
    since = since_minutes_ago if since_minutes_ago is not None else expected_minutes_ago
    return RunView(uuid.uuid4(), state, NOW - timedelta(minutes=expected_minutes_ago), NOW - timedelta(minutes=since))


def test_late_looks_coalesce_into_the_newest_and_stuck_runs_are_crashed():
    late = [_run(StateType.SCHEDULED, m) for m in (30, 20, 10, 0)]
    future = _run(StateType.SCHEDULED, -10)
    stuck = _run(StateType.PENDING, 12, STUCK_AFTER.total_seconds() / 60 + 1)
    submitting = _run(StateType.PENDING, 1, 0.5)  # being started right now
    running = _run(StateType.RUNNING, 12, 10)
    plan = plan_tidy([*late, future, stuck, submitting, running], NOW, starting=False)
    assert plan.cancel == tuple(r.id for r in late[:3])  # the newest late look (0 minutes ago) runs; the future one waits its time
    assert plan.crash == (stuck.id,)  # a run Running elsewhere is left alone while this runner lives
    # at start-up nothing of ours runs yet: whatever is Pending or Running was left by a runner that is gone
    assert plan_tidy([stuck, submitting, running], NOW, starting=True).crash == (stuck.id, submitting.id, running.id)
    assert plan_tidy([future], NOW, starting=True) == plan_tidy([], NOW, starting=True)
    # submitted just before the server went away: it holds the deployment's one slot, so it is crashed on recovery
    cut_off = _run(StateType.PENDING, 2, 1.5)
    assert plan_tidy([cut_off, future], NOW, down_since=NOW - timedelta(minutes=1)).crash == (cut_off.id,)
    assert plan_tidy([cut_off, future], NOW, down_since=NOW - timedelta(minutes=1.6)).crash == ()


def test_prefects_tracebacks_about_the_missing_server_are_held_back_behind_one_line(caplog):
    outage = Outage(logging.getLogger("test.outage"), "the Prefect server", 5)
    quiet = QuietWhileDown(outage)
    quiet.watched = True  # a runner whose ServerWatch follows the server's health

    def record(name: str, exc: BaseException | None = None) -> logging.LogRecord:
        return logging.LogRecord(name, logging.ERROR, __file__, 1, "failed", None, (type(exc), exc, None) if exc else None)

    refused = httpx.ConnectError("[Errno 111] Connection refused")
    wrapped = RuntimeError("Service exceeded error threshold.")
    with caplog.at_level(logging.WARNING, logger="test.outage"):
        kept = [quiet.filter(record("prefect.runner", refused)), quiet.filter(record("prefect.FlowRunCancellingObserver", wrapped)),
                quiet.filter(record("asyncio")), quiet.filter(record("creative.web")), quiet.filter(record("flows.schedule"))]
    assert kept == [False, False, False, True, True] and outage.down
    assert len(caplog.records) == 1
    outage.ok()
    assert quiet.filter(record("prefect.runner"))  # back: Prefect's own lines show again


def test_a_run_cut_off_by_the_outage_says_so_in_one_line_and_keeps_its_other_logs(caplog):
    outage = Outage(logging.getLogger("test.outage"), "the Prefect server", 5)
    quiet = QuietWhileDown(outage)  # a flow run's own process: nothing watches the server's health there
    refused = httpx.ConnectError("[Errno 111] Connection refused")
    engine = logging.LogRecord("prefect.engine", logging.ERROR, __file__, 1, "Execution of flow run exited", None, (type(refused), refused, None))
    later = logging.LogRecord("prefect.flow_runs", logging.INFO, __file__, 1, "decided continue", None, None)
    with caplog.at_level(logging.WARNING, logger="test.outage"):
        assert not quiet.filter(engine) and quiet.filter(later)
    assert [r.getMessage() for r in caplog.records] == [
        "the Prefect server unreachable (ConnectError: [Errno 111] Connection refused); retrying every 5 s, nothing is lost meanwhile"]
    assert "run stops here" in PREFECT_SERVER.meanwhile  # what the shared one says in a flow run's process
