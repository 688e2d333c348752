"""Buffered impression and click writes: served in memory, stored in batches, spooled to disk when the database is sick.

Serving appends an event and returns; a writer thread hands each batch to `ExperimentStore.ingest`,
which is idempotent by event id, so a batch retried (or both stored and spooled) is never counted twice.
The buffer is bounded: when neither the database nor the disk takes events, `record` refuses and
serving answers 503 rather than answer an impression it cannot keep.

While the database fails or a write hangs (a lock), a spooler thread writes every event that has waited
longer than `spool_after` (0.1 s) to HOME/web-spool/*.jsonl, durably (temp file, fsync, rename, fsync of the
folder), so a SIGKILL during an outage loses only the last moments of traffic (measured: about 0.05 s). Spooled files are replayed (by
`services.events.ingest_spool`) before newer events are stored, so an impression precedes its click:
by the writer once the database is back, at the next start (after recovering any `.tmp` a crash left)
and by any round that closes. Shutdown (SIGTERM) drains for at most `drain_seconds`, then spools the rest.

Several workers (`creative serve --workers N`) each have a recorder and their own spool files (named
with the pid); `replay_lock` (creative.web.shared_state) makes them replay one at a time. Replaying
twice would count nothing twice anyway (ingestion is idempotent by event id), only do the work twice.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import math
import os
import shutil
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from itertools import count, islice, takewhile
from pathlib import Path
from typing import Callable, Iterable, Iterator

from creative.services import Workspace
from creative.services.events import ingest_spool
from creative.web.errors import WebError
from experiments.errors import ExperimentNotFound
from experiments.events import Event

log = logging.getLogger("creative.web.recorder")

SOURCE = "web"
MB = 1024 * 1024
SPOOL_TICK_SECONDS = 0.05  # how often the spooler looks; adds to `spool_after` in what a SIGKILL can lose
ASSUMED_SECONDS_PER_EVENT = 2e-5  # until measured: ingestion stores ~50k events/s on a loaded 2-core machine
HUNG_WRITE_SECONDS = 0.25  # a write taking longer than this and than 4x the usual: the database is not keeping up, spool
STALLED_AFTER_SECONDS = 2.0  # a database write hanging this long makes the server not ready


class SpoolUnavailable(WebError):
    """The spool folder cannot hold what a database outage would put there: the server refuses to start."""


@dataclass
class RecorderStats:
    recorded: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    failures: int = 0
    spooled: int = 0
    refused: int = 0  # events record() turned away because the buffer was full (serving answered 503)
    last_error: str | None = None


class EventRecorder:
    """The buffer between serving and the database. Events leave it from the left, only once stored or spooled.

    Each entry is (sequence, monotonic time recorded, event); the writer and the spooler each take a prefix
    and, once it is durable, drop entries up to its last sequence, so neither ever puts anything back."""

    def __init__(self, ws: Workspace, flush_interval: float = 0.25, max_batch: int = 20_000, *, capacity: int = 100_000,
                 spool_after: float = 0.1, drain_seconds: float = 10.0, min_free_bytes: int = 64 * MB,
                 replay_lock: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext) -> None:
        self.ws = ws
        self.store = ws.experiments
        self.spool_dir = ws.home.spool_dir
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.capacity = capacity
        self.spool_after = spool_after
        self.drain_seconds = drain_seconds
        self.replay_lock = replay_lock
        self.stats = RecorderStats()
        self._queue: deque[tuple[int, float, Event]] = deque()
        self._seq = count(1)
        self._lock = threading.Lock()  # the queue and the state below
        self._flush_lock = threading.Lock()  # one database writer at a time (the thread, or a round's flush)
        self._spool_lock = threading.Lock()  # one spool writer at a time
        self._writing_since: float | None = None
        self._per_event = ASSUMED_SECONDS_PER_EVENT  # seconds a write usually takes per event (moving average)
        self._writing_events = 0
        self._db_error: str | None = None
        self._spool_error: str | None = None
        self._replay_due = False
        self._spooling = False  # since the database last took a write: log once per outage
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []
        check_spool_space(self.spool_dir, min_free_bytes)

    # ---- hot path (event loop thread)
    def record(self, event: Event) -> bool:
        """Buffer one event; False (nothing kept) when the buffer is full."""
        with self._lock:
            if len(self._queue) >= self.capacity:
                self.stats.refused += 1
                return False
            self._queue.append((next(self._seq), time.monotonic(), event))
            self.stats.recorded += 1
            if len(self._queue) >= self.max_batch:
                self._wake.set()
        return True

    @property
    def pending(self) -> int:
        """Events served but not yet stored or spooled."""
        return len(self._queue)

    def unready_reasons(self) -> list[str]:
        """Why the server should not take traffic now (empty: ready): a full buffer, a failing database or spool."""
        reasons = []
        if self.pending > self.capacity // 2:
            reasons.append(f"{self.pending} events waiting to be stored (limit {self.capacity})")
        if self._db_error is not None:
            reasons.append(f"the last database write failed: {self._db_error}")
        elif self._writing_since is not None and (waited := time.monotonic() - self._writing_since) > STALLED_AFTER_SECONDS:
            reasons.append(f"a database write has been waiting {waited:.1f} s")
        if self._spool_error is not None:
            reasons.append(f"the last spool write failed: {self._spool_error}")
        return reasons

    # ---- lifecycle
    def start(self) -> None:
        """Recover what a crash left in the spool, replay it, then start the writer and the spooler."""
        with self.replay_lock():
            recovered = recover_leftovers(self.spool_dir)
        if recovered:
            log.warning("recovered %d event(s) from spool file(s) an earlier run left unfinished", recovered)
        try:
            self._replay()
        except Exception:  # noqa: BLE001 - logged in _replay; the writer replays once the database answers
            pass
        self._threads = [threading.Thread(target=self._write_loop, name="event-recorder", daemon=True),
                         threading.Thread(target=self._spool_loop, name="event-spooler", daemon=True)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Store what the database takes within `drain_seconds`, spool the rest. Called from the lifespan's shutdown."""
        self._stopping.set()  # the spooler now takes everything at once if the database is not keeping up
        self._wake.set()
        deadline = time.monotonic() + self.drain_seconds
        while self._queue and self._threads and time.monotonic() < deadline:
            time.sleep(SPOOL_TICK_SECONDS)
        self._closed.set()
        self._wake.set()
        if not self._threads:  # never started: one attempt at the database
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - logged in _store; spooled below
                pass
        self._spool_older_than(0.0)
        if self._queue:
            log.error("%d served events could be neither stored nor spooled (%s); they are lost", len(self._queue), self._spool_error)
        for thread in self._threads:
            thread.join(timeout=1.0)  # a writer stuck in the database is a daemon: its events are spooled

    def _write_loop(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the writer must survive anything; _store logged it
                self._closed.wait(self.flush_interval)

    def _spool_loop(self) -> None:
        while not self._closed.wait(SPOOL_TICK_SECONDS):
            if self._db_failing():
                self._spool_older_than(0.0 if self._stopping.is_set() else self.spool_after)

    def _db_failing(self) -> bool:
        since = self._writing_since
        return self._db_error is not None or (since is not None and time.monotonic() - since > self._hung_after())

    def _hung_after(self) -> float:
        """Under full load the writer shares the GIL with serving and its writes slow down: that is not a sick database."""
        return max(HUNG_WRITE_SECONDS, 4 * self._per_event * self._writing_events)

    # ---- the database
    def flush(self) -> int:
        """Store everything recorded so far, spooled files first; raises (events kept) when the database fails."""
        with self._flush_lock:
            last = self._last_seq()
            stored = 0
            while True:
                with self._lock:
                    due = self._replay_due
                    batch = [] if due else [entry for entry in _prefix(self._queue, self.max_batch) if entry[0] <= last]
                if due:
                    self._replay()
                    continue
                if not batch:
                    return stored
                stored += self._store(batch)

    def _last_seq(self) -> int:
        with self._lock:
            return self._queue[-1][0] if self._queue else 0

    def _store(self, batch: list[tuple[int, float, Event]]) -> int:
        """Ingest one batch per experiment, then drop it from the buffer (unless the spooler took it first)."""
        by_experiment: dict[str, list[Event]] = defaultdict(list)
        for _, _, ev in batch:  # order kept within an experiment: an impression precedes its click
            by_experiment[ev.experiment].append(ev)
        started = time.monotonic()
        self._writing_events = len(batch)  # a big batch under full load takes longer: scale what counts as hung
        with self._writing():
            for experiment_id, events in by_experiment.items():
                try:
                    report = self.store.ingest(experiment_id, events, source=SOURCE)
                except ExperimentNotFound:  # deleted under us: retrying cannot help
                    self.stats.rejected["unknown_experiment"] = self.stats.rejected.get("unknown_experiment", 0) + len(events)
                    continue
                self.stats.stored += report.accepted
                self.stats.duplicates += report.duplicates
                for reason, n in report.rejected.items():
                    self.stats.rejected[reason] = self.stats.rejected.get(reason, 0) + n
        if (took := time.monotonic() - started) < self._hung_after():  # an outage's long write is not the usual
            self._per_event = 0.8 * self._per_event + 0.2 * took / len(batch)
        self._drop_through(batch[-1][0])
        return len(batch)

    def _replay(self) -> None:
        with self._lock:
            self._replay_due = False  # a file spooled from here on sets it again
        try:
            with self.replay_lock(), self._writing():  # waiting for another worker's replay is not a hung write
                replayed = ingest_spool(self.ws)
        except Exception:
            with self._lock:
                self._replay_due = True
            raise
        if replayed.files:
            log.warning("ingested %d spooled file(s): %d events accepted, %d duplicates", replayed.files, replayed.accepted, replayed.duplicates)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Mark a database write in progress (how long it hangs decides spooling and readiness) and keep its outcome."""
        self._writing_since = time.monotonic()
        try:
            yield
        except Exception as exc:
            self.stats.failures += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            if self._db_error is None:
                log.exception("a database write failed; retrying, meanwhile events wait in memory or the spool")
            self._db_error = self.stats.last_error[:300]
            raise
        else:
            self._db_error = self._spool_error = None  # what the disk refused is in the database now
            self._spooling = False
        finally:
            self._writing_since = None

    def _drop_through(self, seq: int) -> None:
        with self._lock:
            while self._queue and self._queue[0][0] <= seq:
                self._queue.popleft()

    # ---- the spool
    def _spool_older_than(self, age: float) -> None:
        """Write every event that has waited longer than `age` to a spool file; on failure keep them in memory."""
        with self._spool_lock:
            with self._lock:
                cutoff = time.monotonic() - age
                entries = _prefix(self._queue, len(self._queue), recorded_by=cutoff)
            if not entries:
                return
            try:
                write_spool_file(self.spool_dir, (ev for _, _, ev in entries))
            except OSError as exc:
                if self._spool_error is None:
                    log.error("spooling %d events to %s failed (%s); they stay in memory, up to %d", len(entries), self.spool_dir, exc, self.capacity)
                self._spool_error = f"{exc.strerror or exc}" + (" (disk full)" if exc.errno == errno.ENOSPC else "")
                return
            self._drop_through(entries[-1][0])
            with self._lock:
                self._replay_due = True
            if not self._spooling:
                since = self._writing_since
                hung = f"a write has taken {time.monotonic() - since:.2f} s" if since is not None else "stopping"
                log.warning("the database is not taking events (%s): spooling them to %s", self._db_error or hung, self.spool_dir)
                self._spooling = True
            self.stats.spooled += len(entries)
            self._spool_error = None


def _prefix(queue: deque, n: int, recorded_by: float = math.inf) -> list[tuple[int, float, Event]]:
    """The first `n` entries, stopping at the first recorded after `recorded_by` (entries are in time order)."""
    return list(takewhile(lambda entry: entry[1] <= recorded_by, islice(queue, n)))


# ---- spool files
def check_spool_space(folder: Path, min_free_bytes: int) -> None:
    """Refuse to run when the spool's disk cannot hold an outage's worth of events."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        raise SpoolUnavailable(f"cannot use {folder} to spool events: {exc.strerror or exc}; check its permissions and disk") from exc
    if free < min_free_bytes:
        raise SpoolUnavailable(f"only {free / MB:.1f} MB free on the disk of {folder} (need {min_free_bytes / MB:.0f} MB to spool events "
                               "while the database is unavailable); free some space and start again")


_file_no = count(1)
HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]  # names this machine in spool files: pids are per machine
ABANDONED_AFTER_SECONDS = 60.0  # another machine's temp file untouched this long: its writer died (a write takes milliseconds)


def write_spool_file(folder: Path, events: Iterable[Event]) -> Path:
    """Write events as JSONL durably: a temp file, fsynced, renamed, and the folder fsynced; never leaves a temp file behind."""
    # sorts in spooling order (replay keeps impressions before clicks); the pid and host say whose it is while it is a temp file
    name = f"{time.time_ns():020d}-{os.getpid()}-{next(_file_no):06d}-{HOST}"
    path, tmp = folder / f"{name}.jsonl", folder / f"{name}.tmp"
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(ev.to_wire(), ensure_ascii=False) + "\n" for ev in events)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.rename(path)
        _fsync_dir(folder)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def recover_leftovers(folder: Path) -> int:
    """Turn the `.tmp` files a killed server left into spool files (their complete lines); returns the events saved."""
    saved = 0
    for tmp in sorted(folder.glob("*.tmp")):
        if _writer_alive(tmp):
            continue
        try:
            data = tmp.read_bytes()
        except FileNotFoundError:  # recovered meanwhile by another worker
            continue
        complete = data[: data.rfind(b"\n") + 1]  # a torn last line is what the crash interrupted
        if not complete:
            tmp.unlink()
            continue
        with tmp.open("r+b") as fh:
            fh.truncate(len(complete))
            os.fsync(fh.fileno())
        tmp.rename(tmp.with_suffix(".jsonl"))
        saved += complete.count(b"\n")
    if saved:
        _fsync_dir(folder)
    return saved


def _writer_alive(tmp: Path) -> bool:
    """Whether another live process is still writing this temp file: by its pid on this machine; on another machine
    sharing the home, while the file is younger than ABANDONED_AFTER_SECONDS."""
    parts = tmp.stem.split("-")
    if len(parts) == 4 and parts[3] != HOST:
        try:
            return time.time() - tmp.stat().st_mtime < ABANDONED_AFTER_SECONDS
        except FileNotFoundError:  # renamed by its writer meanwhile
            return True
    if len(parts) not in (3, 4) or not parts[1].isdigit() or int(parts[1]) == os.getpid():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
