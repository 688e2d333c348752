"""experiment_round: one scheduled look at an experiment, through the one `close_round` use case."""


from pathlib import Path

from prefect import flow, task
from pydantic import Field

from creative.services import RoundClosed, close_round
from experiments.tag_store import latest_tags
from experiments.tags import export_tags
from flows.common import FlowParams, publish


class RoundParams(FlowParams):
    experiment_id: str = Field(min_length=1)
    report_dir: str | None = None  # default HOME/reports/<experiment>
    wait_seconds: float = Field(default=60.0, ge=0)  # how long to wait for an overlapping round
    write_report: bool = True


@task  # no retries: a retry after the round closed would close the next one
def close_round_task(params: RoundParams) -> RoundClosed:
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


@flow(name="experiment_round", flow_run_name="round-{params.experiment_id}")
def experiment_round(params: RoundParams) -> dict:
    """Ingest waiting events, close the round, store tags, write the report; safe to overlap and to repeat."""
    closed = close_round_task(params)
    exported = export_stored_tags(params)
    result, d = closed.result, closed.result.decision
    rows = [{"creative": a.creative_id, "impressions": a.impressions, "clicks": a.clicks, "ctr": round(a.ctr, 5),
             "p_best": round(a.p_best, 3), "share_next": round(result.allocation_next.get(a.creative_id, 0.0), 3)}
            for a in result.arms]
    links = {"report": closed.report} if closed.report else {}
    publish(f"round-{params.experiment_id}", f"# {closed.summary()}", rows, links)
    return {"round": result.round_no, "decision": d.kind, "winner": d.winner, "best": d.best, "confidence": d.confidence,
            "ingested": {"files": closed.ingested.files, "accepted": closed.ingested.accepted, "rejected": dict(closed.ingested.rejected)},
            "report": str(closed.report) if closed.report else None, **exported}
