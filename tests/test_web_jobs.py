"""Background jobs of the web app: kinds don't queue behind each other; progress gives time so far and an estimate left."""

from __future__ import annotations

import threading

import pytest
from support.processes import wait_until

from creative.db import open_database
from creative.home import resolve_home
from creative.web.jobs import JobRunner


@pytest.fixture
def runner(tmp_path):
    home = resolve_home(tmp_path / "home")
    jobs = JobRunner(home, open_database(home.db_url))
    yield jobs
    jobs.stop()


def _status(jobs: JobRunner, job_id: str):
    return jobs.status(jobs.get(job_id))


def _finished(jobs: JobRunner, job_id: str) -> bool:
    return jobs.get(job_id).status in ("done", "failed")


def test_a_quick_batch_does_not_wait_behind_a_long_copy_job(runner):
    release = threading.Event()

    def long_copy(progress):
        progress(0, 0, "loading the model", phase="loading the model")
        release.wait()
        return {}

    copy_id = runner.submit("copy", {}, "tester", long_copy)
    wait_until(lambda: runner.get(copy_id).status == "running", "the copy job to start", every=0.05)
    batch_id = runner.submit("batch", {}, "tester", lambda progress: {"banners": 3})
    wait_until(lambda: _finished(runner, batch_id), "the batch job to finish", every=0.05)
    assert runner.get(batch_id).status == "done"
    assert runner.get(copy_id).status == "running"  # still loading: the batch did not wait for it

    second_copy = runner.submit("copy", {}, "tester", lambda progress: {})
    assert _status(runner, second_copy).summary == "queued behind 1 copy job(s)"  # same kind: in order
    release.set()
    wait_until(lambda: _finished(runner, second_copy), "the second copy job", every=0.05)


def test_progress_gives_an_eta_from_the_rate_and_a_remembered_phase(runner):
    step, go_on = threading.Event(), threading.Event()

    def rendering(progress):
        progress(2, 8, "rendered 2 of 8")
        step.set()
        go_on.wait()
        return {}

    job_id = runner.submit("batch", {}, "tester", rendering)
    step.wait()
    status = _status(runner, job_id)
    assert status.status == "running" and status.elapsed_s is not None
    assert status.eta_s is not None and status.eta_s >= 0  # 6 steps left at the rate of the first 2
    assert "2 of 8" in status.summary and "left" in status.summary
    go_on.set()
    wait_until(lambda: _finished(runner, job_id), "the rendering job", every=0.05)

    # a phase with no steps to count has no estimate the first time, and last time's length afterwards
    for attempt in range(2):
        loading, done_loading = threading.Event(), threading.Event()

        def load(progress):
            progress(0, 0, "loading the model", phase="loading the model")
            loading.set()
            done_loading.wait()
            progress(0, 4, "writing titles")
            return {}

        job_id = runner.submit("copy", {}, "tester", load)
        loading.wait()
        status = _status(runner, job_id)
        if attempt == 0:
            assert status.eta_s is None and status.summary.endswith("no estimate yet")
        else:
            assert status.eta_s is not None and "left" in status.summary
        done_loading.set()
        wait_until(lambda: _finished(runner, job_id), "the loading job", every=0.05)
    assert runner.get(job_id).message == "writing titles"  # the work's last word stays once it is done


def _row_left_by_a_dead_process(jobs: JobRunner, status: str) -> str:
    """A job as a server killed mid-job leaves it: unfinished, its heartbeat old (its holder's id is unknown here)."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import insert

    from creative.web import tables as t

    long_ago = datetime.now(timezone.utc) - timedelta(minutes=10)
    job_id = f"dead-{status}"
    with jobs.engine.begin() as conn:
        conn.execute(insert(t.jobs).values(job_id=job_id, kind="copy", status=status, done=3, total=12, message="writing titles",
                                           params={}, result=None, created_by="tester", created_at=long_ago,
                                           updated_at=long_ago, runner_id="a-killed-process", heartbeat_at=long_ago))
    return job_id


def test_jobs_of_a_killed_server_are_failed_with_the_reason_and_live_ones_are_not(tmp_path):
    home = resolve_home(tmp_path / "home")
    engine = open_database(home.db_url)
    live = JobRunner(home, engine, heartbeat_seconds=0.1, silent_after_seconds=3.0)
    release = threading.Event()
    live_job = live.submit("copy", {}, "tester", lambda progress: (release.wait(), {})[1])
    wait_until(lambda: live.get(live_job).status == "running", "the live job to start", every=0.05)
    orphans = [_row_left_by_a_dead_process(live, status) for status in ("running", "queued")]

    other = JobRunner(home, engine, heartbeat_seconds=0.1, silent_after_seconds=3.0)  # another worker, or a restart
    try:
        for job_id in orphans:
            wait_until(lambda: other.get(job_id).status == "failed", f"{job_id} to be marked failed", every=0.05)
            row = other.get(job_id)
            assert "stopped" in row.message and "start it again" in row.message
            assert other.status(row).summary == row.message  # the page says why, not "running — no estimate yet"
        # well past the silence limit (35 heartbeats of 0.1 s against 3 s), reaping all along, the live job runs on
        beats: set = set()

        def many_heartbeats_seen() -> bool:
            other.reap()
            beats.add(other.get(live_job).heartbeat_at)
            return len(beats) >= 35

        wait_until(many_heartbeats_seen, "35 heartbeats of the live job", every=0.02)
        assert other.get(live_job).status == "running"
        release.set()
        wait_until(lambda: live.get(live_job).status == "done", "the live job to finish", every=0.05)
    finally:
        release.set()
        live.stop()
        other.stop()


def test_a_job_finishing_while_its_server_stops_still_beats_and_is_not_failed_by_another_worker(tmp_path):
    """A stopping server lets its running job finish (a model conversion takes minutes); its heartbeat stopped at once,
    so another worker marked the still-running job failed once the silence limit passed."""
    home = resolve_home(tmp_path / "home")
    engine = open_database(home.db_url)
    stopping = JobRunner(home, engine, heartbeat_seconds=0.1, silent_after_seconds=1.0)
    other = JobRunner(home, engine, heartbeat_seconds=0.1, silent_after_seconds=1.0)
    release = threading.Event()
    job = stopping.submit("copy", {}, "tester", lambda progress: (release.wait(), {"titles": 1})[1])
    wait_until(lambda: stopping.get(job).status == "running", "the job to start", every=0.05)
    stopper = threading.Thread(target=stopping.stop)
    stopper.start()
    try:
        wait_until(stopping.stopping.is_set, "the server to start stopping", every=0.01)
        beats: set = set()

        def beating_past_the_silence_limit() -> bool:
            assert other.reap() == 0 and other.get(job).status == "running"
            beats.add(other.get(job).heartbeat_at)
            return len(beats) >= 20  # 20 heartbeats of 0.1 s: twice the 1 s limit

        wait_until(beating_past_the_silence_limit, "20 heartbeats while the server stops", every=0.02)
    finally:
        release.set()
        stopper.join()
        other.stop()
    assert other.get(job).status == "done"


def test_stopping_the_server_fails_the_jobs_it_never_started(runner):
    first = runner.submit("copy", {}, "tester", lambda progress: (runner.stopping.wait(), {"titles": 1})[1])
    wait_until(lambda: runner.get(first).status == "running", "the first job to start", every=0.05)
    queued = runner.submit("copy", {}, "tester", lambda progress: {"titles": 2})
    runner.stop()
    assert runner.get(first).status == "done"  # a running job finishes
    row = runner.get(queued)
    assert row.status == "failed" and "stopped before this job could finish" in row.message
