"""Ingestion and rounds on PostgreSQL: a fresh database per run, dropped afterwards."""

import numpy as np
import pytest

from creative.db import open_database
from experiments.errors import RoundInProgress
from experiments.rounds import _acquire, _release, run_round
from experiments.simulator import Audience, make_creatives
from experiments.store import ExperimentStore

pytestmark = pytest.mark.postgres

def test_ingestion_and_rounds_work_the_same_on_postgresql(pg_url):
    engine = open_database(pg_url)
    store = ExperimentStore(engine)
    arms = make_creatives(4, seed=0)
    exp = store.create_experiment("pg", arms, "top-two")
    audience = Audience(300, base_ctr=0.03, seed=1)
    events = list(audience.events(exp, arms, {a.id: 0.25 for a in arms}, 3000, rng=np.random.default_rng(0), with_features=True))
    events.append({"event_id": "orphan", "type": "click", "impression_id": "nope", "ts": "2025-01-01T00:00:00Z",
                   "experiment": exp, "creative": arms[0].id, "user": "u"})
    report = store.ingest(exp, events)
    assert report.impressions == 3000 and report.rejected == {"click_without_impression": 1}
    again = store.ingest(exp, events)
    assert again.accepted == 0 and again.duplicates == report.accepted

    first = run_round(engine, exp)
    assert first.round_no == 1 and first.impressions == 3000 and first.clicks == report.clicks
    assert sum(first.allocation_next.values()) == pytest.approx(1.0)
    second = run_round(engine, exp)
    assert second.impressions == 0 and sum(a.impressions for a in second.arms) == 3000

    _acquire(engine, exp, "someone-else", 0, 600)
    with pytest.raises(RoundInProgress):
        run_round(engine, exp)
    _release(engine, exp, "someone-else")
    assert run_round(engine, exp, expected_round=2).replayed
