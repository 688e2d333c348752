"""Closing a round: read the open bucket, decide, set next allocation, store it all with its evidence.

Rounds are exclusive and idempotent:
- exclusive: a round first takes `exp_experiments.round_lock` by compare-and-set (an UPDATE that only
  matches a free or stale lock; works the same on SQLite and PostgreSQL). A second caller waits up to
  `wait` seconds, then fails with RoundInProgress. A crashed holder's lock goes stale after `stale_after`.
- no double counting: events land in the bucket of the round open at ingestion; closing round r reads
  bucket r plus snapshot r-1 and moves the open round to r+1 by compare-and-set on current_round, in the
  same transaction. Running again closes r+1 with only the events ingested since.
- retry-safe: `expected_round=r` returns the stored result if round r is already closed.
"""

from __future__ import annotations

import math
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Iterator

from sqlalchemy import Engine, and_, func, insert, or_, select, update

from experiments import messages
from experiments import tables as t
from experiments.errors import (
    ExperimentArchived,
    ExperimentConcluded,
    ExperimentError,
    ExperimentNotFound,
    ExperimentPaused,
    RoundInProgress,
    RoundNotFound,
)
from experiments.model import (
    ArmRoundStats,
    ArmState,
    Decision,
    DecisionKind,
    ExperimentConfig,
    ExperimentState,
    RoundResult,
    SRMSummary,
    placement_of,
)
from experiments.placements import evaluate_placements, srm_strata
from experiments.policies import make_policy
from experiments.readiness import RoundNotReady, open_round_impressions, round_readiness
from experiments.store import arm_snapshots, utcnow

POLL_SECONDS = 0.05


def _acquire(engine: Engine, experiment_id: str, token: str, wait: float, stale_after: float) -> None:
    deadline = time.monotonic() + max(0.0, wait)
    while True:
        now = utcnow()
        with engine.begin() as conn:
            taken = conn.execute(
                update(t.experiments)
                .where(t.experiments.c.experiment_id == experiment_id,
                       or_(t.experiments.c.round_lock.is_(None), t.experiments.c.locked_at < now - timedelta(seconds=stale_after)))
                .values(round_lock=token, locked_at=now)
            ).rowcount
            if taken == 1:
                return
            row = conn.execute(select(t.experiments.c.locked_at).where(t.experiments.c.experiment_id == experiment_id)).first()
        if row is None:
            raise ExperimentNotFound(messages.NOT_FOUND.format(experiment_id=experiment_id))
        if time.monotonic() >= deadline:
            since = row[0].isoformat(timespec="seconds") if isinstance(row[0], datetime) else "just now"
            raise RoundInProgress(messages.ROUND_BUSY.format(experiment_id=experiment_id, since=since))
        time.sleep(POLL_SECONDS)


def _release(engine: Engine, experiment_id: str, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(t.experiments).where(t.experiments.c.experiment_id == experiment_id, t.experiments.c.round_lock == token)
                     .values(round_lock=None, locked_at=None))


def run_round(engine: Engine, experiment_id: str, *, wait: float = 0.0, expected_round: int | None = None,
              stale_after: float = 600.0, when_ready: bool = False) -> RoundResult:
    """Close the open round of `experiment_id` and return what it decided.

    `when_ready`: close only if the round has enough data (experiments.readiness), else raise
    RoundNotReady and change nothing."""
    with engine.connect() as conn:
        row = conn.execute(select(t.experiments.c.current_round, t.experiments.c.status).where(t.experiments.c.experiment_id == experiment_id)).first()
    if row is None:
        raise ExperimentNotFound(messages.NOT_FOUND.format(experiment_id=experiment_id))
    if expected_round is not None:
        if expected_round < row.current_round:
            return load_round(engine, experiment_id, expected_round, replayed=True)
        if expected_round > row.current_round:
            raise RoundNotFound(messages.FUTURE_ROUND.format(round_no=expected_round, experiment_id=experiment_id, current=row.current_round))
    if row.status != ExperimentState.RUNNING:
        raise _not_running(engine, experiment_id, row.status)
    token = uuid.uuid4().hex
    _acquire(engine, experiment_id, token, wait, stale_after)
    try:
        with engine.begin() as conn:
            # first statement writes: holds ingestion of this experiment off until the round commits
            mine = conn.execute(update(t.experiments).where(t.experiments.c.experiment_id == experiment_id, t.experiments.c.round_lock == token)
                                .values(version=t.experiments.c.version + 1)).rowcount
            if mine != 1:
                raise RoundInProgress(messages.ROUND_BUSY.format(experiment_id=experiment_id, since="(lock went stale and was taken over)"))
            exp = conn.execute(select(t.experiments).where(t.experiments.c.experiment_id == experiment_id)).one()
            if expected_round is not None and expected_round < exp.current_round:  # closed while we waited
                replay = True
            else:
                replay = False
            if not replay:
                if exp.status != ExperimentState.RUNNING:
                    raise _not_running(engine, experiment_id, exp.status)
                if when_ready:
                    readiness = round_readiness(experiment_id, exp.current_round, open_round_impressions(conn, experiment_id, exp.current_round),
                                                exp.updated_at, utcnow(), ExperimentConfig.from_dict(exp.config))
                    if not readiness.ready:
                        raise RoundNotReady(readiness)
                result = _close(conn, exp)
        if replay:
            return load_round(engine, experiment_id, expected_round, replayed=True)
        return result
    finally:
        _release(engine, experiment_id, token)


def _not_running(engine: Engine, experiment_id: str, status: str) -> ExperimentError:
    if status == ExperimentState.PAUSED:
        return ExperimentPaused(messages.PAUSED.format(experiment_id=experiment_id))
    if status == ExperimentState.ARCHIVED:
        return ExperimentArchived(messages.ARCHIVED.format(experiment_id=experiment_id))
    return _concluded(engine, experiment_id)


def _concluded(engine: Engine, experiment_id: str) -> ExperimentConcluded:
    with engine.connect() as conn:
        last = conn.execute(select(t.rounds.c.round_no, t.rounds.c.decision).where(t.rounds.c.experiment_id == experiment_id)
                            .order_by(t.rounds.c.round_no.desc()).limit(1)).first()
    return ExperimentConcluded(messages.CONCLUDED.format(experiment_id=experiment_id, decision=last[1] if last else "?", round_no=last[0] if last else "?"))


def _close(conn, exp) -> RoundResult:
    experiment_id, round_no = exp.experiment_id, exp.current_round
    config = ExperimentConfig.from_dict(exp.config)
    policy = make_policy(exp.policy, **exp.policy_params)
    snaps = arm_snapshots(conn, experiment_id, round_no)
    placement = {cid: placement_of(size) for cid, size in conn.execute(select(t.arms.c.creative_id, t.arms.c.size)
                                                                        .where(t.arms.c.experiment_id == experiment_id))}
    strata = srm_strata(snaps, placement, exp.allocation, *_late(conn, experiment_id, round_no))
    evaluated = evaluate_placements(snaps, placement, _looks(conn, experiment_id, snaps), config, policy, exp.allocation, strata)
    outcome = evaluated.outcome
    decision = outcome.decision
    now = utcnow()
    arms_out = []
    for before, after, post, pb, loss in zip(snaps, outcome.arms, outcome.bayes.posteriors, outcome.bayes.p_best, outcome.bayes.expected_loss):
        arms_out.append(ArmRoundStats(
            creative_id=after.creative_id, state=after.state, impressions=after.impressions, clicks=after.clicks,
            round_impressions=after.round_impressions, round_clicks=after.round_clicks, ctr=after.ctr,
            mean=post.mean, ci_low=post.ci_low, ci_high=post.ci_high, p_best=pb, expected_loss=loss,
            share_used=float(exp.allocation.get(after.creative_id, 0.0)), share_next=float(outcome.allocation_next.get(after.creative_id, 0.0))))
    impressions = sum(a.round_impressions for a in arms_out)
    clicks = sum(a.round_clicks for a in arms_out)
    srm = SRMSummary(outcome.srm.chi2, outcome.srm.p_value, outcome.srm.alarm)
    conn.execute(insert(t.rounds).values(
        experiment_id=experiment_id, round_no=round_no, decision=decision.kind, winner=decision.winner,
        evidence=_decision_json(decision), allocation_used=dict(exp.allocation), allocation_next=outcome.allocation_next,
        srm_p=srm.p_value, srm_alarm=srm.alarm, impressions=impressions, clicks=clicks, closed_at=now))
    conn.execute(insert(t.round_arms), [
        {"experiment_id": experiment_id, "round_no": round_no, "creative_id": a.creative_id, "state": a.state,
         "round_impressions": a.round_impressions, "round_clicks": a.round_clicks, "impressions": a.impressions, "clicks": a.clicks,
         "mean": a.mean, "ci_low": a.ci_low, "ci_high": a.ci_high, "p_best": a.p_best, "expected_loss": a.expected_loss,
         "share_used": a.share_used, "share_next": a.share_next} for a in arms_out])
    for before, after in zip(snaps, outcome.arms):
        if before.state != after.state:
            conn.execute(update(t.arms).where(t.arms.c.experiment_id == experiment_id, t.arms.c.creative_id == after.creative_id)
                         .values(state=after.state, retired_round=round_no if after.state == ArmState.RETIRED else None))
    status = {DecisionKind.PROMOTE: ExperimentState.PROMOTED, DecisionKind.STOP: ExperimentState.STOPPED}.get(decision.kind, ExperimentState.RUNNING)
    moved = conn.execute(update(t.experiments).where(and_(t.experiments.c.experiment_id == experiment_id, t.experiments.c.current_round == round_no))
                         .values(current_round=round_no + 1, allocation=outcome.allocation_next, status=status,
                                 winner=decision.winner, updated_at=now)).rowcount
    if moved != 1:  # cannot happen while we hold the lock; refuse rather than double count
        raise RoundInProgress(messages.ROUND_BUSY.format(experiment_id=experiment_id, since="(round moved concurrently)"))
    return RoundResult(experiment_id, round_no, decision, tuple(arms_out), dict(outcome.allocation_next), srm, impressions, clicks,
                       placements=evaluated.decisions)


def _late(conn, experiment_id: str, round_no: int) -> tuple[dict[int, dict[str, int]], dict[int, dict[str, float]]]:
    """Impressions of round `round_no`'s bucket served in earlier rounds, and the allocations then in force."""
    late: dict[int, dict[str, int]] = {}
    for served, cid, n in conn.execute(select(t.late_stats.c.served_round, t.late_stats.c.creative_id, t.late_stats.c.impressions)
                                       .where(t.late_stats.c.experiment_id == experiment_id, t.late_stats.c.round_no == round_no)):
        late.setdefault(served, {})[cid] = int(n)
    if not late:
        return {}, {}
    then = dict(conn.execute(select(t.rounds.c.round_no, t.rounds.c.allocation_used)
                             .where(t.rounds.c.experiment_id == experiment_id, t.rounds.c.round_no.in_(sorted(late)))).all())
    return late, then


def _looks(conn, experiment_id: str, snaps) -> int:
    """Rounds that had impressions, this one included: what max_rounds counts, so empty rounds never use the budget."""
    earlier = conn.execute(select(func.count()).select_from(t.rounds)
                           .where(t.rounds.c.experiment_id == experiment_id, t.rounds.c.impressions > 0)).scalar_one()
    return earlier + (1 if any(s.round_impressions for s in snaps) else 0)


def _finite(value: Any) -> Any:
    """JSON columns on PostgreSQL refuse NaN/Infinity; store them as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _decision_json(decision: Decision) -> dict[str, Any]:
    return _finite(decision.to_dict())


def load_round(engine: Engine, experiment_id: str, round_no: int, *, replayed: bool = False) -> RoundResult:
    """A closed round as it was stored."""
    with engine.connect() as conn:
        r = conn.execute(select(t.rounds).where(t.rounds.c.experiment_id == experiment_id, t.rounds.c.round_no == round_no)).first()
        if r is None:
            cur = conn.execute(select(t.experiments.c.current_round).where(t.experiments.c.experiment_id == experiment_id)).scalar()
            if cur is None:
                raise ExperimentNotFound(messages.NOT_FOUND.format(experiment_id=experiment_id))
            raise RoundNotFound(messages.ROUND_NOT_FOUND.format(experiment_id=experiment_id, round_no=round_no, current=cur))
        arm_rows = conn.execute(select(t.round_arms).where(t.round_arms.c.experiment_id == experiment_id, t.round_arms.c.round_no == round_no)).all()
    decision = Decision.from_dict(r.evidence)
    placements = {p: Decision.from_dict(d) for p, d in (decision.evidence.get("placements") or {}).items()}
    order = {k: i for i, k in enumerate(r.allocation_next)}
    arms = tuple(sorted((ArmRoundStats(
        creative_id=a.creative_id, state=a.state, impressions=a.impressions, clicks=a.clicks, round_impressions=a.round_impressions,
        round_clicks=a.round_clicks, ctr=(a.clicks / a.impressions if a.impressions else 0.0), mean=a.mean, ci_low=a.ci_low, ci_high=a.ci_high,
        p_best=a.p_best, expected_loss=a.expected_loss, share_used=a.share_used, share_next=a.share_next) for a in arm_rows),
        key=lambda a: order.get(a.creative_id, len(order))))
    srm = SRMSummary(float("nan"), r.srm_p if r.srm_p is not None else 1.0, bool(r.srm_alarm))
    return RoundResult(experiment_id, round_no, decision, arms, dict(r.allocation_next), srm, r.impressions, r.clicks, replayed=replayed,
                       placements=placements)


def round_history(engine: Engine, experiment_id: str) -> list[RoundResult]:
    with engine.connect() as conn:
        numbers = list(conn.execute(select(t.rounds.c.round_no).where(t.rounds.c.experiment_id == experiment_id).order_by(t.rounds.c.round_no)).scalars())
    return [load_round(engine, experiment_id, n) for n in numbers]


@contextmanager
def round_lock(engine: Engine, experiment_id: str, *, wait: float = 30.0, stale_after: float = 600.0) -> Iterator[None]:
    """Hold the experiment's round lock: no round closes meanwhile (lifecycle steps take it too)."""
    token = uuid.uuid4().hex
    _acquire(engine, experiment_id, token, wait, stale_after)
    try:
        yield
    finally:
        _release(engine, experiment_id, token)
