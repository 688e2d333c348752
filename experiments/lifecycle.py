"""An experiment's life: created once, paused and resumed, stopped, archived.

    running --pause--> paused --resume--> running
    running | paused --stop--> stopped          (promoted and stopped also come from a round's decision)
    promoted | stopped --archive--> archived    (read-only; hidden from default listings)

Each step takes the experiment's round lock, so no round closes half-way through it. Serving goes on
while paused (the current allocation, frozen) and after the end (the winner, or the last leader).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import Engine, select, update

from experiments import messages
from experiments import tables as t
from experiments.errors import ExperimentArchived, ExperimentConcluded, ExperimentNotFound, LifecycleRefused
from experiments.model import ExperimentState
from experiments.rounds import round_lock
from experiments.store import utcnow

S = ExperimentState
STEPS: dict[str, tuple[frozenset[ExperimentState], ExperimentState]] = {
    "pause": (frozenset({S.RUNNING}), S.PAUSED),
    "resume": (frozenset({S.PAUSED}), S.RUNNING),
    "stop": (frozenset({S.RUNNING, S.PAUSED}), S.STOPPED),
    "archive": (frozenset({S.PROMOTED, S.STOPPED}), S.ARCHIVED),
}
AFTER = {
    S.PAUSED: "paused: serving keeps the current allocation and no round closes until it resumes",
    S.RUNNING: "resumed: rounds close again as data arrives",
    S.STOPPED: "stopped: no more rounds; serving shows its leader",
    S.ARCHIVED: "archived: read-only and hidden from listings (`creative experiment status --all --archived` shows it)",
}


@dataclass(frozen=True)
class StateChange:
    experiment_id: str
    before: ExperimentState
    after: ExperimentState

    def summary(self) -> str:
        return f"{self.experiment_id} {AFTER[self.after]}"

    def to_dict(self) -> dict[str, str]:
        return {"experiment_id": self.experiment_id, "previous": str(self.before), "status": str(self.after), "message": self.summary()}


def next_state(experiment_id: str, status: str, step: str) -> ExperimentState:
    """Pure: the state `step` leads to from `status`, or the typed refusal with what to do instead."""
    allowed, target = STEPS[step]
    state = ExperimentState(status)
    if state in allowed:
        return target
    if state == S.ARCHIVED:
        raise ExperimentArchived(messages.ARCHIVED.format(experiment_id=experiment_id))
    if state == target:
        raise LifecycleRefused(messages.ALREADY.format(experiment_id=experiment_id, status=state))
    if step == "archive":
        raise LifecycleRefused(messages.ARCHIVE_RUNNING.format(experiment_id=experiment_id, status=state))
    raise ExperimentConcluded(messages.ENDED.format(experiment_id=experiment_id, status=state))  # pause, resume or stop after the end


def change_state(engine: Engine, experiment_id: str, step: str, *, wait: float = 30.0) -> StateChange:
    """Apply a lifecycle step under the round lock. The change restarts the round clock (experiments.readiness)."""
    with round_lock(engine, experiment_id, wait=wait):  # ExperimentNotFound for an unknown id
        with engine.begin() as conn:
            status = conn.execute(select(t.experiments.c.status).where(t.experiments.c.experiment_id == experiment_id)).scalar_one()
            target = next_state(experiment_id, status, step)
            conn.execute(update(t.experiments).where(t.experiments.c.experiment_id == experiment_id)
                         .values(status=target, updated_at=utcnow()))
    return StateChange(experiment_id, ExperimentState(status), target)


def pause_experiment(engine: Engine, experiment_id: str, *, wait: float = 30.0) -> StateChange:
    return change_state(engine, experiment_id, "pause", wait=wait)


def resume_experiment(engine: Engine, experiment_id: str, *, wait: float = 30.0) -> StateChange:
    return change_state(engine, experiment_id, "resume", wait=wait)


def stop_experiment(engine: Engine, experiment_id: str, *, wait: float = 30.0) -> StateChange:
    """End the experiment now; no winner is declared."""
    return change_state(engine, experiment_id, "stop", wait=wait)


def archive_experiment(engine: Engine, experiment_id: str, *, wait: float = 30.0) -> StateChange:
    return change_state(engine, experiment_id, "archive", wait=wait)


def listed_experiment_ids(engine: Engine, *, archived: bool = False) -> list[str]:
    """Experiments oldest first; archived ones only when asked for."""
    query = select(t.experiments.c.experiment_id).order_by(t.experiments.c.created_at)
    if not archived:
        query = query.where(t.experiments.c.status != S.ARCHIVED)
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def twin_id(name: str, creative_ids: Sequence[str], generation: int = 0) -> str:
    """The id an experiment named `name` over these creatives gets: creating it twice finds the first."""
    key = "\x00".join([name.strip(), *sorted(creative_ids)] + ([str(generation)] if generation else []))
    return f"exp-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:12]}"


def creation_id(engine: Engine, name: str, creative_ids: Sequence[str]) -> tuple[str, bool]:
    """(id, exists): the first not archived of the ids `name` over these creatives can have. Creating twice finds the
    first experiment; once it is archived, the next creation starts a new one, which later creations find in turn."""
    generation = 0
    while True:
        experiment_id = twin_id(name, creative_ids, generation)
        try:
            if state_of(engine, experiment_id) != S.ARCHIVED:
                return experiment_id, True
        except ExperimentNotFound:
            return experiment_id, False
        generation += 1


def state_of(engine: Engine, experiment_id: str) -> ExperimentState:
    with engine.connect() as conn:
        status = conn.execute(select(t.experiments.c.status).where(t.experiments.c.experiment_id == experiment_id)).scalar()
    if status is None:
        raise ExperimentNotFound(messages.NOT_FOUND.format(experiment_id=experiment_id))
    return ExperimentState(status)
