"""experiment_round: one scheduled look at an experiment, through the one `close_round` use case.

A look closes a round only when it has enough data (else it reports "waiting"), skips a paused
experiment, and once the experiment has ended (by this round or otherwise) it pauses the deployment
that scheduled it and exits cleanly, so a concluded experiment is not looked at every interval.
A look that finds a round of the same experiment already running skips (by default it does not wait):
catch-up runs after an outage make one round, not several queued behind each other.
Runs are named after the round they look at and log what they took in, what they decided and where
the report is (its web URL when CREATIVE_WEB_URL names the web app).
"""

from pathlib import Path

from prefect import flow, get_client, task
from prefect.runtime import deployment, flow_run
from pydantic import Field

from creative.services import RoundClosed, RoundWaiting, close_round
from creative.services.reports import report_link, round_report_dir
from experiments.errors import RoundInProgress
from experiments.lifecycle import state_of
from experiments.model import ExperimentState
from experiments.tag_store import latest_tags
from experiments.tags import export_tags
from flows.common import FlowParams, publish, rename_run, run_logger, run_name


class RoundParams(FlowParams):
    experiment_id: str = Field(min_length=1)
    report_dir: str | None = None  # default: the round's own folder in the home, which the web app serves
    wait_seconds: float = Field(default=0.0, ge=0)  # wait for a round of this experiment already running; 0 skips this look
    write_report: bool = True
    web_url: str | None = None  # the web app's base URL for report links; default CREATIVE_WEB_URL


def _title(params: RoundParams) -> str:
    status = params.workspace().experiments.status(params.experiment_id)
    return f"round {status.current_round} · {params.experiment_id} · {status.name}"


@task
def experiment_state(params: RoundParams) -> ExperimentState:
    return state_of(params.workspace().engine, params.experiment_id)


@task  # no retries: a retry after the round closed would close the next one
def close_round_task(params: RoundParams) -> RoundClosed | RoundWaiting | None:
    """The round closed, or a look that closed nothing; None when another round of the experiment is running."""
    ws, log = params.workspace(), run_logger()
    explicit = Path(params.report_dir) if params.report_dir and params.write_report else None
    try:
        look = close_round(ws, params.experiment_id, wait=params.wait_seconds, report_dir=explicit,
                           keep_report=params.write_report and explicit is None)
    except RoundInProgress as busy:
        log.info("skipped: %s", busy)
        return None
    ingested = look.ingested
    log.info("read %d event file(s) before closing: %d events accepted, %d duplicates, %d rejected", ingested.files,
             ingested.accepted, ingested.duplicates, ingested.rejected_total)
    if look.closed:
        log.info("%s", look.intake())
        d = look.result.decision
        log.info("decided %s%s after %d impressions and %d clicks: %s", d.kind, f" {d.winner}" if d.winner else "",
                 look.result.impressions, look.result.clicks, d.reason)
    else:
        log.info("%s", look.summary())
    return look


@task
def export_stored_tags(params: RoundParams, round_no: int) -> dict:
    """The round's stored tags as CSV and JSON beside the report, for a customer-data platform."""
    ws = params.workspace()
    out = Path(params.report_dir) if params.report_dir else round_report_dir(ws.home, params.experiment_id, round_no)
    stored = latest_tags(ws.engine, params.experiment_id)
    csv_path = export_tags(stored.result, out / "tags.csv", experiment_id=params.experiment_id)
    export_tags(stored.result, out / "tags.json", experiment_id=params.experiment_id)
    run_logger().info("%d preference tags exported to %s", len(stored.result.tags), csv_path)
    return {"tags": len(stored.result.tags), "tags_csv": str(csv_path)}


@task
def pause_own_schedule() -> str | None:
    """Pause the deployment this run was scheduled by (None when run by hand, not from a deployment)."""
    if deployment.id is None:
        return None
    with get_client(sync_client=True) as client:
        client.pause_deployment(deployment.id)
    run_logger().info("schedule %s paused: the experiment has concluded", deployment.name)
    return deployment.name


def _not_closed(params: RoundParams, status: str, message: str, **extra) -> dict:
    publish(f"round-{params.experiment_id}", f"# {message}")
    return {"status": status, "round": None, "decision": None, "message": message, **extra}


def _ingested(look: RoundClosed | RoundWaiting) -> dict:
    return {"files": look.ingested.files, "accepted": look.ingested.accepted, "rejected": dict(look.ingested.rejected)}


@flow(name="experiment_round", flow_run_name=run_name(RoundParams, _title, "round"))
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
    if look is None:
        return _not_closed(params, "skipped", f"a round of {params.experiment_id} is already running; this look skipped")
    if not look.closed:
        return _not_closed(params, "waiting", look.summary(), ingested=_ingested(look))
    result, d = look.result, look.result.decision
    rename_run(f"{flow_run.name} · {d.kind}" + (f" {d.winner}" if d.winner else ""))
    exported = export_stored_tags(params, result.round_no)
    rows = [{"creative": a.creative_id, "impressions": a.impressions, "clicks": a.clicks, "ctr": round(a.ctr, 5),
             "p_best": round(a.p_best, 3), "share_next": round(result.allocation_next.get(a.creative_id, 0.0), 3)}
            for a in result.arms]
    paused = pause_own_schedule() if look.concludes else None
    link = report_link(look.report, params.experiment_id, result.round_no, params.web_url, params.workspace().home)
    if link:
        run_logger().info("report: %s", link)
    summary = (look.summary() + (f"\nThe experiment concluded; schedule {paused} paused." if paused else "")
               + (f"\nReport: {link}" if link else ""))
    publish(f"round-{params.experiment_id}", f"# {summary}", rows, {"report": link} if link else {})
    return {"status": "concluded" if look.concludes else "closed", "round": result.round_no, "decision": d.kind, "winner": d.winner,
            "best": d.best, "confidence": d.confidence, "schedule_paused": paused, "ingested": _ingested(look),
            "sources": dict(look.sources), "report": str(look.report) if look.report else None, "report_link": link, **exported}
