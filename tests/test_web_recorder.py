"""The impression buffer: a failed write is retried without double counting; a dead database at shutdown spools to disk."""

from __future__ import annotations

import time

import pytest

from creative.services import Workspace
from creative.web.recorder import EventRecorder
from experiments.events import CLICK, IMPRESSION, Event

from test_web_support import make_experiment, seeded_home


@pytest.fixture
def world(tmp_path):
    home = seeded_home(tmp_path / "home")
    return Workspace.of(home), make_experiment(home)


def events(experiment_id: str, n: int) -> list[Event]:
    now = int(time.time() * 1000)
    out = []
    for i in range(n):
        out.append(Event(f"i{i}", IMPRESSION, now, experiment_id, "c0-300x250", f"u{i}", "300x250"))
        if i % 4 == 0:
            out.append(Event(f"ci{i}", CLICK, now + 1, experiment_id, "c0-300x250", f"u{i}", "300x250", impression_id=f"i{i}"))
    return out


def test_a_failed_write_is_retried_and_counted_once(world, monkeypatch):
    ws, experiment_id = world
    recorder = EventRecorder(ws)
    real_ingest = recorder.store.ingest
    calls = []

    def flaky(experiment, batch, source):
        calls.append(len(batch))
        if len(calls) == 1:
            real_ingest(experiment, batch[: len(batch) // 2], source=source)  # half committed, then the connection drops
            raise OSError("database went away")
        return real_ingest(experiment, batch, source=source)

    monkeypatch.setattr(recorder.store, "ingest", flaky)
    for ev in events(experiment_id, 40):
        recorder.record(ev)
    with pytest.raises(OSError):
        recorder.flush()
    assert recorder.pending == 50
    recorder.flush()
    assert recorder.pending == 0
    status = ws.experiments.status(experiment_id)
    assert sum(a.impressions for a in status.arms) == 40
    assert sum(a.clicks for a in status.arms) == 10


def test_events_the_database_refuses_at_shutdown_are_spooled_and_ingested_at_next_start(world, monkeypatch):
    ws, experiment_id = world
    spool = ws.home.spool_dir
    recorder = EventRecorder(ws)

    def down(*args, **kwargs):
        raise OSError("database is down")

    monkeypatch.setattr(recorder.store, "ingest", down)
    for ev in events(experiment_id, 12):
        recorder.record(ev)
    recorder.stop()
    assert recorder.stats.spooled == 15 and len(list(spool.glob("*.jsonl"))) == 1
    restarted = EventRecorder(ws)
    restarted.start()
    restarted.stop()
    assert not list(spool.glob("*.jsonl"))
    status = ws.experiments.status(experiment_id)
    assert sum(a.impressions for a in status.arms) == 12 and sum(a.clicks for a in status.arms) == 3
