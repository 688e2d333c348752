"""Event ingestion: idempotent, every line accepted, a duplicate or rejected with a reason, aggregates incremental."""

import csv
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select

from creative.db import open_database
from experiments import tables as t
from experiments.rounds import run_round
from experiments.store import ExperimentStore

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)


def ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def store(tmp_path):
    return ExperimentStore(open_database(f"sqlite:///{tmp_path / 'exp.db'}"))


@pytest.fixture
def exp(store):
    creatives = [{"id": f"c{i}", "attributes": {"template": "hero" if i % 2 else "grid", "has_model": i < 2}} for i in range(3)]
    return store.create_experiment("spring sale", creatives, "thompson")


def imp(exp, eid, creative="c0", user="u1", at=0.0, **extra):
    return {"event_id": eid, "type": "impression", "ts": ts(at), "experiment": exp, "creative": creative, "user": user, "size": "300x250", **extra}


def click(exp, eid, impression_id, creative="c0", user="u1", at=60.0):
    return {"event_id": eid, "type": "click", "ts": ts(at), "experiment": exp, "creative": creative, "user": user, "size": "300x250",
            "impression_id": impression_id}


def write_jsonl(path, lines):
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def mixed_lines(exp):
    lines = [imp(exp, f"i{k}", creative=f"c{k % 3}", user=f"u{k % 7}", at=k) for k in range(30)]
    lines += [click(exp, "k1", "i1", creative="c1", user="u1", at=100)]
    lines += [click(exp, "k2", "nowhere", at=100)]                                      # click without impression
    lines += [click(exp, "k3", "i3", creative="c0", user="u3", at=3 + 25 * 3600)]       # outside 24 h window
    lines += [click(exp, "k4", "i1", creative="c1", user="u1", at=200)]                 # second click, same impression
    lines += [click(exp, "k5", "i4", creative="c2", user="u4", at=100)]                 # creative differs from impression's
    lines += [imp(exp, "x1", creative="c9")]                                           # unknown creative
    lines += [imp("exp-other", "x2")]                                                  # another experiment
    lines += ['{"event_id": "broken", "type": ']                                        # malformed JSON
    lines += [{"event_id": "nouser", "type": "impression", "ts": ts(1), "experiment": exp, "creative": "c0"}]
    lines += [imp(exp, f"bot{k}", user="bot", at=5000 + k / 10) for k in range(70)]     # 70 in one minute: 10 over the limit
    return lines


def test_ingesting_a_jsonl_file_counts_accepted_and_rejections_by_reason(store, exp, tmp_path):
    report = store.ingest_file(exp, write_jsonl(tmp_path / "events.jsonl", mixed_lines(exp)))
    assert report.impressions == 30 + 60
    assert report.clicks == 1
    assert report.rejected == {
        "bot_burst": 10, "click_mismatch": 1, "click_outside_window": 1, "click_without_impression": 1,
        "duplicate_click": 1, "malformed": 2, "unknown_creative": 1, "unknown_experiment": 1,
    }
    assert report.lines == report.accepted + report.duplicates + report.rejected_total
    malformed = [s for s in report.samples if s.reason == "malformed"]
    assert [s.line for s in malformed] == [38, 39]
    assert "line 39: missing field 'user'" in malformed[1].detail


def test_ingesting_the_same_file_twice_counts_nothing_twice(store, exp, tmp_path):
    path = write_jsonl(tmp_path / "events.jsonl", mixed_lines(exp))
    first = store.ingest_file(exp, path)
    before = store.status(exp)
    second = store.ingest_file(exp, path)
    assert second.accepted == 0
    assert second.duplicates == first.accepted
    assert store.status(exp).arms == before.arms
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.events)).scalar_one() == first.accepted


def test_csv_and_jsonl_and_python_ingestion_agree(tmp_path):
    reports = []
    for kind in ("jsonl", "csv", "python"):
        store = ExperimentStore(open_database(f"sqlite:///{tmp_path / kind}.db"))
        exp = store.create_experiment("x", [{"id": "c0"}, {"id": "c1"}, {"id": "c2"}], "fixed", experiment_id="exp-same")
        lines = [x for x in mixed_lines(exp) if isinstance(x, dict)]
        if kind == "jsonl":
            reports.append(store.ingest_file(exp, write_jsonl(tmp_path / "e.jsonl", lines)))
        elif kind == "csv":
            path = tmp_path / "e.csv"
            with path.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=["event_id", "type", "ts", "experiment", "creative", "user", "size", "impression_id"])
                writer.writeheader()
                writer.writerows(lines)
            reports.append(store.ingest_file(exp, path))
        else:
            reports.append(store.ingest(exp, iter(lines)))
    assert len({(r.accepted, r.impressions, r.clicks, tuple(sorted(r.rejected.items()))) for r in reports}) == 1


def test_a_click_before_its_impression_in_the_same_file_is_attributed(store, exp):
    report = store.ingest(exp, [click(exp, "k", "i", at=30), imp(exp, "i", at=0)])
    assert (report.impressions, report.clicks, report.rejected) == (1, 1, {})


def test_a_click_whose_impression_is_in_a_later_chunk_is_attributed(store, exp, monkeypatch):
    import experiments.ingest.run as ingest_run

    monkeypatch.setattr(ingest_run, "CHUNK", 3)
    events = [click(exp, "k", "i", at=30)] + [imp(exp, f"f{k}", user=f"v{k}") for k in range(5)] + [imp(exp, "i", at=0)]
    report = store.ingest(exp, events)
    assert (report.impressions, report.clicks, report.rejected) == (6, 1, {})


def test_a_rejected_click_is_accepted_once_its_impression_arrives(store, exp):
    first = store.ingest(exp, [click(exp, "k", "i", at=30)])
    assert first.rejected == {"click_without_impression": 1}
    store.ingest(exp, [imp(exp, "i", at=0)])
    again = store.ingest(exp, [click(exp, "k", "i", at=30)])
    assert (again.clicks, again.rejected) == (1, {})


def test_the_attribution_window_is_a_setting_of_the_experiment(store):
    exp = store.create_experiment("short window", [{"id": "c0"}, {"id": "c1"}], config={"attribution_window_hours": 1})
    report = store.ingest(exp, [imp(exp, "i"), click(exp, "k", "i", at=2 * 3600)])
    assert report.rejected == {"click_outside_window": 1}


def test_clicks_of_a_bot_burst_are_rejected_with_their_impressions(store, exp):
    events = [imp(exp, f"b{k}", user="bot", at=k / 2) for k in range(61)] + [click(exp, "kb", "b60", user="bot", at=200)]
    report = store.ingest(exp, events)
    assert report.rejected == {"bot_burst": 2}


def test_a_burst_delivered_again_stays_rejected(store, exp):
    events = [imp(exp, f"b{k}", user="bot", at=k / 2) for k in range(70)]
    assert store.ingest(exp, events).rejected == {"bot_burst": 10}
    again = store.ingest(exp, events)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 60, {"bot_burst": 10})


def test_aggregates_per_round_creative_and_user_match_the_events(store, exp, tmp_path):
    store.ingest_file(exp, write_jsonl(tmp_path / "events.jsonl", mixed_lines(exp)))
    with store.engine.connect() as conn:
        raw = conn.execute(select(t.events.c.creative_id, t.events.c.kind, func.count()).group_by(t.events.c.creative_id, t.events.c.kind)).all()
        arm = {r.creative_id: (r.impressions, r.clicks) for r in conn.execute(select(t.arm_stats).where(t.arm_stats.c.round_no == 1))}
        users = conn.execute(select(func.sum(t.user_stats.c.impressions), func.sum(t.user_stats.c.clicks))).one()
    expected = {}
    for creative, kind, n in raw:
        i, c = expected.get(creative, (0, 0))
        expected[creative] = (i + n, c) if kind == "i" else (i, c + n)
    assert arm == expected
    assert tuple(users) == (sum(v[0] for v in expected.values()), sum(v[1] for v in expected.values()))


def test_user_features_are_kept_per_user(store, exp):
    store.ingest(exp, [imp(exp, "i", user="ann", user_features={"country": "FR", "age_band": "25-34"})])
    with store.engine.connect() as conn:
        assert conn.execute(select(t.users.c.features).where(t.users.c.user_id == "ann")).scalar_one() == {"country": "FR", "age_band": "25-34"}


def test_a_round_reads_aggregates_and_never_scans_the_event_table(store, exp, tmp_path):
    store.ingest_file(exp, write_jsonl(tmp_path / "events.jsonl", mixed_lines(exp)))
    statements = []
    listener = lambda conn, cursor, statement, *args: statements.append(statement)
    event.listen(store.engine, "before_cursor_execute", listener)
    try:
        run_round(store.engine, exp)
    finally:
        event.remove(store.engine, "before_cursor_execute", listener)
    assert statements and not [s for s in statements if "exp_events" in s]


def test_every_ingestion_is_logged_with_its_counts(store, exp):
    store.ingest(exp, [imp(exp, "i"), imp(exp, "i"), {"type": "impression"}], source="unit")
    log = store.ingest_log(exp)
    assert [(x["source"], x["accepted"], x["duplicates"], x["rejected"]) for x in log] == [("unit", 1, 1, {"malformed": 1})]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_store(request, tmp_path):
    if request.param == "sqlite":
        return ExperimentStore(open_database(f"sqlite:///{tmp_path / 'exp.db'}"))
    return ExperimentStore(open_database(request.getfixturevalue("pg_url")))


def test_holdout_events_are_stored_not_counted_and_late_ones_keep_their_round_of_service(any_store):
    store = any_store
    exp = store.create_experiment("marks", [{"id": f"c{i}"} for i in range(2)], "fixed")
    run_round(store.engine, exp)  # round 2 is open
    lines = [imp(exp, "on-time", round=2), imp(exp, "late", creative="c1", round=1), imp(exp, "claims-later", round=7),
             imp(exp, "held", holdout=True), click(exp, "held-click", "held"), click(exp, "late-click", "late", creative="c1"),
             imp(exp, "bad-round", round=0), imp(exp, "bad-mark", holdout="maybe")]
    report = store.ingest(exp, lines)
    assert (report.accepted, report.impressions, report.clicks, report.holdout) == (6, 3, 1, 2)
    assert report.rejected == {"malformed": 2}
    assert {s.creative_id: (s.round_impressions, s.round_clicks) for s in store.snapshots(exp)} == {"c0": (2, 0), "c1": (1, 1)}
    with store.engine.connect() as conn:
        stored = {r[0]: (r[1], r[2]) for r in conn.execute(select(t.events.c.event_id, t.events.c.served_round, t.events.c.holdout)
                                                          .where(t.events.c.experiment_id == exp))}
        late = conn.execute(select(t.late_stats.c.served_round, t.late_stats.c.creative_id, t.late_stats.c.impressions)
                            .where(t.late_stats.c.experiment_id == exp)).all()
    assert stored["late"] == (1, None) and stored["on-time"] == (None, None) and stored["claims-later"] == (None, None)
    assert stored["held"][1] and stored["held-click"][1]  # the click follows its impression out of the statistics
    assert [tuple(r) for r in late] == [(1, "c1", 1)]
    assert store.ingest(exp, lines).duplicates == 6  # re-delivery counts nothing twice
