"""Buffered impression and click writes: served in memory, stored in batches by the experiment's ingestion.

Serving appends an event and returns; a writer thread hands each batch to
`ExperimentStore.ingest`, which is idempotent by event id, so a batch retried after a failure is never
counted twice. On shutdown (uvicorn's lifespan, which SIGTERM triggers after in-flight requests
finish) the buffer is drained; whatever the database still refuses is spooled to HOME/web-spool/*.jsonl,
which the next start (and any round that closes before it, through `services.close_round`) ingests with
`services.events.ingest_spool`, so a served impression is not lost.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field

from creative.services import Workspace
from creative.services.events import ingest_spool
from experiments.errors import ExperimentNotFound
from experiments.events import Event

log = logging.getLogger("creative.web.recorder")

SOURCE = "web"


@dataclass
class RecorderStats:
    recorded: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    failures: int = 0
    spooled: int = 0
    last_error: str | None = None


class EventRecorder:
    def __init__(self, ws: Workspace, flush_interval: float = 0.25, max_batch: int = 20_000) -> None:
        self.ws = ws
        self.store = ws.experiments
        self.spool_dir = ws.home.spool_dir
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.stats = RecorderStats()
        self._queue: deque[Event] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._flush_lock = threading.Lock()
        self._inflight = 0  # taken off the queue, not yet stored
        self._thread: threading.Thread | None = None

    # ---- hot path (event loop thread)
    def record(self, event: Event) -> None:
        self._queue.append(event)  # deque.append is atomic under the GIL
        self.stats.recorded += 1
        if len(self._queue) >= self.max_batch:
            self._wake.set()

    @property
    def pending(self) -> int:
        """Events served but not yet stored (queued or being written)."""
        return len(self._queue) + self._inflight

    # ---- lifecycle
    def start(self) -> None:
        replayed = ingest_spool(self.ws)
        if replayed.files:
            log.info("ingested %d spooled file(s): %d events accepted, %d duplicates", replayed.files, replayed.accepted, replayed.duplicates)
        self._thread = threading.Thread(target=self._run, name="event-recorder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Drain everything; spool what cannot be stored. Called from the lifespan's shutdown."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        for attempt in range(3):
            if not self._queue:
                break
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - logged in flush; retry, then spool
                time.sleep(0.2 * (attempt + 1))
        if self._queue:
            self._spool()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the writer must survive anything; flush() logged it
                time.sleep(self.flush_interval)

    # ---- writing
    def flush(self) -> int:
        """Store what is buffered now; on failure the batch goes back to the front of the queue."""
        with self._flush_lock:
            batch: list[Event] = []
            while self._queue and len(batch) < self.max_batch:
                batch.append(self._queue.popleft())
                self._inflight += 1
            if not batch:
                return 0
            try:
                return self._store(batch)
            finally:
                self._inflight = 0

    def _store(self, batch: list[Event]) -> int:
        """Ingest one batch per experiment; a failed experiment's events go back to the front of the queue."""
        by_experiment: dict[str, list[Event]] = defaultdict(list)
        for ev in batch:  # order kept within an experiment: an impression precedes its click
            by_experiment[ev.experiment].append(ev)
        done: set[str] = set()
        try:
            for experiment_id, events in by_experiment.items():
                try:
                    report = self.store.ingest(experiment_id, events, source=SOURCE)
                except ExperimentNotFound:  # deleted under us: retrying cannot help
                    done.add(experiment_id)
                    self.stats.rejected["unknown_experiment"] = self.stats.rejected.get("unknown_experiment", 0) + len(events)
                    continue
                done.add(experiment_id)
                self.stats.stored += report.accepted
                self.stats.duplicates += report.duplicates
                for reason, n in report.rejected.items():
                    self.stats.rejected[reason] = self.stats.rejected.get(reason, 0) + n
        except Exception as exc:
            self.stats.failures += 1
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("storing %d events failed; will retry", len(batch))
            keep = [ev for ev in batch if ev.experiment not in done]
            self._queue.extendleft(reversed(keep))
            raise
        return len(batch)

    def _spool(self) -> None:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        path = self.spool_dir / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.jsonl"
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            while self._queue:
                fh.write(json.dumps(self._queue.popleft().to_wire(), ensure_ascii=False) + "\n")
                self.stats.spooled += 1
        tmp.rename(path)
        log.error("database unavailable at shutdown: %d events spooled to %s; they are ingested at the next start", self.stats.spooled, path)
