"""Events waiting outside the database: an experiment's inbox files and the web server's spool."""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select

from creative.services.workspace import Workspace
from experiments import tables as et
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


SERVED, SPOOLED, EVENTS_API, FILES = "served by the web app", "served, replayed from the spool", "posted to /v1/events", "from event files"


def source_kind(source: str) -> str:
    """The channel an ingestion came through, from the source its ingest log row names."""
    if source == "web":  # creative.web.recorder's own writes
        return SERVED
    if source.startswith("web-spool:"):
        return SPOOLED
    if source.startswith("web-api:"):
        return EVENTS_API
    return FILES


def accepted_by_source(ws: Workspace, experiment_id: str, round_no: int) -> dict[str, int]:
    """Events accepted for the experiment between the close of round `round_no - 1` and of round `round_no`,
    by channel: what a round took in includes what the web app stored as it served, not only the files."""
    with ws.engine.connect() as conn:
        closed = dict(conn.execute(select(et.rounds.c.round_no, et.rounds.c.closed_at).where(
            et.rounds.c.experiment_id == experiment_id, et.rounds.c.round_no.in_((round_no - 1, round_no)))).all())
        if round_no not in closed:
            return {}
        query = (select(et.ingests.c.source, func.sum(et.ingests.c.accepted))
                 .where(et.ingests.c.experiment_id == experiment_id, et.ingests.c.finished_at <= closed[round_no])
                 .group_by(et.ingests.c.source))
        if round_no - 1 in closed:
            query = query.where(et.ingests.c.finished_at > closed[round_no - 1])
        out: Counter = Counter()
        for source, accepted in conn.execute(query):
            out[source_kind(source)] += int(accepted or 0)
    return {kind: n for kind, n in out.items() if n}
