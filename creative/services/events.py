"""Events waiting outside the database: an experiment's inbox files and the web server's spool."""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from creative.services.workspace import Workspace
from experiments.errors import ExperimentNotFound
from experiments.inbox import mark_ingested, pending_files
from experiments.model import IngestReport

log = logging.getLogger("creative.services")


@dataclass
class Ingested:
    """What a round took in from files before closing: counts and rejections by reason."""

    files: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: Counter = field(default_factory=Counter)

    def add(self, report: IngestReport) -> None:
        self.accepted += report.accepted
        self.duplicates += report.duplicates
        self.rejected.update(report.rejected)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


def ingest_inbox(ws: Workspace, experiment_id: str, into: Ingested) -> None:
    """Every file waiting in the experiment's inbox; each ingested file is moved out of it."""
    for path in pending_files(ws.home.root, experiment_id):
        into.add(ws.experiments.ingest_file(experiment_id, path))
        into.files += 1
        mark_ingested(ws.home.root, experiment_id, path)


def ingest_spool(ws: Workspace, into: Ingested | None = None) -> Ingested:
    """Every spooled web event, for whichever experiment it belongs to; a file goes once all of it is stored.

    Ingestion is idempotent by event id, so a file replayed twice (a crash between ingest and unlink)
    counts nothing twice."""
    into = into or Ingested()
    folder = ws.home.spool_dir
    if not folder.is_dir():
        return into
    for path in sorted(folder.glob("*.jsonl")):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:  # replayed meanwhile by another reader (the server's recorder, a round)
            continue
        by_experiment: dict[str, list[dict]] = defaultdict(list)
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                by_experiment[str(raw.get("experiment"))].append(raw)
            except (ValueError, AttributeError):  # one damaged line must not keep the rest of the file out forever
                log.warning("%s line %d: not a spooled event; skipped", path.name, number)
                into.rejected["malformed"] += 1
        for experiment_id, events in by_experiment.items():
            try:
                into.add(ws.experiments.ingest(experiment_id, events, source=f"web-spool:{path.name}"))
            except ExperimentNotFound:
                log.warning("%s: %d spooled events of deleted experiment %s dropped", path.name, len(events), experiment_id)
                into.rejected["unknown_experiment"] += len(events)
        into.files += 1
        path.unlink(missing_ok=True)
    return into
