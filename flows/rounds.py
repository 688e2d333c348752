"""experiment_round: one scheduled look at an experiment, through the one `close_round` use case.

A look closes a round only when it has enough data (else it reports "waiting"), skips a paused
experiment, and once the experiment has ended (by this round or otherwise) it pauses the deployment
that scheduled it and exits cleanly, so a concluded experiment is not looked at every interval.
"""

from pathlib import Path

from prefect import flow, get_client, task
from prefect.runtime import deployment
from pydantic import Field

from creative.services import RoundClosed, RoundWaiting, close_round
from experiments.lifecycle import state_of
from experiments.model import ExperimentState
from experiments.tag_store import latest_tags
from experiments.tags import export_tags
from flows.common import FlowParams, publish


class RoundParams(FlowParams):
    experiment_id: str = Field(min_length=1)
    report_dir: str | None = None  # default HOME/reports/<experiment>
    wait_seconds: float = Field(default=60.0, ge=0)  # how long to wait for an overlapping round
    write_report: bool = True


@task
def experiment_state(params: RoundParams) -> ExperimentState:
    return state_of(params.workspace().engine, params.experiment_id)


@task  # no retries: a retry after the round closed would close the next one
def close_round_task(params: RoundParams) -> RoundClosed | RoundWaiting:
    ws = params.workspace()
    report_dir = Path(params.report_dir or ws.home.reports_dir / params.experiment_id)
    return close_round(ws, params.experiment_id, wait=params.wait_seconds, report_dir=report_dir if params.write_report else None)


@task
def export_stored_tags(params: RoundParams) -> dict:
    """The round's stored tags as CSV and JSON beside the report, for a customer-data platform."""
    ws = params.workspace()
    out = Path(params.report_dir or ws.home.reports_dir / params.experiment_id)
    stored = latest_tags(ws.engine, params.experiment_id)
    csv_path = export_tags(stored.result, out / "tags.csv", experiment_id=params.experiment_id)
    export_tags(stored.result, out / "tags.json", experiment_id=params.experiment_id)
    return {"tags": len(stored.result.tags), "tags_csv": str(csv_path)}


@task
def pause_own_schedule() -> str | None:
    """Pause the deployment this run was scheduled by (None when run by hand, not from a deployment)."""
    if deployment.id is None:
        return None
    with get_client(sync_client=True) as client:
        client.pause_deployment(deployment.id)
    return deployment.name


def _not_closed(params: RoundParams, status: str, message: str, **extra) -> dict:
    publish(f"round-{params.experiment_id}", f"# {message}")
    return {"status": status, "round": None, "decision": None, "message": message, **extra}


@flow(name="experiment_round", flow_run_name="round-{params.experiment_id}")
def experiment_round(params: RoundParams) -> dict:
    """Ingest waiting events, close the round if it has enough data, store tags, write the report; safe to overlap and to repeat."""
    state = experiment_state(params)
    if state == ExperimentState.PAUSED:
        return _not_closed(params, "paused", f"{params.experiment_id} is paused; no round closes until it resumes")
    if state.concluded:
        paused = pause_own_schedule()
        return _not_closed(params, "concluded", f"{params.experiment_id} has concluded ({state}); nothing to close"
                           + (f"; schedule {paused} paused" if paused else ""), schedule_paused=paused)
    look = close_round_task(params)
    if not look.closed:
        return _not_closed(params, "waiting", look.summary(), ingested={"files": look.ingested.files, "accepted": look.ingested.accepted,
                                                                        "rejected": dict(look.ingested.rejected)})
    exported = export_stored_tags(params)
    result, d = look.result, look.result.decision
    rows = [{"creative": a.creative_id, "impressions": a.impressions, "clicks": a.clicks, "ctr": round(a.ctr, 5),
             "p_best": round(a.p_best, 3), "share_next": round(result.allocation_next.get(a.creative_id, 0.0), 3)}
            for a in result.arms]
    paused = pause_own_schedule() if look.concludes else None
    summary = look.summary() + (f"\nThe experiment concluded; schedule {paused} paused." if paused else "")
    publish(f"round-{params.experiment_id}", f"# {summary}", rows, {"report": look.report} if look.report else {})
    return {"status": "concluded" if look.concludes else "closed", "round": result.round_no, "decision": d.kind, "winner": d.winner,
            "best": d.best, "confidence": d.confidence, "schedule_paused": paused,
            "ingested": {"files": look.ingested.files, "accepted": look.ingested.accepted, "rejected": dict(look.ingested.rejected)},
            "report": str(look.report) if look.report else None, **exported}
