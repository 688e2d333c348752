"""The SQL of ingestion, per dialect: event inserts, lookups of stored ids, upserts of the per-round aggregates.

SQLite takes multi-row VALUES inserts on the transaction's own DBAPI connection and learns which
impressions were stored before from the primary key (`claim`); PostgreSQL looks them up and inserts
through the driver's executemany. Ids go to the driver as plain SQL: compiling 50k-value IN lists
through SQLAlchemy costs more than the lookup.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from itertools import chain
from operator import itemgetter
from typing import Iterable, Mapping

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from experiments import tables as t
from experiments.events import CLICK, CREATIVE, EID, HOLDOUT, IMPRESSION, IMPRESSION_ID, KIND, SERVED_ROUND, SIZE, TS, USER, Event

IN_CHUNK = 2_000  # ids per IN (...) list
SQLITE_CACHE_KIB = 131_072
VALUES_ROWS = 100  # rows per SQLite INSERT statement
EVENT_COLUMNS = "experiment_id, event_id, kind, ts_ms, creative_id, user_id, size, impression_id, round_no"
PLAIN_EVENTS = (f"INSERT INTO exp_events ({EVENT_COLUMNS}) VALUES ", "(?, ?, ?, ?, ?, ?, ?, ?, ?)")
# batches with a late or holdout event (few) bind two more columns; the others keep the shorter statement
MARKED_EVENTS = (f"INSERT INTO exp_events ({EVENT_COLUMNS}, served_round, holdout) VALUES ", "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
ARM_STATS_UPSERT = (
    "INSERT INTO exp_arm_stats (experiment_id, round_no, creative_id, impressions, clicks) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (experiment_id, round_no, creative_id) DO UPDATE SET "
    "impressions = exp_arm_stats.impressions + excluded.impressions, clicks = exp_arm_stats.clicks + excluded.clicks")
LATE_STATS_UPSERT = (
    "INSERT INTO exp_late_stats (experiment_id, round_no, served_round, creative_id, impressions) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (experiment_id, round_no, served_round, creative_id) DO UPDATE SET "
    "impressions = exp_late_stats.impressions + excluded.impressions")
USER_STATS_INSERT = "INSERT INTO exp_user_stats (experiment_id, user_id, creative_id, impressions, clicks) VALUES "
USER_STATS_VALUES = "(?, ?, ?, ?, ?)"
USER_STATS_CONFLICT = (
    " ON CONFLICT (experiment_id, user_id, creative_id) DO UPDATE SET "
    "impressions = exp_user_stats.impressions + excluded.impressions, clicks = exp_user_stats.clicks + excluded.clicks")

_row_event_id = itemgetter(1)
_row_user = itemgetter(1)
_event_id = itemgetter(EID)
_creative = itemgetter(CREATIVE)
_user_creative = itemgetter(USER, CREATIVE)
_holdout = itemgetter(HOLDOUT)
_served_round = itemgetter(SERVED_ROUND)
_late_key = itemgetter(SERVED_ROUND, CREATIVE)


def _event_rows(exp: str, round_no: int, impressions: list[Event], clicks: list[Event]) -> tuple[tuple[str, str], list[tuple]]:
    """exp_events rows and the statement (head, one row's VALUES) for them: marked when any event is late or holdout."""
    if any(map(_served_round, impressions)) or any(map(_holdout, impressions)) or any(map(_holdout, clicks)):
        rows = [(exp, ev[EID], IMPRESSION, ev[TS], ev[CREATIVE], ev[USER], ev[SIZE], None, round_no, ev[SERVED_ROUND], ev[HOLDOUT])
                for ev in impressions]
        rows += [(exp, ev[EID], CLICK, ev[TS], ev[CREATIVE], ev[USER], ev[SIZE], ev[IMPRESSION_ID], round_no, None, ev[HOLDOUT]) for ev in clicks]
        return MARKED_EVENTS, rows
    rows = [(exp, ev[EID], IMPRESSION, ev[TS], ev[CREATIVE], ev[USER], ev[SIZE], None, round_no) for ev in impressions]
    rows += [(exp, ev[EID], CLICK, ev[TS], ev[CREATIVE], ev[USER], ev[SIZE], ev[IMPRESSION_ID], round_no) for ev in clicks]
    return PLAIN_EVENTS, rows


def arms_and_saturated(engine: Engine, experiment_id: str) -> tuple[set[str], list[tuple[str, int, int]]]:
    """The experiment's arm ids, and the (user, minute, events) buckets that reached the rate limit before."""
    with engine.connect() as conn:
        arm_ids = set(conn.execute(select(t.arms.c.creative_id).where(t.arms.c.experiment_id == experiment_id)).scalars())
        saturated = conn.execute(select(t.rate_limited.c.user_id, t.rate_limited.c.minute, t.rate_limited.c.events)
                                 .where(t.rate_limited.c.experiment_id == experiment_id)).all()
    return arm_ids, [tuple(r) for r in saturated]


class IngestSql:
    """One experiment's ingestion statements on the engine's dialect; every method runs in the caller's transaction."""

    def __init__(self, engine: Engine, experiment_id: str) -> None:
        self.experiment_id = experiment_id
        self.sqlite = engine.dialect.name == "sqlite"
        self.ph = "?" if engine.dialect.paramstyle == "qmark" else "%s"

    def lock(self, conn: Connection) -> int:
        """Write the experiment's row (the SQLite write lock / the PostgreSQL row lock); returns the open round."""
        exp = t.experiments.c.experiment_id == self.experiment_id
        conn.execute(update(t.experiments).where(exp).values(ingest_seq=t.experiments.c.ingest_seq + 1))
        if self.sqlite:
            # a chunk rewrites pages all over the event and per-user tables: keep them in memory until the commit
            conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        return conn.execute(select(t.experiments.c.current_round).where(exp)).scalar_one()

    def claim(self, conn: Connection, fresh: list[Event], round_no: int) -> set[str]:
        """The ids of `fresh` stored before. On SQLite the impressions among them are stored now, as the
        cheapest way to find out (see _claim_sqlite); `unclaim` takes back those the rules drop."""
        if self.sqlite:
            return self._claim_sqlite(conn, fresh, round_no)
        return self._stored(conn, "event_id", [ev[EID] for ev in fresh]) if fresh else set()

    def unclaim(self, conn: Connection, event_ids: list[str]) -> None:
        if self.sqlite and event_ids:
            exp = self.experiment_id
            conn.exec_driver_sql("DELETE FROM exp_events WHERE experiment_id = ? AND event_id = ?", [(exp, eid) for eid in event_ids])

    def clicked(self, conn: Connection, impression_ids: list[str]) -> set[str]:
        """Which of the impressions have a stored click."""
        return self._stored(conn, "impression_id", impression_ids)

    def _stored(self, conn: Connection, column: str, ids: list[str]) -> set[str]:
        """Which of `ids` are already in exp_events' `column` (event_id or impression_id)."""
        found: set[str] = set()
        for i in range(0, len(ids), IN_CHUNK):
            part = ids[i : i + IN_CHUNK]
            sql = f"SELECT {column} FROM exp_events WHERE experiment_id = ? AND {column} IN ({', '.join('?' * len(part))})"
            found.update(r[0] for r in conn.exec_driver_sql(self._sql(sql), (self.experiment_id, *part)))
        return found

    def impressions(self, conn: Connection, ids: list[str], admitted: list[Event]) -> dict[str, Event]:
        """The impressions of `ids` (clicks' impression ids) the store knows, with `admitted`, this chunk's
        impressions; on SQLite `claim` stored those already. Stored ones come back as Events without size,
        with their holdout mark (a click counts only if its impression does)."""
        found: dict[str, Event] = {} if self.sqlite else dict(zip(map(_event_id, admitted), admitted))
        missing = [i for i in ids if i not in found]
        exp = self.experiment_id
        for i in range(0, len(missing), IN_CHUNK):
            q = select(t.events.c.event_id, t.events.c.ts_ms, t.events.c.creative_id, t.events.c.user_id, t.events.c.holdout).where(
                t.events.c.experiment_id == exp, t.events.c.kind == IMPRESSION, t.events.c.event_id.in_(missing[i : i + IN_CHUNK]))
            found.update((r[0], Event(r[0], IMPRESSION, r[1], exp, r[2], r[3], holdout=r[4] or None)) for r in conn.execute(q))
        return found

    def write(self, conn: Connection, round_no: int, impressions: list[Event], clicks: list[Event], features: Mapping[str, Mapping]) -> None:
        """Store the admitted events (the impressions unless `claim` did) and add them to the round's aggregates:
        holdout traffic is stored, not counted; impressions served in an earlier round are counted here and
        also per round of service (exp_late_stats) for the SRM check."""
        exp = self.experiment_id
        statement, rows = _event_rows(exp, round_no, [] if self.sqlite else impressions, clicks)
        # key order turns random B-tree inserts into mostly sequential ones (about 1.7x faster on SQLite)
        if rows:
            rows.sort(key=_row_event_id)
            self._insert(conn, *statement, "", rows)
        if any(map(_holdout, impressions)):
            impressions = [ev for ev in impressions if not ev[HOLDOUT]]
        if any(map(_holdout, clicks)):
            clicks = [ev for ev in clicks if not ev[HOLDOUT]]
        if any(map(_served_round, impressions)):
            late = Counter(map(_late_key, (ev for ev in impressions if ev[SERVED_ROUND] is not None)))
            conn.exec_driver_sql(self._sql(LATE_STATS_UPSERT), [(exp, round_no, s, c, n) for (s, c), n in sorted(late.items())])
        # impressions per creative and per (user, creative), counted in C (an Event has them where a row does)
        arm_delta = Counter(map(_creative, impressions))
        user_delta = Counter(map(_user_creative, impressions))
        arm_clicks = Counter(map(_creative, clicks))
        user_clicks = Counter(map(_user_creative, clicks))
        arm_keys = arm_delta.keys() | arm_clicks.keys() if arm_clicks else arm_delta.keys()
        if arm_keys:
            conn.exec_driver_sql(self._sql(ARM_STATS_UPSERT), [(exp, round_no, c, arm_delta.get(c, 0), arm_clicks.get(c, 0)) for c in sorted(arm_keys)])
        if user_clicks:
            user_rows = [(exp, u, c, n, 0) for (u, c), n in user_delta.items() if (u, c) not in user_clicks]
            user_rows += [(exp, u, c, user_delta.get((u, c), 0), n) for (u, c), n in user_clicks.items()]
        else:
            user_rows = [(exp, u, c, n, 0) for (u, c), n in user_delta.items()]
        user_rows.sort(key=_row_user)  # the user alone: 4x cheaper than (user, creative), the same pages
        if user_rows:
            self._insert(conn, USER_STATS_INSERT, USER_STATS_VALUES, USER_STATS_CONFLICT, user_rows)
        if features:
            dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            stmt = dialect_insert(t.users)
            stmt = stmt.on_conflict_do_update(index_elements=["experiment_id", "user_id"], set_={"features": stmt.excluded.features})
            conn.execute(stmt, [{"experiment_id": exp, "user_id": u, "features": dict(f)} for u, f in features.items()])

    def mark_saturated(self, conn: Connection, buckets: Iterable[tuple[str, int]], limit: int) -> None:
        """Remember buckets that reached the rate limit, so later calls keep rejecting their excess."""
        rows = [{"experiment_id": self.experiment_id, "user_id": u, "minute": m, "events": limit} for u, m in buckets]
        if rows:
            conn.execute(insert(t.rate_limited), rows)

    def _sql(self, text: str) -> str:
        return text.replace("?", self.ph)

    def _claim_sqlite(self, conn: Connection, fresh: list[Event], round_no: int) -> set[str]:
        """Store the impressions of `fresh` and find which events were stored before, in one pass.

        INSERTs of VALUES_ROWS rows go in as long as the primary key takes them; the first one it refuses
        (an event id already stored: SQLite undoes that statement alone) switches to looking up the ids of
        the rest and inserting only the others, so a re-delivered file costs one lookup per id, as before.
        Ingestion holds the write lock, so nothing changes in between. Clicks are looked up first (they
        are few). Returns the ids found stored."""
        exp = self.experiment_id
        (head, values), rows = _event_rows(exp, round_no, [ev for ev in fresh if ev[KIND] == IMPRESSION], [])
        known = self._stored(conn, "event_id", [ev[EID] for ev in fresh if ev[KIND] != IMPRESSION]) if len(rows) < len(fresh) else set()
        rows.sort(key=_row_event_id)
        step = VALUES_ROWS
        full = len(rows) - len(rows) % step
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            execute, many = cursor.execute, head + ", ".join([values] * step)
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
            stored = self._stored(conn, "event_id", [r[1] for r in rest])
            known |= stored
            self._insert(conn, head, values, "", [r for r in rest if r[1] not in stored] if stored else rest)
        return known

    def _insert(self, conn: Connection, head: str, values: str, tail: str, rows: list[tuple]) -> None:
        """INSERT `rows`; on SQLite VALUES_ROWS rows per statement on the transaction's own DBAPI connection
        (a third cheaper than one statement per row; keys within a statement are distinct, as in every batch here)."""
        if not self.sqlite:
            conn.exec_driver_sql(self._sql(head + values + tail), rows)
            return
        step = VALUES_ROWS
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
