"""The ingestion rules, without a database: which lines count, which are duplicates, which are rejected and why.

One `IngestRules` lives for one ingestion call and sees its chunks in order. Per chunk, `screen` drops
blank, malformed and foreign lines and the call's own repeats; `admit` applies the per-user-per-minute
rate limit to what the store has not seen before; `judge_clicks` attributes clicks to impressions. What
the store knows (stored event ids, stored impressions, impressions clicked before) comes in as arguments.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from operator import itemgetter
from typing import AbstractSet, Iterable, Mapping

from experiments.events import (
    BOT_BURST,
    CLICK,
    CLICK_MISMATCH,
    CLICK_OUTSIDE_WINDOW,
    CLICK_WITHOUT_IMPRESSION,
    CREATIVE,
    DUPLICATE_CLICK,
    EID,
    EXP,
    FEATURES,
    FUTURE_TIMESTAMP,
    HOLDOUT,
    IMPRESSION,
    KIND,
    MALFORMED,
    SERVED_ROUND,
    TS,
    UNKNOWN_CREATIVE,
    UNKNOWN_EXPERIMENT,
    USER,
    Event,
    MalformedEvent,
    format_ts,
)
from experiments.model import ExperimentConfig, IngestReport, RejectedLine

SAMPLE_LIMIT = 20
_holdout = itemgetter(HOLDOUT)
_served_round = itemgetter(SERVED_ROUND)

# (user, epoch minute): the rate limit's bucket
Bucket = tuple[str, int]


@dataclass(frozen=True)
class Fresh:
    """A chunk's events not seen before in this call, with where they were: index `at[k]` of the chunk,
    whose line numbers are a list, or consecutive from `first`."""

    events: list[Event]
    at: list[int]
    first: int | None
    lines: list[int | None] | None

    def line(self, k: int) -> int | None:
        return self.first + self.at[k] if self.first is not None else self.lines[self.at[k]]  # type: ignore[index]


@dataclass
class Admitted:
    """What passed the rate limit in a chunk, and what the store must undo or remember."""

    impressions: list[Event] = field(default_factory=list)
    clicks: list[tuple[int | None, Event]] = field(default_factory=list)  # with the clicks held from earlier chunks
    dropped: list[str] = field(default_factory=list)  # impressions over the limit (to take back if stored early)
    features: dict[str, Mapping] = field(default_factory=dict)  # last features per user
    saturated: set[Bucket] = field(default_factory=set)  # buckets that reached the limit for the first time


class IngestRules:
    """Counters and within-call state of one ingestion; every line ends accepted, a duplicate or rejected."""

    def __init__(self, experiment_id: str, arm_ids: AbstractSet[str], config: ExperimentConfig,
                 saturated: Iterable[tuple[str, int, int]] = ()) -> None:
        """`saturated`: (user, minute, events) of buckets that reached the limit in earlier calls."""
        self.experiment_id = experiment_id
        self.arm_ids = arm_ids
        self.window_hours = config.attribution_window_hours
        self.window_ms = int(config.attribution_window_hours * 3_600_000)
        self.skew_minutes = config.max_clock_skew_minutes
        self.latest_ms = int((time.time() + 60 * config.max_clock_skew_minutes) * 1000)
        self.limit = config.max_events_per_user_minute
        self.lines = self.accepted = self.impressions = self.clicks = self.duplicates = self.holdout = 0
        self.rejected: Counter[str] = Counter()
        self.samples: list[RejectedLine] = []
        self.seen: set[str] = set()
        saturated = [(u, int(m), n) for u, m, n in saturated]
        # the limit holds within a call, and across calls for buckets that once reached it
        self.rate: dict[Bucket, int] = {(u, m): n for u, m, n in saturated}
        self.saturated_before: set[Bucket] = {(u, m) for u, m, _ in saturated}
        self.rejected_impressions: dict[str, str] = {}
        self.clicked: set[str] = set()
        self.pending: list[tuple[int | None, Event]] = []  # clicks waiting for an impression in a later chunk

    def reject(self, line: int | None, reason: str, detail: str) -> None:
        self.rejected[reason] += 1
        if len(self.samples) < SAMPLE_LIMIT:
            self.samples.append(RejectedLine(line, reason, detail))

    def screen(self, events: list, lines: list[int | None] | int) -> Fresh:
        """Reject malformed lines and events of other experiments or creatives; count repeats within the call.

        `events` holds an Event, a MalformedEvent or None (a blank line) per line; `lines` their line
        numbers, or the first one's when they are consecutive."""
        exp, arm_ids, seen, latest = self.experiment_id, self.arm_ids, self.seen, self.latest_ms
        first = lines if type(lines) is int else None
        fresh: list[Event] = []
        at: list[int] = []
        blank = 0
        i = -1
        for ev in events:
            i += 1
            if not (ev.__class__ is Event and ev[EXP] == exp and ev[CREATIVE] in arm_ids and ev[TS] <= latest):
                if ev is None:
                    blank += 1
                    continue
                line = first + i if first is not None else lines[i]  # type: ignore[index]
                if isinstance(ev, MalformedEvent):
                    self.reject(line, MALFORMED, f"line {line}: {ev}")
                    continue
                if ev.experiment != exp:
                    self.reject(line, UNKNOWN_EXPERIMENT, f"line {line}: experiment {ev.experiment!r} is not {exp!r}")
                    continue
                if ev.creative not in arm_ids:
                    self.reject(line, UNKNOWN_CREATIVE, f"line {line}: creative {ev.creative!r} is not an arm of {exp}")
                    continue
                if ev[TS] > latest:
                    self.reject(line, FUTURE_TIMESTAMP, f"line {line}: ts {format_ts(ev[TS])} is more than "
                                f"{self.skew_minutes:g} min in the future; check the sender's clock (setting max_clock_skew_minutes)")
                    continue
            eid = ev[EID]
            if eid in seen:
                self.duplicates += 1
            else:
                seen.add(eid)
                fresh.append(ev)
                at.append(i)
        self.lines += len(events) - blank
        return Fresh(fresh, at, first, None if first is not None else lines)  # type: ignore[arg-type]

    def admit(self, fresh: Fresh, known: AbstractSet[str]) -> Admitted:
        """Count events the store held before (`known` ids) as duplicates and apply the rate limit to the rest.

        The limit-th event of a bucket is the last admitted; the pending clicks join this chunk's."""
        out = Admitted()
        impressions, clicks, dropped, features, full = out.impressions, out.clicks, out.dropped, out.features, out.saturated
        rate, limit = self.rate, self.limit
        rate_get = rate.get
        k = -1
        for ev in fresh.events:
            k += 1
            eid = ev[EID]
            if known and eid in known:
                self.duplicates += 1
                continue
            bucket = (ev[USER], ev[TS] // 60_000)
            n = rate[bucket] = rate_get(bucket, 0) + 1
            if n >= limit:
                if n == limit:
                    full.add(bucket)
                else:
                    line = fresh.line(k)
                    self.reject(line, BOT_BURST, f"line {line}: user {ev.user!r} sent more than {limit} events in one minute")
                    if ev[KIND] == IMPRESSION:
                        self.rejected_impressions[eid] = BOT_BURST
                        dropped.append(eid)
                    continue
            if ev[KIND] == CLICK:
                clicks.append((fresh.line(k), ev))
                continue
            impressions.append(ev)
            if ev[FEATURES]:
                features[ev[USER]] = ev[FEATURES]
        full -= self.saturated_before
        self.saturated_before |= full
        clicks += self.pending
        self.pending = []
        held = sum(map(bool, map(_holdout, impressions))) if any(map(_holdout, impressions)) else 0
        self.accepted += len(impressions)
        self.impressions += len(impressions) - held
        self.holdout += held
        return out

    def judge_clicks(self, clicks: list[tuple[int | None, Event]], impressions: Mapping[str, Event],
                     clicked_before: AbstractSet[str], final: bool) -> list[Event]:
        """The clicks to store: one per impression, same creative and user, within the attribution window.

        `impressions` holds (at least) the clicks' impressions the store knows, `clicked_before` those
        impressions with a stored click. A click whose impression is missing waits for the next chunk,
        unless this is the last one."""
        accepted: list[Event] = []
        for line, ev in clicks:
            imp = impressions.get(ev.impression_id)  # type: ignore[arg-type]
            if imp is None:
                reason = self.rejected_impressions.get(ev.impression_id)  # type: ignore[arg-type]
                if reason is not None:
                    self.reject(line, reason, f"line {line}: the click's impression {ev.impression_id!r} was rejected ({reason})")
                elif final:
                    self.reject(line, CLICK_WITHOUT_IMPRESSION, f"line {line}: no impression {ev.impression_id!r}")
                else:
                    self.pending.append((line, ev))
                continue
            ts, creative, user = imp[TS], imp[CREATIVE], imp[USER]
            if creative != ev.creative or user != ev.user:
                self.reject(line, CLICK_MISMATCH, f"line {line}: click on {ev.creative!r} by {ev.user!r} but impression {ev.impression_id!r} was {creative!r} for {user!r}")
            elif not 0 <= ev.ts_ms - ts <= self.window_ms:
                self.reject(line, CLICK_OUTSIDE_WINDOW, f"line {line}: click {(ev.ts_ms - ts) / 3_600_000:.2f} h after its impression; window is {self.window_hours:g} h")
            elif ev.impression_id in clicked_before or ev.impression_id in self.clicked:
                self.reject(line, DUPLICATE_CLICK, f"line {line}: impression {ev.impression_id!r} already has a click")
            else:
                self.clicked.add(ev.impression_id)  # type: ignore[arg-type]
                # a click is holdout traffic exactly when its impression is
                accepted.append(ev if ev[HOLDOUT] == imp[HOLDOUT] else ev._replace(holdout=imp[HOLDOUT]))
        held = sum(1 for ev in accepted if ev[HOLDOUT])
        self.accepted += len(accepted)
        self.clicks += len(accepted) - held
        self.holdout += held
        return accepted

    def report(self, source: str) -> IngestReport:
        return IngestReport(
            experiment_id=self.experiment_id, source=source, lines=self.lines, accepted=self.accepted,
            impressions=self.impressions, clicks=self.clicks, duplicates=self.duplicates,
            rejected=dict(sorted(self.rejected.items())), samples=tuple(self.samples), holdout=self.holdout)


def settle_served_rounds(events: list[Event], round_no: int) -> None:
    """In place: an event's round of service is kept only when it is earlier than `round_no`, the round
    open at ingestion (a late event); served in the open round, or claiming a later one, it counts there."""
    if not any(map(_served_round, events)):
        return
    for k, ev in enumerate(events):
        served = ev[SERVED_ROUND]
        if served is not None and served >= round_no:
            events[k] = ev._replace(served_round=None)
