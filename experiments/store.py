"""The experiment store: experiments, arms, idempotent bulk ingestion and incremental aggregates.

Every event lands in the bucket of the round open when it was ingested (exp_arm_stats per experiment,
round and creative; exp_user_stats per user and creative), so closing a round reads one bucket and the
previous round's snapshot, never the event history. Each ingestion transaction starts by writing the
experiment's row: that serialises it with other ingestions and with round closes of the same
experiment on SQLite (database write lock) and PostgreSQL (row lock) alike, so an event is never
counted in a round that has already closed, and a re-delivered event id is never counted twice.
"""

from __future__ import annotations

import gc
import json
import sqlite3
import uuid
from collections import Counter
from itertools import chain, islice
from operator import itemgetter
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from sqlalchemy import Engine, func, insert, select, update

from experiments import messages, tables as t
from experiments.errors import ExperimentNotFound, InvalidExperiment, ManifestError
from experiments.events import (
    BOT_BURST,
    CLICK,
    CLICK_MISMATCH,
    CLICK_OUTSIDE_WINDOW,
    CLICK_WITHOUT_IMPRESSION,
    DUPLICATE_CLICK,
    IMPRESSION,
    MALFORMED,
    UNKNOWN_CREATIVE,
    UNKNOWN_EXPERIMENT,
    Event,
    MalformedEvent,
    ParsedLine,
    open_event_file,
    open_event_source,
    parse_jsonl_lines,
    parse_python,
)
from experiments.model import ArmSnapshot, CreativeArm, ExperimentConfig, ExperimentStatus, IngestReport, RejectedLine
from experiments.policies import FixedSplit, make_policy, validate_shares

CHUNK = 200_000
SAMPLE_LIMIT = 20
_IN_CHUNK = 2_000
_IN_CHUNK_SQLITE = 2_000
_SQLITE_CACHE_KIB = 131_072
_VALUES_ROWS = 100
_EVENT_VALUES = "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
_EVENT_INSERT = "INSERT INTO exp_events (experiment_id, event_id, kind, ts_ms, creative_id, user_id, size, impression_id, round_no) VALUES "


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ManifestCreatives:
    """Creatives read from a composer manifest: the usable ones, and those excluded for violations."""

    arms: tuple[CreativeArm, ...]
    excluded: tuple[tuple[str, tuple[str, ...]], ...]


def arms_from_dicts(items: Iterable[Any]) -> ManifestCreatives:
    usable, excluded = [], []
    for item in items:
        if isinstance(item, CreativeArm):
            usable.append(item)
            continue
        violations = item.get("violations") if isinstance(item, Mapping) else None
        if violations:
            excluded.append((str(item.get("id")), tuple(str(v) for v in violations)))
            continue
        usable.append(CreativeArm.from_dict(item))
    return ManifestCreatives(tuple(usable), tuple(excluded))


def load_manifest(path: str | Path) -> ManifestCreatives:
    """Read the composer's manifest.json (an object with "creatives", or a bare list)."""
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.json"
    if not path.is_file():
        raise ManifestError(messages.MANIFEST_MISSING.format(path=path))
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(messages.MANIFEST_BAD.format(path=path, reason=f"not JSON ({exc})")) from exc
    items = raw.get("creatives") if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise ManifestError(messages.MANIFEST_BAD.format(path=path, reason="no 'creatives' list"))
    try:
        found = arms_from_dicts(items)
    except InvalidExperiment as exc:
        raise ManifestError(messages.MANIFEST_BAD.format(path=path, reason=str(exc))) from exc
    # Files are relative to the manifest; arms keep absolute paths so a server can find them later.
    folder = path.resolve().parent
    arms = tuple(replace(a, file=str(folder / a.file)) if a.file and not Path(a.file).is_absolute() else a for a in found.arms)
    return replace(found, arms=arms)


def _check_arms(name: str, arms: Sequence[CreativeArm]) -> None:
    counts = Counter(a.id for a in arms)
    dups = sorted(k for k, v in counts.items() if v > 1)
    if dups:
        raise InvalidExperiment(messages.DUPLICATE_ARMS.format(ids=", ".join(dups[:10])))
    if len(arms) < 2:
        raise InvalidExperiment(messages.ONE_ARM.format(name=name, n=len(arms)))


@dataclass
class _Pending:
    line: int | None
    event: Event


# Event fields by position: ingestion reads them by the million, and tuple indexing beats attribute access
_EID, _KIND, _TS, _EXP, _CREATIVE, _USER, _SIZE, _IMPRESSION_ID, _FEATURES = range(9)


class _Ingestion:
    """One ingestion call: counters, the within-call state, and the per-chunk transaction.

    A chunk is a list of parsed events (None for a blank line, a MalformedEvent for a bad one) with their
    line numbers: a list, or the first line's number when the lines are consecutive.
    """

    def __init__(self, store: "ExperimentStore", experiment_id: str, source: str) -> None:
        self.store = store
        self.engine = store.engine
        self.experiment_id = experiment_id
        self.source = source
        row = store._experiment_row(experiment_id)
        self.config = ExperimentConfig.from_dict(row.config)
        with self.engine.connect() as conn:
            self.arm_ids = set(conn.execute(select(t.arms.c.creative_id).where(t.arms.c.experiment_id == experiment_id)).scalars())
            saturated = conn.execute(select(t.rate_limited.c.user_id, t.rate_limited.c.minute, t.rate_limited.c.events)
                                     .where(t.rate_limited.c.experiment_id == experiment_id)).all()
        self.window_ms = int(self.config.attribution_window_hours * 3_600_000)
        self.rate_limit = self.config.max_events_per_user_minute
        self.lines = 0
        self.accepted = self.impressions = self.clicks = self.duplicates = 0
        self.rejected: Counter[str] = Counter()
        self.samples: list[RejectedLine] = []
        self.seen: set[str] = set()
        # the limit holds within a call, and across calls for buckets that once reached it
        self.rate: dict[tuple[str, int], int] = {(u, int(m)): n for u, m, n in saturated}
        self.saturated_before = {(u, int(m)) for u, m, _ in saturated}
        self.rejected_impressions: dict[str, str] = {}
        self.clicked: set[str] = set()
        self.pending: list[_Pending] = []
        self.started = utcnow()
        p = self.engine.dialect.paramstyle
        self.ph = "?" if p == "qmark" else "%s"
        self.sqlite = self.engine.dialect.name == "sqlite"

    def reject(self, line: int | None, reason: str, detail: str) -> None:
        self.rejected[reason] += 1
        if len(self.samples) < SAMPLE_LIMIT:
            self.samples.append(RejectedLine(line, reason, detail))

    def run(self, parsed: Iterable[ParsedLine]) -> IngestReport:
        """Ingest (line number, event) pairs (Python objects, CSV rows)."""
        def chunks():
            events: list = []
            numbers: list = []
            for number, ev in parsed:
                events.append(ev)
                numbers.append(number)
                if len(events) >= CHUNK:
                    yield events, numbers
                    events, numbers = [], []
            yield events, numbers

        return self._run(chunks())

    def run_jsonl(self, handle) -> IngestReport:
        """Ingest a JSONL file read as bytes, CHUNK lines at a time (parsed in bulk, see parse_jsonl_lines)."""
        def chunks():
            first = 1
            while True:
                lines = list(islice(handle, CHUNK))
                if not lines:
                    break
                yield parse_jsonl_lines(lines), first
                first += len(lines)

        return self._run(chunks())

    def _run(self, chunks) -> IngestReport:
        # Millions of short-lived tuples would trigger the cyclic GC over and over, rescanning the
        # call's id sets each time (a third of the ingestion time); nothing built here forms cycles.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            held = None
            for chunk in chunks:
                if held is not None:
                    self._chunk(*held)
                held = chunk
            if held is not None:
                self._chunk(*held, final=True)
            else:
                self._chunk([], 1, final=True)
            held = chunk = None
            report = self._finish()
        finally:
            # free the call's state while the GC is off: enabled first, it would traverse a tuple per event once more
            self.seen = self.rate = self.rejected_impressions = self.clicked = None  # type: ignore[assignment]
            if was_enabled:
                gc.enable()
        return report

    def _sql(self, text: str) -> str:
        return text.replace("?", self.ph)

    def _existing(self, conn, column: str, ids: list[str]) -> set[str]:
        """Which of `ids` are already stored (plain driver SQL: compiling 50k-value IN lists costs more than the lookup)."""
        found: set[str] = set()
        step = _IN_CHUNK_SQLITE if self.sqlite else _IN_CHUNK
        for i in range(0, len(ids), step):
            part = ids[i : i + step]
            sql = f"SELECT {column} FROM exp_events WHERE experiment_id = ? AND {column} IN ({', '.join('?' * len(part))})"
            found.update(r[0] for r in conn.exec_driver_sql(self._sql(sql), (self.experiment_id, *part)))
        return found

    def _chunk(self, events: list, lines: list | int, final: bool = False) -> None:
        exp, arm_ids, seen = self.experiment_id, self.arm_ids, self.seen
        first = lines if type(lines) is int else None
        fresh: list[Event] = []
        fresh_at: list[int] = []
        blank = 0
        i = -1
        for ev in events:
            i += 1
            if not (ev.__class__ is Event and ev[_EXP] == exp and ev[_CREATIVE] in arm_ids):
                if ev is None:
                    blank += 1
                    continue
                line = first + i if first is not None else lines[i]
                if isinstance(ev, MalformedEvent):
                    self.reject(line, MALFORMED, f"line {line}: {ev}")
                    continue
                if ev.experiment != exp:
                    self.reject(line, UNKNOWN_EXPERIMENT, f"line {line}: experiment {ev.experiment!r} is not {exp!r}")
                    continue
                if ev.creative not in arm_ids:
                    self.reject(line, UNKNOWN_CREATIVE, f"line {line}: creative {ev.creative!r} is not an arm of {exp}")
                    continue
            eid = ev[_EID]
            if eid in seen:
                self.duplicates += 1
            else:
                seen.add(eid)
                fresh.append(ev)
                fresh_at.append(i)
        self.lines += len(events) - blank
        if not fresh and not self.pending:
            return

        def line_of(k: int) -> int | None:
            return first + fresh_at[k] if first is not None else lines[fresh_at[k]]

        with self.engine.begin() as conn:
            # first statement writes: takes the SQLite write lock / the PostgreSQL row lock (see module doc)
            conn.execute(update(t.experiments).where(t.experiments.c.experiment_id == exp).values(ingest_seq=t.experiments.c.ingest_seq + 1))
            if self.sqlite:
                # a chunk rewrites pages all over the event and per-user tables: keep them in memory until the commit
                conn.exec_driver_sql(f"PRAGMA cache_size=-{_SQLITE_CACHE_KIB}")
            round_no = conn.execute(select(t.experiments.c.current_round).where(t.experiments.c.experiment_id == exp)).scalar_one()
            if self.sqlite:
                # impressions go in first, and the primary key tells which were stored before (see _claim)
                claimed, known = True, self._claim(conn, fresh, round_no)
            else:
                claimed, known = None, (self._existing(conn, "event_id", [ev[_EID] for ev in fresh]) if fresh else set())
            clicks: list[tuple[int | None, Event]] = []
            accepted: list[Event] = []
            dropped: list[str] = []
            features: dict[str, Mapping] = {}
            rate, limit = self.rate, self.rate_limit
            rate_get = rate.get
            full: set[tuple[str, int]] = set()
            k = -1
            for ev in fresh:
                k += 1
                eid = ev[_EID]
                if known and eid in known:
                    self.duplicates += 1
                    continue
                bucket = (ev[_USER], ev[_TS] // 60_000)
                n = rate[bucket] = rate_get(bucket, 0) + 1
                if n >= limit:
                    if n == limit:
                        full.add(bucket)
                    else:
                        line = line_of(k)
                        self.reject(line, BOT_BURST, f"line {line}: user {ev.user!r} sent more than {limit} events in one minute")
                        if ev[_KIND] == IMPRESSION:
                            self.rejected_impressions[eid] = BOT_BURST
                            dropped.append(eid)
                        continue
                if ev[_KIND] == CLICK:
                    clicks.append((line_of(k), ev))
                    continue
                accepted.append(ev)
                if ev[_FEATURES]:
                    features[ev[_USER]] = ev[_FEATURES]
            if claimed is None:
                rows = [(exp, ev[_EID], IMPRESSION, ev[_TS], ev[_CREATIVE], ev[_USER], ev[_SIZE], None, round_no) for ev in accepted]
            else:
                rows = []  # the accepted impressions are stored; take back those over the rate limit
                if dropped:
                    conn.exec_driver_sql("DELETE FROM exp_events WHERE experiment_id = ? AND event_id = ?", [(exp, eid) for eid in dropped])
            n_impressions = len(accepted)
            # impressions per creative and per (user, creative), counted in C (an Event has them where a row does)
            arm_delta = Counter(map(_get_creative, accepted))
            user_delta = Counter(map(_get_user_creative, accepted))
            arm_clicks: Counter[str] = Counter()
            user_clicks: Counter[tuple[str, str]] = Counter()
            clicks.extend((p.line, p.event) for p in self.pending)
            self.pending = []
            if clicks:
                # SQLite holds this chunk's accepted impressions already: the clicks' lookup below finds them
                impressions: dict[str, tuple] = dict(zip(map(_get_eid, accepted), accepted)) if claimed is None else {}
                missing = [ev.impression_id for _, ev in clicks if ev.impression_id not in impressions]
                for i in range(0, len(missing), _IN_CHUNK):
                    part = missing[i : i + _IN_CHUNK]
                    q = select(t.events.c.event_id, t.events.c.ts_ms, t.events.c.creative_id, t.events.c.user_id).where(
                        t.events.c.experiment_id == exp, t.events.c.kind == IMPRESSION, t.events.c.event_id.in_(part))
                    # laid out as an Event: ts, creative and user at their positions
                    impressions.update((r[0], (r[0], IMPRESSION, r[1], exp, r[2], r[3])) for r in conn.execute(q))
                already = self._existing(conn, "impression_id", [ev.impression_id for _, ev in clicks])
                for line, ev in clicks:
                    imp = impressions.get(ev.impression_id)
                    if imp is None:
                        reason = self.rejected_impressions.get(ev.impression_id)
                        if reason is not None:
                            self.reject(line, reason, f"line {line}: the click's impression {ev.impression_id!r} was rejected ({reason})")
                        elif final:
                            self.reject(line, CLICK_WITHOUT_IMPRESSION, f"line {line}: no impression {ev.impression_id!r}")
                        else:
                            self.pending.append(_Pending(line, ev))
                        continue
                    ts, creative, user = imp[_TS], imp[_CREATIVE], imp[_USER]
                    if creative != ev.creative or user != ev.user:
                        self.reject(line, CLICK_MISMATCH, f"line {line}: click on {ev.creative!r} by {ev.user!r} but impression {ev.impression_id!r} was {creative!r} for {user!r}")
                    elif not 0 <= ev.ts_ms - ts <= self.window_ms:
                        self.reject(line, CLICK_OUTSIDE_WINDOW, f"line {line}: click {(ev.ts_ms - ts) / 3_600_000:.2f} h after its impression; window is {self.config.attribution_window_hours:g} h")
                    elif ev.impression_id in already or ev.impression_id in self.clicked:
                        self.reject(line, DUPLICATE_CLICK, f"line {line}: impression {ev.impression_id!r} already has a click")
                    else:
                        self.clicked.add(ev.impression_id)
                        rows.append((exp, ev.event_id, CLICK, ev.ts_ms, creative, user, ev.size, ev.impression_id, round_no))
                        arm_clicks[creative] += 1
                        user_clicks[(user, creative)] += 1
            n_clicks = len(rows) - (n_impressions if claimed is None else 0)
            if n_impressions or n_clicks:
                self._write(conn, round_no, rows, arm_delta, arm_clicks, user_delta, user_clicks, features)
            full -= self.saturated_before
            if full:
                conn.execute(insert(t.rate_limited), [{"experiment_id": exp, "user_id": u, "minute": m, "events": limit} for u, m in full])
                self.saturated_before.update(full)
            self.accepted += n_impressions + n_clicks
            self.impressions += n_impressions
            self.clicks += n_clicks

    def _claim(self, conn, fresh: list[Event], round_no: int) -> set[str]:
        """SQLite: store the impressions of `fresh` and find which events were stored before, in one pass.

        INSERTs of _VALUES_ROWS rows go in as long as the primary key takes them; the first one it refuses
        (an event id already stored: SQLite undoes that statement alone) switches to looking up the ids of
        the rest and inserting only the others, so a re-delivered file costs one lookup per id, as before.
        Ingestion holds the write lock, so nothing changes in between. Clicks are looked up first (they
        are few). Returns the ids found stored."""
        exp = self.experiment_id
        rows = [(exp, ev[_EID], IMPRESSION, ev[_TS], ev[_CREATIVE], ev[_USER], ev[_SIZE], None, round_no)
                for ev in fresh if ev[_KIND] == IMPRESSION]
        known = self._existing(conn, "event_id", [ev[_EID] for ev in fresh if ev[_KIND] != IMPRESSION]) if len(rows) < len(fresh) else set()
        rows.sort(key=_get_event_id)
        step = _VALUES_ROWS
        full = len(rows) - len(rows) % step
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            execute, many = cursor.execute, _EVENT_INSERT + ", ".join([_EVENT_VALUES] * step)
            for i in range(0, full, step):
                try:
                    execute(many, [*chain.from_iterable(rows[i : i + step])])
                except sqlite3.IntegrityError:
                    break
            else:
                i = full
        finally:
            cursor.close()
        rest = rows[i:]
        if rest:
            stored = self._existing(conn, "event_id", [r[1] for r in rest])
            known |= stored
            self._insert(conn, _EVENT_INSERT, _EVENT_VALUES, "", [r for r in rest if r[1] not in stored] if stored else rest)
        return known

    def _write(self, conn, round_no, rows, arm_delta, arm_clicks, user_delta, user_clicks, features) -> None:
        exp = self.experiment_id
        # key order turns random B-tree inserts into mostly sequential ones (about 1.7x faster on SQLite)
        if rows:
            rows.sort(key=_get_event_id)
            self._insert(conn, _EVENT_INSERT, _EVENT_VALUES, "", rows)
        arm_keys = arm_delta.keys() | arm_clicks.keys() if arm_clicks else arm_delta.keys()
        conn.exec_driver_sql(self._sql(
            "INSERT INTO exp_arm_stats (experiment_id, round_no, creative_id, impressions, clicks) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (experiment_id, round_no, creative_id) DO UPDATE SET "
            "impressions = exp_arm_stats.impressions + excluded.impressions, clicks = exp_arm_stats.clicks + excluded.clicks"),
            [(exp, round_no, c, arm_delta.get(c, 0), arm_clicks.get(c, 0)) for c in sorted(arm_keys)])
        if user_clicks:
            user_rows = [(exp, u, c, n, 0) for (u, c), n in user_delta.items() if (u, c) not in user_clicks]
            user_rows += [(exp, u, c, user_delta.get((u, c), 0), n) for (u, c), n in user_clicks.items()]
        else:
            user_rows = [(exp, u, c, n, 0) for (u, c), n in user_delta.items()]
        user_rows.sort(key=_get_user)  # the user alone: 4x cheaper than (user, creative), the same pages
        self._insert(conn, "INSERT INTO exp_user_stats (experiment_id, user_id, creative_id, impressions, clicks) VALUES ", "(?, ?, ?, ?, ?)",
                     " ON CONFLICT (experiment_id, user_id, creative_id) DO UPDATE SET "
                     "impressions = exp_user_stats.impressions + excluded.impressions, clicks = exp_user_stats.clicks + excluded.clicks",
                     user_rows)
        if features:
            from sqlalchemy.dialects import postgresql, sqlite

            dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            stmt = dialect_insert(t.users)
            stmt = stmt.on_conflict_do_update(index_elements=["experiment_id", "user_id"], set_={"features": stmt.excluded.features})
            conn.execute(stmt, [{"experiment_id": exp, "user_id": u, "features": dict(f)} for u, f in features.items()])

    def _insert(self, conn, head: str, values: str, tail: str, rows: list[tuple]) -> None:
        """INSERT `rows`; on SQLite _VALUES_ROWS rows per statement on the transaction's own DBAPI connection
        (a third cheaper than one statement per row; keys within a statement are distinct, as in every batch here)."""
        if not self.sqlite:
            conn.exec_driver_sql(self._sql(head + values + tail), rows)
            return
        step = _VALUES_ROWS
        full = len(rows) - len(rows) % step
        if full:
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                execute, sql = cursor.execute, head + ", ".join([values] * step) + tail
                for i in range(0, full, step):
                    execute(sql, [*chain.from_iterable(rows[i : i + step])])
            finally:
                cursor.close()
        if full < len(rows):
            conn.exec_driver_sql(head + values + tail, rows[full:])

    def _finish(self) -> IngestReport:
        for p in self.pending:  # only reached if the final chunk was empty of fresh events
            self.reject(p.line, CLICK_WITHOUT_IMPRESSION, f"line {p.line}: no impression {p.event.impression_id!r}")
        self.pending = []
        report = IngestReport(
            experiment_id=self.experiment_id,
            source=self.source,
            lines=self.lines,
            accepted=self.accepted,
            impressions=self.impressions,
            clicks=self.clicks,
            duplicates=self.duplicates,
            rejected=dict(sorted(self.rejected.items())),
            samples=tuple(self.samples),
        )
        with self.engine.begin() as conn:
            conn.execute(insert(t.ingests).values(
                ingest_id=uuid.uuid4().hex, experiment_id=self.experiment_id, source=self.source[:1000],
                accepted=report.accepted, duplicates=report.duplicates, rejected=report.rejected,
                started_at=self.started, finished_at=utcnow()))
        return report


_get_event_id = itemgetter(1)
_get_eid = itemgetter(_EID)
_get_creative = itemgetter(4)
_get_user_creative = itemgetter(5, 4)
_get_user = itemgetter(1)


class ExperimentStore:
    """Experiments in the project's SQLAlchemy database (tables in experiments.tables)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- experiments and arms -------------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        creatives: Sequence[CreativeArm | Mapping[str, Any]],
        policy: str = "thompson",
        *,
        policy_params: Mapping[str, Any] | None = None,
        config: ExperimentConfig | Mapping[str, Any] | None = None,
        experiment_id: str | None = None,
    ) -> str:
        """Store a new experiment over `creatives` (creatives with violations are left out); returns its id."""
        arms = list(arms_from_dicts(creatives).arms)
        _check_arms(name, arms)
        cfg = config if isinstance(config, ExperimentConfig) else ExperimentConfig.from_dict(config)
        pol = make_policy(policy, **dict(policy_params or {}))
        ids = [a.id for a in arms]
        if isinstance(pol, FixedSplit) and pol.shares is not None:
            validate_shares(pol.shares, ids)
            allocation = {i: pol.shares.get(i, 0.0) for i in ids}
        else:
            allocation = {i: 1.0 / len(ids) for i in ids}
        validate_shares(allocation, ids)
        experiment_id = experiment_id or f"exp-{uuid.uuid4().hex[:12]}"
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(insert(t.experiments).values(
                experiment_id=experiment_id, name=name, policy=pol.name, policy_params=pol.params(), config=cfg.to_dict(),
                status="running", current_round=1, allocation=allocation, winner=None, version=0, ingest_seq=0,
                round_lock=None, locked_at=None, created_at=now, updated_at=now))
            conn.execute(insert(t.arms), [self._arm_row(experiment_id, a, 1) for a in arms])
        return experiment_id

    @staticmethod
    def _arm_row(experiment_id: str, arm: CreativeArm, round_no: int) -> dict[str, Any]:
        return {"experiment_id": experiment_id, "creative_id": arm.id, "size": arm.size, "template": arm.template, "file": arm.file,
                "elements": dict(arm.elements), "attributes": dict(arm.attributes), "state": "active", "added_round": round_no, "retired_round": None}

    def add_arms(self, experiment_id: str, creatives: Sequence[CreativeArm | Mapping[str, Any]]) -> list[str]:
        """Add creatives to a running experiment; each new arm gets an equal share from now on."""
        from experiments.errors import ExperimentConcluded

        new = list(arms_from_dicts(creatives).arms)
        with self.engine.begin() as conn:
            conn.execute(update(t.experiments).where(t.experiments.c.experiment_id == experiment_id).values(version=t.experiments.c.version + 1))
            row = self._experiment_row(experiment_id, conn)
            if row.status != "running":
                raise ExperimentConcluded(messages.CONCLUDED.format(experiment_id=experiment_id, decision=row.status, round_no=row.current_round - 1))
            existing = list(conn.execute(select(t.arms.c.creative_id, t.arms.c.state).where(t.arms.c.experiment_id == experiment_id)))
            clash = sorted({a.id for a in new} & {r[0] for r in existing})
            if clash:
                raise InvalidExperiment(messages.DUPLICATE_ARMS.format(ids=", ".join(clash[:10])))
            counts = Counter(a.id for a in new)
            dups = sorted(k for k, v in counts.items() if v > 1)
            if dups:
                raise InvalidExperiment(messages.DUPLICATE_ARMS.format(ids=", ".join(dups[:10])))
            if not new:
                return []
            active = sum(1 for r in existing if r[1] != "retired") + len(new)
            keep = 1.0 - len(new) / active
            allocation = {k: v * keep for k, v in row.allocation.items()}
            allocation.update({a.id: 1.0 / active for a in new})
            conn.execute(insert(t.arms), [self._arm_row(experiment_id, a, row.current_round) for a in new])
            conn.execute(update(t.experiments).where(t.experiments.c.experiment_id == experiment_id).values(allocation=allocation, updated_at=utcnow()))
        return [a.id for a in new]

    def _experiment_row(self, experiment_id: str, conn=None):
        query = select(t.experiments).where(t.experiments.c.experiment_id == experiment_id)
        if conn is None:
            with self.engine.connect() as c:
                row = c.execute(query).first()
        else:
            row = conn.execute(query).first()
        if row is None:
            raise ExperimentNotFound(messages.NOT_FOUND.format(experiment_id=experiment_id))
        return row

    def experiment_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(t.experiments.c.experiment_id).order_by(t.experiments.c.created_at)).scalars())

    def config(self, experiment_id: str) -> ExperimentConfig:
        return ExperimentConfig.from_dict(self._experiment_row(experiment_id).config)

    def arms(self, experiment_id: str) -> list[CreativeArm]:
        self._experiment_row(experiment_id)
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.arms).where(t.arms.c.experiment_id == experiment_id).order_by(t.arms.c.added_round, t.arms.c.creative_id))
            return [CreativeArm(id=r.creative_id, attributes=r.attributes, size=r.size, template=r.template, file=r.file, elements=r.elements) for r in rows]

    def snapshots(self, experiment_id: str) -> list[ArmSnapshot]:
        """Cumulative counts now: last closed round's snapshot plus the open round's bucket."""
        row = self._experiment_row(experiment_id)
        with self.engine.connect() as conn:
            return arm_snapshots(conn, experiment_id, row.current_round)

    # -- ingestion ------------------------------------------------------------------------------
    def ingest(self, experiment_id: str, events: Iterable[Event | Mapping[str, Any]], *, source: str = "python") -> IngestReport:
        """Ingest wire-format dicts or Events; idempotent by event id; rejections counted by reason."""
        return _Ingestion(self, experiment_id, source).run(parse_python(events))

    def ingest_file(self, experiment_id: str, path: str | Path) -> IngestReport:
        """Ingest a JSONL/CSV file; malformed lines are rejected with their line number, the rest stored."""
        ingestion = _Ingestion(self, experiment_id, str(path))
        jsonl, source, handle = open_event_source(path)
        try:
            return ingestion.run_jsonl(source) if jsonl else ingestion.run(source)
        finally:
            if handle is not None:
                handle.close()

    def ingest_log(self, experiment_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.ingests).where(t.ingests.c.experiment_id == experiment_id).order_by(t.ingests.c.started_at))
            return [dict(r._mapping) for r in rows]

    # -- reading --------------------------------------------------------------------------------
    def status(self, experiment_id: str) -> ExperimentStatus:
        row = self._experiment_row(experiment_id)
        with self.engine.connect() as conn:
            snaps = arm_snapshots(conn, experiment_id, row.current_round)
            closed = conn.execute(select(func.count()).select_from(t.rounds).where(t.rounds.c.experiment_id == experiment_id)).scalar_one()
            last = conn.execute(select(t.rounds.c.decision).where(t.rounds.c.experiment_id == experiment_id).order_by(t.rounds.c.round_no.desc()).limit(1)).scalar()
        return ExperimentStatus(
            experiment_id=experiment_id, name=row.name, policy=row.policy, status=row.status, current_round=row.current_round,
            winner=row.winner, allocation=row.allocation, arms=tuple(snaps), rounds_closed=closed,
            open_round_impressions=sum(s.round_impressions for s in snaps), open_round_clicks=sum(s.round_clicks for s in snaps),
            last_decision=last, config=row.config)

    def user_exposures(self, experiment_id: str) -> "UserExposures":
        """Per (user, creative) impressions and clicks, as arrays, for preference tags."""
        self._experiment_row(experiment_id)
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.user_stats.c.user_id, t.user_stats.c.creative_id, t.user_stats.c.impressions, t.user_stats.c.clicks)
                                .where(t.user_stats.c.experiment_id == experiment_id)).all()
        return UserExposures.from_rows(rows)


@dataclass(frozen=True)
class UserExposures:
    """Counts per (user, creative): users[u_index], creatives[c_index]."""

    users: tuple[str, ...]
    creatives: tuple[str, ...]
    user_index: np.ndarray
    creative_index: np.ndarray
    impressions: np.ndarray
    clicks: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[str, str, int, int]]) -> "UserExposures":
        users: dict[str, int] = {}
        creatives: dict[str, int] = {}
        ui = np.fromiter((users.setdefault(r[0], len(users)) for r in rows), dtype=np.int64, count=len(rows))
        ci = np.fromiter((creatives.setdefault(r[1], len(creatives)) for r in rows), dtype=np.int64, count=len(rows))
        imp = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
        clk = np.fromiter((r[3] for r in rows), dtype=np.int64, count=len(rows))
        return cls(tuple(users), tuple(creatives), ui, ci, imp, clk)


def arm_snapshots(conn, experiment_id: str, current_round: int) -> list[ArmSnapshot]:
    """Previous round's cumulative snapshot + open bucket: O(arms), never a scan of events."""
    arm_rows = conn.execute(select(t.arms.c.creative_id, t.arms.c.state).where(t.arms.c.experiment_id == experiment_id)
                            .order_by(t.arms.c.added_round, t.arms.c.creative_id)).all()
    prev = {r[0]: (r[1], r[2]) for r in conn.execute(
        select(t.round_arms.c.creative_id, t.round_arms.c.impressions, t.round_arms.c.clicks)
        .where(t.round_arms.c.experiment_id == experiment_id, t.round_arms.c.round_no == current_round - 1))}
    bucket = {r[0]: (r[1], r[2]) for r in conn.execute(
        select(t.arm_stats.c.creative_id, t.arm_stats.c.impressions, t.arm_stats.c.clicks)
        .where(t.arm_stats.c.experiment_id == experiment_id, t.arm_stats.c.round_no == current_round))}
    out = []
    for cid, state in arm_rows:
        pi, pc = prev.get(cid, (0, 0))
        bi, bc = bucket.get(cid, (0, 0))
        out.append(ArmSnapshot(cid, state, int(pi + bi), int(pc + bc), int(bi), int(bc)))
    return out
