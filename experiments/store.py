"""The experiment store: experiments, arms, ingestion into them, and reading their counts.

Every event lands in the bucket of the round open when it was ingested (exp_arm_stats per experiment,
round and creative; exp_user_stats per user and creative), so closing a round reads one bucket and the
previous round's snapshot, never the event history. Ingestion itself lives in experiments.ingest.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Engine, func, insert, select, update

from experiments import messages
from experiments import tables as t
from experiments.errors import ExperimentNotFound, InvalidExperiment
from experiments.events import Event, ParsedLine, open_event_source, parse_python
from experiments.ingest.run import ingest_jsonl, ingest_parsed
from experiments.model import ArmSnapshot, ArmState, CreativeArm, ExperimentConfig, ExperimentState, ExperimentStatus, IngestReport, UserExposures
from experiments.placements import allocation_with_new_arms, initial_allocation
from experiments.policies import FixedSplit, make_policy


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_arms(items: Iterable[CreativeArm | Mapping[str, Any]]) -> list[CreativeArm]:
    """Arms as given, or checked from their dict form ({"id", "attributes", "size", ...})."""
    return [item if isinstance(item, CreativeArm) else CreativeArm.from_dict(item) for item in items]


def _check_arms(name: str, arms: Sequence[CreativeArm]) -> None:
    counts = Counter(a.id for a in arms)
    dups = sorted(k for k, v in counts.items() if v > 1)
    if dups:
        raise InvalidExperiment(messages.DUPLICATE_ARMS.format(ids=", ".join(dups[:10])))
    if len(arms) < 2:
        raise InvalidExperiment(messages.ONE_ARM.format(name=name, n=len(arms)))


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
        """Store a new experiment over `creatives`; returns its id."""
        arms = as_arms(creatives)
        _check_arms(name, arms)
        cfg = config if isinstance(config, ExperimentConfig) else ExperimentConfig.from_dict(config)
        pol = make_policy(policy, **dict(policy_params or {}))
        allocation = initial_allocation(arms, pol.shares if isinstance(pol, FixedSplit) else None)  # shares sum to 1 per placement
        experiment_id = experiment_id or f"exp-{uuid.uuid4().hex[:12]}"
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(insert(t.experiments).values(
                experiment_id=experiment_id, name=name, policy=pol.name, policy_params=pol.params(), config=cfg.to_dict(),
                status=ExperimentState.RUNNING, current_round=1, allocation=allocation, winner=None, version=0, ingest_seq=0,
                round_lock=None, locked_at=None, created_at=now, updated_at=now))
            conn.execute(insert(t.arms), [self._arm_row(experiment_id, a, 1) for a in arms])
        return experiment_id

    @staticmethod
    def _arm_row(experiment_id: str, arm: CreativeArm, round_no: int) -> dict[str, Any]:
        return {"experiment_id": experiment_id, "creative_id": arm.id, "size": arm.size, "template": arm.template,
                "attributes": dict(arm.attributes), "state": ArmState.ACTIVE, "added_round": round_no, "retired_round": None}

    def add_arms(self, experiment_id: str, creatives: Sequence[CreativeArm | Mapping[str, Any]]) -> list[str]:
        """Add creatives to a running experiment; each new arm gets an equal share from now on."""
        from experiments.errors import ExperimentConcluded

        new = as_arms(creatives)
        with self.engine.begin() as conn:
            conn.execute(update(t.experiments).where(t.experiments.c.experiment_id == experiment_id).values(version=t.experiments.c.version + 1))
            row = self._experiment_row(experiment_id, conn)
            if row.status != ExperimentState.RUNNING:
                raise ExperimentConcluded(messages.CONCLUDED.format(experiment_id=experiment_id, decision=row.status, round_no=row.current_round - 1))
            existing = list(conn.execute(select(t.arms.c.creative_id, t.arms.c.state, t.arms.c.size).where(t.arms.c.experiment_id == experiment_id)))
            clash = sorted({a.id for a in new} & {r[0] for r in existing})
            if clash:
                raise InvalidExperiment(messages.DUPLICATE_ARMS.format(ids=", ".join(clash[:10])))
            counts = Counter(a.id for a in new)
            dups = sorted(k for k, v in counts.items() if v > 1)
            if dups:
                raise InvalidExperiment(messages.DUPLICATE_ARMS.format(ids=", ".join(dups[:10])))
            if not new:
                return []
            allocation = allocation_with_new_arms(row.allocation, [CreativeArm(r[0], size=r[2]) for r in existing if r[1] != ArmState.RETIRED], new)
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

    def update_config(self, experiment_id: str, changes: Mapping[str, Any]) -> ExperimentConfig:
        """Store changed settings, checked by ExperimentConfig like new ones; returns the settings now in force."""
        with self.engine.begin() as conn:
            config = ExperimentConfig.from_dict({**self._experiment_row(experiment_id, conn).config, **changes})
            conn.execute(update(t.experiments).where(t.experiments.c.experiment_id == experiment_id)
                         .values(config=config.to_dict(), updated_at=utcnow()))
        return config

    def arms(self, experiment_id: str) -> list[CreativeArm]:
        self._experiment_row(experiment_id)
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.arms).where(t.arms.c.experiment_id == experiment_id).order_by(t.arms.c.added_round, t.arms.c.creative_id))
            return [CreativeArm(id=r.creative_id, attributes=r.attributes, size=r.size, template=r.template) for r in rows]

    def experiments_with_arms(self, creative_ids: Iterable[str]) -> dict[str, list[str]]:
        """Experiment id -> the given creatives among its arms, for every experiment that has any of them."""
        wanted = sorted(set(creative_ids))
        found: dict[str, list[str]] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), 500):
                rows = conn.execute(select(t.arms.c.experiment_id, t.arms.c.creative_id).where(t.arms.c.creative_id.in_(wanted[i : i + 500])))
                for r in rows:
                    found.setdefault(r.experiment_id, []).append(r.creative_id)
        return found

    def snapshots(self, experiment_id: str) -> list[ArmSnapshot]:
        """Cumulative counts now: last closed round's snapshot plus the open round's bucket."""
        row = self._experiment_row(experiment_id)
        with self.engine.connect() as conn:
            return arm_snapshots(conn, experiment_id, row.current_round)

    # -- ingestion ------------------------------------------------------------------------------
    def ingest(self, experiment_id: str, events: Iterable[Event | Mapping[str, Any]], *, source: str = "python") -> IngestReport:
        """Ingest wire-format dicts or Events; idempotent by event id; rejections counted by reason."""
        return self.ingest_lines(experiment_id, parse_python(events), source=source)

    def ingest_lines(self, experiment_id: str, lines: Iterable[ParsedLine], *, source: str) -> IngestReport:
        """Ingest parsed lines that keep their own line numbers (a web batch split by experiment), so rejections name them."""
        started, config = utcnow(), self.config(experiment_id)
        return self._logged(ingest_parsed(self.engine, experiment_id, config, lines, source), started)

    def ingest_file(self, experiment_id: str, path: str | Path) -> IngestReport:
        """Ingest a JSONL/CSV file; malformed lines are rejected with their line number, the rest stored."""
        started, config = utcnow(), self.config(experiment_id)
        jsonl, source, handle = open_event_source(path)
        try:
            ingest = ingest_jsonl if jsonl else ingest_parsed
            return self._logged(ingest(self.engine, experiment_id, config, source, str(path)), started)
        finally:
            if handle is not None:
                handle.close()

    def _logged(self, report: IngestReport, started: datetime) -> IngestReport:
        with self.engine.begin() as conn:
            conn.execute(insert(t.ingests).values(
                ingest_id=uuid.uuid4().hex, experiment_id=report.experiment_id, source=report.source[:1000],
                accepted=report.accepted, duplicates=report.duplicates, rejected=report.rejected,
                started_at=started, finished_at=utcnow()))
        return report

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

    def user_exposures(self, experiment_id: str) -> UserExposures:
        """Per (user, creative) impressions and clicks, as arrays, for preference tags."""
        self._experiment_row(experiment_id)
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.user_stats.c.user_id, t.user_stats.c.creative_id, t.user_stats.c.impressions, t.user_stats.c.clicks)
                                .where(t.user_stats.c.experiment_id == experiment_id)).all()
        return UserExposures.from_rows(rows)


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
