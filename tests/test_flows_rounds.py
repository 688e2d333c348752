"""experiment_round: ingest the inbox, close the round, tags and report; overlapping runs count once."""

from __future__ import annotations

import json
import threading

import numpy as np

from creative.db import open_database
from experiments.inbox import drop_file, pending_files
from experiments.simulator import Audience, make_creatives
from experiments.store import ExperimentStore
from flows.rounds import RoundParams, experiment_round


def _experiment(home):
    engine = open_database(home.db_url)
    arms = make_creatives(4, seed=1)
    experiment_id = ExperimentStore(engine).create_experiment("flow test", arms, "thompson")
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
    assert sorted(r["round"] for r in results) == [1, 2]
    status = ExperimentStore(engine).status(experiment_id)
    assert sum(a.impressions for a in status.arms) == impressions
    assert sum(a.clicks for a in status.arms) == clicks
    # Re-dropping the same events (a retried upload) changes nothing either.
    _drop_round(home, experiment_id, arms, 3000, 4, "batch1")
    experiment_round.fn(params)
    status = ExperimentStore(engine).status(experiment_id)
    assert sum(a.impressions for a in status.arms) == impressions
