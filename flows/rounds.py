"""experiment_round: ingest new events, close the round (statistics, decision, allocation), tags, report."""


from pathlib import Path

from prefect import flow, task
from pydantic import Field

from experiments.inbox import mark_ingested, pending_files
from experiments.report import write_report
from experiments.rounds import run_round
from experiments.store import ExperimentStore
from experiments.tags import export_tags
from flows.common import FlowParams, publish


class RoundParams(FlowParams):
    experiment_id: str = Field(min_length=1)
    report_dir: str | None = None  # default HOME/reports/<experiment>
    wait_seconds: float = Field(default=60.0, ge=0)  # how long to wait for an overlapping round
    write_report: bool = True


@task(retries=2, retry_delay_seconds=1)
def ingest_pending(params: RoundParams) -> dict:
    """Every file waiting in the experiment's inbox; each ingested file is moved out of it."""
    home, store = params.open()
    experiments = ExperimentStore(store.engine)
    accepted, rejected = 0, {}
    for path in pending_files(home.root, params.experiment_id):
        report = experiments.ingest_file(params.experiment_id, path)
        accepted += report.accepted
        for reason, count in report.rejected.items():
            rejected[reason] = rejected.get(reason, 0) + count
        mark_ingested(home.root, params.experiment_id, path)
    return {"accepted": accepted, "rejected": rejected}


@task
def close_round(params: RoundParams):
    _, store = params.open()
    return run_round(store.engine, params.experiment_id, wait=params.wait_seconds)


@task
def publish_tags_and_report(params: RoundParams) -> dict:
    home, store = params.open()
    out = Path(params.report_dir or home.root / "reports" / params.experiment_id)
    out.mkdir(parents=True, exist_ok=True)
    _, tags = export_tags(store.engine, params.experiment_id, out / "tags.csv")
    export_tags(store.engine, params.experiment_id, out / "tags.json")
    report = write_report(store.engine, params.experiment_id, out) if params.write_report else None
    return {"report": str(report) if report else None, "tags": len(tags.tags), "tags_csv": str(out / "tags.csv")}


@flow(name="experiment_round")
def experiment_round(params: RoundParams) -> dict:
    """One scheduled look at an experiment; safe to overlap and to repeat."""
    ingested = ingest_pending(params)
    result = close_round(params)
    published = publish_tags_and_report(params)
    d = result.decision
    rows = [{"creative": a.creative_id, "impressions": a.impressions, "clicks": a.clicks, "ctr": round(a.ctr, 5),
             "p_best": round(a.p_best, 3), "share_next": round(result.allocation_next.get(a.creative_id, 0.0), 3)}
            for a in result.arms]
    summary = (f"# {params.experiment_id}, round {result.round_no}: **{d.kind}**\n\n{d.reason}\n\n"
               f"Ingested {ingested['accepted']} events, rejected {sum(ingested['rejected'].values())} "
               f"({', '.join(f'{k}: {v}' for k, v in ingested['rejected'].items()) or 'none'}). "
               f"Winner: {d.winner or '—'}. {published['tags']} user tags.")
    links = {"report": Path(published["report"])} if published["report"] else {}
    publish(f"round-{params.experiment_id}", summary, rows, links)
    return {"round": result.round_no, "decision": d.kind, "winner": d.winner, "best": d.best,
            "confidence": d.confidence, "ingested": ingested, **published}
