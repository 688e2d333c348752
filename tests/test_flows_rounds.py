"""experiment_round: ingest the inbox, close the round on data, tags and report; overlapping runs count once;
a concluded experiment pauses the schedule that looks at it."""

from __future__ import annotations

import json
import logging
import threading

import numpy as np
from sqlalchemy import update

from creative.db import open_database
from creative.services import Workspace, close_round, pause_experiment, resume_experiment
from experiments import tables as et
from experiments.inbox import drop_file, pending_files
from experiments.simulator import Audience, make_creatives
from experiments.store import ExperimentStore, utcnow
from flows.rounds import RoundParams, experiment_round


def _experiment(home, config=None):
    engine = open_database(home.db_url)
    arms = make_creatives(4, seed=1)
    experiment_id = ExperimentStore(engine).create_experiment("flow test", arms, "thompson", config=config)
    return engine, arms, experiment_id


def _drop_round(home, experiment_id, arms, n, seed, name):
    audience = Audience(200, base_ctr=0.05, seed=seed)
    events = list(audience.events(experiment_id, arms, {a.id: 0.25 for a in arms}, n, rng=np.random.default_rng(seed), id_prefix=f"{name}-"))
    drop_file(home.root, experiment_id, f"{name}.jsonl", [json.dumps(e) for e in events])
    return sum(e["type"] == "impression" for e in events), sum(e["type"] == "click" for e in events)


def test_round_ingests_inbox_and_publishes_report_and_tags(prefect_harness, home, tmp_path):
    engine, arms, experiment_id = _experiment(home)
    impressions, clicks = _drop_round(home, experiment_id, arms, 2000, 3, "batch1")
    params = RoundParams(home=str(home.root), experiment_id=experiment_id, report_dir=str(tmp_path / "report"))
    result = experiment_round(params)
    assert result["round"] == 1 and result["ingested"]["accepted"] == impressions + clicks
    assert pending_files(home.root, experiment_id) == []
    assert (tmp_path / "report" / "index.html").is_file() and (tmp_path / "report" / "tags.csv").is_file()
    status = ExperimentStore(engine).status(experiment_id)
    assert sum(a.impressions for a in status.arms) == impressions and sum(a.clicks for a in status.arms) == clicks


def test_overlapping_rounds_never_count_an_event_twice(home):
    """Two runs at once over the same inbox: one round each, every event counted once."""
    engine, arms, experiment_id = _experiment(home)
    impressions, clicks = _drop_round(home, experiment_id, arms, 3000, 4, "batch1")
    params = RoundParams(home=str(home.root), experiment_id=experiment_id, write_report=False, wait_seconds=60)
    results, errors = [], []

    def run():
        try:
            results.append(experiment_round.fn(params))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    # the first closes round 1 with every event; the second finds no new data and closes nothing
    assert sorted((r["status"], r["round"]) for r in results) == [("closed", 1), ("waiting", None)]
    status = ExperimentStore(engine).status(experiment_id)
    assert sum(a.impressions for a in status.arms) == impressions
    assert sum(a.clicks for a in status.arms) == clicks
    # Re-dropping the same events (a retried upload) changes nothing either.
    _drop_round(home, experiment_id, arms, 3000, 4, "batch1")
    experiment_round.fn(params)
    status = ExperimentStore(engine).status(experiment_id)
    assert sum(a.impressions for a in status.arms) == impressions


def test_a_look_without_enough_data_closes_nothing_and_says_so(home):
    engine, arms, experiment_id = _experiment(home, {"min_round_impressions": 1000})
    _drop_round(home, experiment_id, arms, 300, 5, "thin")
    result = experiment_round.fn(RoundParams(home=str(home.root), experiment_id=experiment_id, write_report=False))
    assert result["status"] == "waiting" and result["ingested"]["files"] == 1
    assert "not closed: waiting for data" in result["message"] and "of 1000 impressions" in result["message"]
    assert ExperimentStore(engine).status(experiment_id).rounds_closed == 0


def test_after_the_last_round_the_flow_exits_cleanly_and_a_paused_one_waits(home):
    engine, arms, experiment_id = _experiment(home, {"max_rounds": 1, "min_round_impressions": 10})
    params = RoundParams(home=str(home.root), experiment_id=experiment_id, write_report=False)
    pause_experiment(Workspace.of(home), experiment_id)
    assert experiment_round.fn(params)["status"] == "paused"
    resume_experiment(Workspace.of(home), experiment_id)
    _drop_round(home, experiment_id, arms, 500, 6, "only")
    last = experiment_round.fn(params)
    assert (last["status"], last["decision"], last["schedule_paused"]) == ("concluded", "stop", None)  # not run by a deployment
    for _ in range(3):  # the looks a schedule would still make: no failure, a summary
        after = experiment_round.fn(params)
        assert after["status"] == "concluded" and "has concluded (stopped)" in after["message"]


def test_the_round_that_ends_the_experiment_pauses_its_deployment(prefect_harness, home, monkeypatch):
    from prefect import get_client

    engine, arms, experiment_id = _experiment(home, {"max_rounds": 1, "min_round_impressions": 10})
    params = RoundParams(home=str(home.root), experiment_id=experiment_id, write_report=False)
    deployment_id = experiment_round.to_deployment(name=f"rounds-{experiment_id}", interval=3600,
                                                   parameters={"params": params.model_dump()}).apply()
    with get_client(sync_client=True) as client:
        assert not client.read_deployment(deployment_id).paused
    # the run as its deployment starts it (prefect.runtime reads these)
    monkeypatch.setenv("PREFECT__RUNTIME__DEPLOYMENT__ID", str(deployment_id))
    monkeypatch.setenv("PREFECT__RUNTIME__DEPLOYMENT__NAME", f"rounds-{experiment_id}")
    _drop_round(home, experiment_id, arms, 500, 7, "only")
    result = experiment_round(params)
    assert result["status"] == "concluded" and result["schedule_paused"] == f"rounds-{experiment_id}"
    with get_client(sync_client=True) as client:
        assert client.read_deployment(deployment_id).paused


def _served(home, experiment_id, arms, n, seed):
    """Events as the web app's recorder stores them while serving (source "web"), not through any file."""
    audience = Audience(200, base_ctr=0.05, seed=seed)
    events = list(audience.events(experiment_id, arms, {a.id: 0.25 for a in arms}, n, rng=np.random.default_rng(seed), id_prefix=f"served{seed}-"))
    ExperimentStore(open_database(home.db_url)).ingest(experiment_id, events, source="web")
    return sum(e["type"] == "impression" for e in events), len(events)


def test_the_round_summary_counts_impressions_that_came_through_serving(home):
    engine, arms, experiment_id = _experiment(home, {"min_round_impressions": 10})
    impressions, events = _served(home, experiment_id, arms, 600, 8)
    result = experiment_round.fn(RoundParams(home=str(home.root), experiment_id=experiment_id, write_report=False))
    assert result["status"] == "closed" and result["ingested"]["files"] == 0
    assert result["sources"] == {"served by the web app": events}
    look = close_round(Workspace.of(home), experiment_id, expected_round=1)  # the stored round, as a retry sees it
    assert f"counted {impressions:,} impressions" in look.summary() and f"{events:,} served by the web app" in look.summary()
    # round 2 counts only what came after round 1 closed
    _, more = _served(home, experiment_id, arms, 300, 9)
    assert experiment_round.fn(RoundParams(home=str(home.root), experiment_id=experiment_id, write_report=False))["sources"] == {
        "served by the web app": more}


def test_each_round_keeps_its_own_report_and_links_it_on_the_web(home, monkeypatch):
    monkeypatch.setenv("CREATIVE_WEB_URL", "http://creative.example:8000/")
    engine, arms, experiment_id = _experiment(home, {"min_round_impressions": 10})
    params = RoundParams(home=str(home.root), experiment_id=experiment_id)
    for n in (1, 2):
        _served(home, experiment_id, arms, 400, 10 + n)
        result = experiment_round.fn(params)
        folder = home.reports_dir / experiment_id / f"round-{n}"
        assert result["report"] == str(folder / "index.html") and (folder / "index.html").is_file() and (folder / "tags.csv").is_file()
        assert result["report_link"] == f"http://creative.example:8000/experiments/{experiment_id}/rounds/{n}/report/"
    first = (home.reports_dir / experiment_id / "round-1" / "index.html").read_text()
    again = close_round(Workspace.of(home), experiment_id, expected_round=1, keep_report=True)  # a retry of round 1
    assert again.report == home.reports_dir / experiment_id / "round-1" / "index.html" and again.report.read_text() == first
    monkeypatch.delenv("CREATIVE_WEB_URL")
    _served(home, experiment_id, arms, 400, 13)
    assert experiment_round.fn(params)["report_link"] == str(home.reports_dir / experiment_id / "round-3" / "index.html")


def test_a_look_while_a_round_of_the_experiment_runs_skips_instead_of_queueing(home):
    """Catch-up runs after an outage: the ones that find a round running skip; none waits to close another."""
    engine, arms, experiment_id = _experiment(home, {"min_round_impressions": 10})
    _drop_round(home, experiment_id, arms, 500, 14, "late")
    with engine.begin() as conn:  # a round of this experiment in progress elsewhere (another run, the web scheduler)
        conn.execute(update(et.experiments).where(et.experiments.c.experiment_id == experiment_id).values(round_lock="other", locked_at=utcnow()))
    result = experiment_round.fn(RoundParams(home=str(home.root), experiment_id=experiment_id, write_report=False))
    assert result["status"] == "skipped" and "already running" in result["message"]
    assert ExperimentStore(engine).status(experiment_id).rounds_closed == 0
    with engine.begin() as conn:
        conn.execute(update(et.experiments).where(et.experiments.c.experiment_id == experiment_id).values(round_lock=None, locked_at=None))
    assert experiment_round.fn(RoundParams(home=str(home.root), experiment_id=experiment_id, write_report=False))["round"] == 1


def test_round_runs_are_named_after_the_round_and_log_what_they_took_in(prefect_harness, home, caplog):
    from prefect import get_client

    engine, arms, experiment_id = _experiment(home, {"min_round_impressions": 10})
    _, events = _served(home, experiment_id, arms, 500, 15)
    with caplog.at_level(logging.INFO):
        result = experiment_round(RoundParams(home=str(home.root), experiment_id=experiment_id))
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
    names = [r.name for r in runs if experiment_id in r.name]
    assert names == [f"round 1 · {experiment_id} · flow test · {result['decision']}"]
    logged = caplog.text
    assert f"{events:,} served by the web app" in logged and f"decided {result['decision']}" in logged
    assert f"report: {result['report']}" in logged
