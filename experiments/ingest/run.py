"""One ingestion call: chunks of parsed lines through the rules, each chunk in its own transaction.

Each transaction starts by writing the experiment's row: that serialises it with other ingestions and
with round closes of the same experiment on SQLite (database write lock) and PostgreSQL (row lock)
alike, so an event is never counted in a round that has already closed, and a re-delivered event id
is never counted twice.
"""

from __future__ import annotations

import gc
from itertools import islice
from typing import BinaryIO, Iterable, Iterator

from sqlalchemy import Engine

from experiments.events import ParsedLine, parse_jsonl_lines
from experiments.ingest.rules import IngestRules, settle_served_rounds
from experiments.ingest.sql import IngestSql, arms_and_saturated
from experiments.model import ExperimentConfig, IngestReport

CHUNK = 200_000  # lines per transaction

# a chunk: parsed lines (Event, MalformedEvent or None for a blank line) and their line numbers, or the first one's
Chunk = tuple[list, list | int]


def ingest_parsed(engine: Engine, experiment_id: str, config: ExperimentConfig, parsed: Iterable[ParsedLine], source: str) -> IngestReport:
    """Ingest (line number, event) pairs (Python objects, CSV rows)."""
    def chunks() -> Iterator[Chunk]:
        events: list = []
        numbers: list = []
        for number, ev in parsed:
            events.append(ev)
            numbers.append(number)
            if len(events) >= CHUNK:
                yield events, numbers
                events, numbers = [], []
        yield events, numbers

    return _ingest(engine, experiment_id, config, chunks(), source)


def ingest_jsonl(engine: Engine, experiment_id: str, config: ExperimentConfig, handle: BinaryIO, source: str) -> IngestReport:
    """Ingest a JSONL file read as bytes, CHUNK lines at a time (parsed in bulk, see parse_jsonl_lines)."""
    def chunks() -> Iterator[Chunk]:
        first = 1
        while True:
            lines = list(islice(handle, CHUNK))
            if not lines:
                break
            yield parse_jsonl_lines(lines), first
            first += len(lines)

    return _ingest(engine, experiment_id, config, chunks(), source)


def _ingest(engine: Engine, experiment_id: str, config: ExperimentConfig, chunks: Iterator[Chunk], source: str) -> IngestReport:
    arm_ids, saturated = arms_and_saturated(engine, experiment_id)
    rules = IngestRules(experiment_id, arm_ids, config, saturated)
    db = IngestSql(engine, experiment_id)
    # nothing here forms cycles, and millions of new tuples would make the cyclic GC rescan the call's id sets over and over
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        held = None  # a chunk is known to be the last only once the next one is asked for
        for chunk in chunks:
            if held is not None:
                _chunk(engine, db, rules, *held, final=False)
            held = chunk
        _chunk(engine, db, rules, *(held or ([], 1)), final=True)
        return rules.report(source)
    finally:
        # free the call's state while the GC is off: enabled first, it would traverse a tuple per event once more
        rules = held = chunk = None  # type: ignore[assignment]
        if was_enabled:
            gc.enable()


def _chunk(engine: Engine, db: IngestSql, rules: IngestRules, events: list, lines: list | int, final: bool) -> None:
    fresh = rules.screen(events, lines)
    if not fresh.events and not rules.pending:
        return
    with engine.begin() as conn:
        round_no = db.lock(conn)  # the first statement writes (see module doc)
        settle_served_rounds(fresh.events, round_no)
        admitted = rules.admit(fresh, db.claim(conn, fresh.events, round_no))
        db.unclaim(conn, admitted.dropped)
        clicks = []
        if admitted.clicks:
            ids = [ev.impression_id for _, ev in admitted.clicks]
            clicks = rules.judge_clicks(admitted.clicks, db.impressions(conn, ids, admitted.impressions), db.clicked(conn, ids), final)
        if admitted.impressions or clicks:
            db.write(conn, round_no, admitted.impressions, clicks, admitted.features)
        db.mark_saturated(conn, admitted.saturated, rules.limit)
