"""Ingestion and rounds on PostgreSQL: a fresh database per run, dropped afterwards."""

import uuid

import numpy as np
import pytest
import sqlalchemy as sa

from creative.db import open_database
from experiments.errors import RoundInProgress
from experiments.rounds import _acquire, _release, run_round
from experiments.simulator import Audience, make_creatives
from experiments.store import ExperimentStore

pytestmark = pytest.mark.postgres

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="module")
def pg_url():
    try:
        admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: skip
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 ({type(exc).__name__}); start it to run these tests")
    name = f"exp_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        yield url
    finally:
        open_database(url).dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


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
