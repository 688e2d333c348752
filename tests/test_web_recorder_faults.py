"""A sick database, a full disk, SIGTERM and SIGKILL against a real `creative serve` on 127.0.0.1 and a real SQLite file.

Every test counts the impressions whose 200 reached the client against what the database holds once the
server has started again (which replays the spool): none may be missing, except under SIGKILL, where at
most the last quarter second of traffic may be. The database is held by a separate connection's write
transaction (`BEGIN IMMEDIATE`), as a long round or a backup would hold it. Waits are on conditions.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from support.locks import sqlite_write_lock
from support.processes import free_port, wait_until
from support.web import LiveServer, make_experiment, seeded_home

from creative.db import open_database
from creative.home import Home
from creative.web import WebSettings, create_app
from experiments import tables as xt

SIGKILL_WINDOW_SECONDS = 0.25  # the target: what a SIGKILL during a database outage may lose


# ---- the pieces ---------------------------------------------------------------------------------------
def wait_for(condition, what: str):
    """wait_until, polled often: the faults here last seconds."""
    return wait_until(condition, what, every=0.05)


def stored_impressions(home: Home, experiment_id: str) -> set[str]:
    with open_database(home.db_url).connect() as conn:
        return set(conn.scalars(select(xt.events.c.event_id).where(xt.events.c.experiment_id == experiment_id, xt.events.c.kind == "i")))


def health(url: str) -> httpx.Response | None:
    try:
        return httpx.get(f"{url}/healthz", timeout=30)
    except httpx.TransportError:
        return None


@dataclass
class Traffic:
    """Threads asking /v1/serve for new users until stopped or the server goes away; keeps what was answered."""

    url: str
    experiment_id: str
    threads: int = 4
    answered: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time the 200 arrived, impression id)
    refused: list[httpx.Response] = field(default_factory=list)  # 503s: not answered, so not owed
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> "Traffic":
        self._workers = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=60)

    def _run(self, n: int) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            i = 0
            while not self._stop.is_set():
                i += 1
                try:
                    r = client.get("/v1/serve", params={"experiment": self.experiment_id, "user": f"t{n}-{i}"})
                except httpx.TransportError:
                    return  # the server is gone
                if r.status_code == 200:
                    self.answered.append((time.monotonic(), r.json()["impression_id"]))
                elif r.status_code == 503:
                    self.refused.append(r)
                    time.sleep(0.01)
                else:
                    raise AssertionError(f"/v1/serve answered {r.status_code}: {r.text}")

    def ids(self) -> set[str]:
        return {impression for _, impression in self.answered}

    def more_than(self, n: int):
        return lambda: len(self.answered) > n


class Server:
    """`creative serve` in a subprocess over `home`."""

    def __init__(self, home: Home) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "creative"), "serve", "--port", str(self.port), "--no-scheduler",
             "--serve-limit", "100000000", "--log-level", "warning"],
            env={**os.environ, "CREATIVE_HOME": str(home.root)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_for(lambda: self.proc.poll() is not None or ((h := health(self.url)) is not None and h.status_code == 200), "the server to start")
        assert self.proc.poll() is None, self.proc.communicate()[1].decode()[-3000:]

    def health(self) -> dict:
        return httpx.get(f"{self.url}/healthz", timeout=30).json()

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def exited(self) -> bool:
        return self.proc.poll() is not None

    def stop(self) -> str:
        """SIGTERM, wait for the exit, return stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=120)
        return err.decode()


@pytest.fixture
def served_home(tmp_path):
    home = seeded_home(tmp_path / "home")
    return home, make_experiment(home)


def after_restart(home: Home, experiment_id: str) -> set[str]:
    """Start the app again (its start recovers leftovers and replays the spool), let it store everything, stop it; what is stored."""
    server = LiveServer(create_app(home, WebSettings(run_scheduler=False))).start()
    try:
        wait_for(lambda: server.app.state.recorder.pending == 0, "the restarted server to store its buffer")
    finally:
        server.stop()
    assert not list(home.spool_dir.glob("*.jsonl")) and not list(home.spool_dir.glob("*.tmp")), list(home.spool_dir.iterdir())
    return stored_impressions(home, experiment_id)


# ---- the tests ----------------------------------------------------------------------------------------
def test_a_database_lock_loses_no_impression_and_healthz_says_not_ready_until_it_is_released(served_home):
    home, experiment_id = served_home
    server = Server(home)
    try:
        with Traffic(server.url, experiment_id) as traffic:
            wait_for(traffic.more_than(100), "traffic before the lock")
            with sqlite_write_lock(home.db_url):
                unready = wait_for(lambda: (h := health(server.url)) is not None and h.status_code == 503 and h.json(), "healthz to say not ready")
                assert any("database" in reason for reason in unready["reasons"]), unready
                wait_for(lambda: server.health()["spooled"] > 0, "the recorder to spool while the database is locked")
                during = len(traffic.answered)
                wait_for(traffic.more_than(during + 200), "serving to go on during the lock")
            wait_for(lambda: (h := health(server.url)) is not None and h.status_code == 200, "healthz to say ready again")
            answered_after = len(traffic.answered)
            wait_for(traffic.more_than(answered_after + 100), "traffic after the lock")
        assert not traffic.refused  # the spool kept up: nothing was turned away
        wait_for(lambda: server.health()["pending_events"] == 0, "the buffer to be stored")
        # replayed by the running server once the database answered, before anything newer was stored
        wait_for(lambda: not list(home.spool_dir.glob("*.jsonl")), "the spool to be replayed")
        assert traffic.ids() <= stored_impressions(home, experiment_id)
    finally:
        err = server.stop()
    assert "Traceback" not in err.split("a database write failed")[0], err[-3000:]


def test_sigterm_during_a_database_lock_exits_without_waiting_for_the_database_and_loses_nothing(served_home):
    home, experiment_id = served_home
    server = Server(home)
    try:
        with Traffic(server.url, experiment_id) as traffic:
            wait_for(traffic.more_than(100), "traffic before the lock")
            with sqlite_write_lock(home.db_url):
                wait_for(lambda: server.health()["spooled"] > 0, "the recorder to spool while the database is locked")
                during = len(traffic.answered)
                wait_for(traffic.more_than(during + 200), "serving to go on during the lock")
                server.signal(signal.SIGTERM)
                # the lock is held until the server has gone: it must exit without the database
                wait_for(server.exited, "the server to exit while the database is still locked")
    finally:
        err = server.stop()
    assert server.proc.returncode in (0, -signal.SIGTERM), err[-3000:]
    answered = traffic.ids()
    assert len(answered) > 300
    assert answered <= after_restart(home, experiment_id)


def test_sigkill_during_a_database_lock_loses_at_most_a_quarter_second_of_traffic(served_home):
    home, experiment_id = served_home
    server = Server(home)
    try:
        with Traffic(server.url, experiment_id) as traffic:
            wait_for(traffic.more_than(100), "traffic before the lock")
            with sqlite_write_lock(home.db_url):
                wait_for(lambda: server.health()["spooled"] > 0, "the recorder to spool while the database is locked")
                during = len(traffic.answered)
                wait_for(traffic.more_than(during + 500), "serving to go on during the lock")
                killed_at = time.monotonic()
                server.signal(signal.SIGKILL)
                wait_for(server.exited, "the server to die")
    finally:
        server.stop()
    answered = traffic.ids()
    lost = answered - after_restart(home, experiment_id)
    last_window = {impression for t, impression in traffic.answered if t >= killed_at - SIGKILL_WINDOW_SECONDS}
    # what a kill may take is what was answered in its last quarter second, nothing older
    answered_at = {impression: t for t, impression in traffic.answered}
    oldest = max((killed_at - answered_at[i] for i in lost), default=0.0)
    assert lost <= last_window, f"{len(lost - last_window)} of {len(lost)} lost impressions were answered before the last " \
                                f"{SIGKILL_WINDOW_SECONDS} s (the oldest {oldest:.3f} s before the kill)"


def test_a_full_disk_during_a_database_lock_keeps_events_in_memory_answers_503_and_loses_nothing(served_home, monkeypatch):
    """When neither the database nor the disk takes events, serving refuses (503 + Retry-After) instead of losing them."""
    home, experiment_id = served_home
    import creative.web.recorder as recorder_module

    real_write = recorder_module.write_spool_file
    disk = {"full": True}

    def write_spool_file(folder, events):
        if disk["full"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(folder, events)

    monkeypatch.setattr(recorder_module, "write_spool_file", write_spool_file)
    settings = WebSettings(flush_interval_seconds=0.05, run_scheduler=False, serve_per_address_per_minute=10**8, event_buffer_max=400)
    server = LiveServer(create_app(home, settings)).start()
    try:
        with Traffic(server.url, experiment_id) as traffic:
            wait_for(traffic.more_than(50), "traffic before the lock")
            with sqlite_write_lock(home.db_url):
                wait_for(lambda: traffic.refused, "serving to refuse once the buffer is full")
                refused = traffic.refused[0]
                assert refused.headers["retry-after"] and "retry" in refused.json()["error"]
                # the buffer can fill before the recorder's next flush has tried the spool: wait for that attempt
                [unready] = wait_for(lambda: (h := health(server.url)) is not None and any("disk full" in r for r in h.json()["reasons"]) and [h],
                                     "healthz to name the full disk")
                assert unready.status_code == 503
                assert unready.json()["pending_events"] == 400  # bounded
                disk["full"] = False  # space again: the buffer goes to the spool, serving resumes during the lock
                wait_for(lambda: server.app.state.recorder.stats.spooled > 0, "the spool to take the buffer")
                resumed = len(traffic.answered)
                wait_for(traffic.more_than(resumed + 100), "serving to resume")
            wait_for(lambda: (h := health(server.url)) is not None and h.status_code == 200, "healthz to say ready again")
        wait_for(lambda: server.app.state.recorder.pending == 0 and not list(home.spool_dir.glob("*.jsonl")), "everything to be stored")
        assert traffic.ids() <= stored_impressions(home, experiment_id)
    finally:
        server.stop()


def test_the_server_refuses_to_start_with_one_clear_line_when_the_spool_disk_is_nearly_full(served_home):
    """A real 16 MB tmpfs under the spool folder (root only): the server needs 64 MB free there."""
    home, _ = served_home
    home.spool_dir.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(home.spool_dir)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        done = subprocess.run([str(Path(sys.executable).parent / "creative"), "serve", "--port", str(free_port())],
                              env={**os.environ, "CREATIVE_HOME": str(home.root)}, capture_output=True, timeout=120)
    finally:
        subprocess.run(["umount", str(home.spool_dir)], check=True)
    err = done.stderr.decode()
    assert done.returncode == 1, err
    assert "Traceback" not in err and "MB free" in err and str(home.spool_dir) in err, err
