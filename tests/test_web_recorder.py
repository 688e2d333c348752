"""The impression buffer: a failed write is retried without double counting; what the database refuses is spooled
durably and replayed; the buffer is bounded; a crash's leftovers are recovered. Faults over HTTP: test_web_recorder_faults.py."""

from __future__ import annotations

import errno
import json
import os
import shutil
import threading
import time

import pytest
from support.web import make_experiment, seeded_home

from creative.services import Workspace
from creative.web.recorder import EventRecorder, SpoolUnavailable, write_spool_file
from experiments.events import CLICK, IMPRESSION, Event


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


def stored(ws: Workspace, experiment_id: str) -> tuple[int, int]:
    status = ws.experiments.status(experiment_id)
    return sum(a.impressions for a in status.arms), sum(a.clicks for a in status.arms)


def test_a_full_buffer_refuses_events_instead_of_growing(world, monkeypatch):
    ws, experiment_id = world
    recorder = EventRecorder(ws, capacity=10)
    taken = [recorder.record(ev) for ev in events(experiment_id, 12)]
    assert taken == [True] * 10 + [False] * 5 and recorder.pending == 10 and recorder.stats.refused == 5
    assert any("waiting to be stored" in reason for reason in recorder.unready_reasons())
    recorder.flush()
    assert recorder.unready_reasons() == [] and recorder.record(events(experiment_id, 1)[0])


def test_stop_does_not_wait_for_a_hung_database_it_spools_the_buffer(world, monkeypatch):
    ws, experiment_id = world
    recorder = EventRecorder(ws, drain_seconds=3600)
    release, entered = threading.Event(), threading.Event()
    real_ingest = recorder.store.ingest

    def hung(*args, **kwargs):  # a lock nobody releases until the test ends
        entered.set()
        release.wait()
        return real_ingest(*args, **kwargs)

    recorder.start()
    monkeypatch.setattr(recorder.store, "ingest", hung)
    for ev in events(experiment_id, 20):
        recorder.record(ev)
    assert entered.wait(60)
    recorder.stop()  # returns although the write still hangs (and the drain limit is an hour)
    assert not release.is_set() and recorder.stats.spooled == 25 and recorder.pending == 0
    release.set()
    monkeypatch.setattr(recorder.store, "ingest", real_ingest)
    restarted = EventRecorder(ws)
    restarted.start()
    restarted.stop()
    assert stored(ws, experiment_id) == (20, 5)


def test_a_spool_write_that_fails_leaves_no_file_and_keeps_the_events(world, monkeypatch):
    ws, experiment_id = world
    recorder = EventRecorder(ws)
    monkeypatch.setattr(recorder.store, "ingest", lambda *a, **k: (_ for _ in ()).throw(OSError("database is down")))

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    for ev in events(experiment_id, 8):
        recorder.record(ev)
    with pytest.raises(OSError):
        write_spool_file(ws.home.spool_dir, events(experiment_id, 1))
    recorder.stop()
    assert list(ws.home.spool_dir.iterdir()) == []  # no 0-byte or half-written temp file
    assert recorder.pending == 10 and any("disk full" in reason for reason in recorder.unready_reasons())


def test_a_crash_s_leftover_temp_files_are_recovered_at_start(world):
    ws, experiment_id = world
    spool = ws.home.spool_dir
    spool.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(ev.to_wire()) for ev in events(experiment_id, 3)]  # 3 impressions, 1 click
    (spool / "00000000000000000001-999999999-000001.tmp").write_text("\n".join(lines) + "\n" + lines[0][:25])  # torn last line
    (spool / "00000000000000000002-999999999-000002.tmp").write_text("")  # killed before it wrote anything
    recorder = EventRecorder(ws)
    recorder.start()
    recorder.stop()
    assert list(spool.iterdir()) == []
    assert stored(ws, experiment_id) == (3, 1)


def test_a_disk_without_room_for_the_spool_refuses_to_start(world):
    ws, _ = world
    total = shutil.disk_usage(ws.home.root).total
    with pytest.raises(SpoolUnavailable, match="MB free on the disk of"):
        EventRecorder(ws, min_free_bytes=total + 1)
