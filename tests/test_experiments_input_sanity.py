"""Events from outside are checked strictly: no timestamps from the future, no bytes silently replaced."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from experiments.errors import EventFileError


def _impression(eid: str, ts: datetime, creative: str = "a", user: str = "u1") -> dict:
    return {"event_id": eid, "type": "impression", "ts": ts.isoformat(), "experiment": "exp-s", "creative": creative, "user": user}


@pytest.fixture
def exp(experiment_store):
    return experiment_store.create_experiment("sanity", [{"id": "a"}, {"id": "b"}], experiment_id="exp-s",
                                              config={"max_clock_skew_minutes": 5})


def test_timestamps_beyond_the_clock_skew_are_rejected_by_reason(experiment_store, exp):
    now = datetime.now(timezone.utc)
    report = experiment_store.ingest(exp, [_impression("ok", now), _impression("soon", now + timedelta(minutes=2)),
                                           _impression("y2099", datetime(2099, 1, 1, tzinfo=timezone.utc)),
                                           _impression("y9999", datetime(9999, 12, 31, tzinfo=timezone.utc))])
    assert report.accepted == 2 and report.rejected == {"future_timestamp": 2}
    assert "in the future" in report.samples[0].detail and "max_clock_skew_minutes" in report.samples[0].detail


def test_bad_bytes_in_a_csv_line_reject_that_line_only(experiment_store, exp, tmp_path):
    ts = datetime.now(timezone.utc).isoformat()
    rows = ["event_id,type,ts,experiment,creative,user", f"e1,impression,{ts},exp-s,a,u1"]
    body = ("\n".join(rows) + "\n").encode() + f"e\xff2,impression,{ts},exp-s,a,u2\n".encode("latin-1") + f"e\xfe2,impression,{ts},exp-s,a,u3\n".encode("latin-1")
    (tmp_path / "events.csv").write_bytes(body)
    report = experiment_store.ingest_file(exp, tmp_path / "events.csv")
    # replaced bytes would have made e\xff2 and e\xfe2 one id; both are rejected instead
    assert report.accepted == 1 and report.rejected == {"malformed": 2}
    assert "not UTF-8" in report.samples[0].detail


def test_a_json_array_with_bad_bytes_is_refused_whole_with_a_next_step(experiment_store, exp, tmp_path):
    ts = datetime.now(timezone.utc).isoformat()
    good = json.dumps([_impression("e1", datetime.fromisoformat(ts))]).encode()
    (tmp_path / "events.json").write_bytes(good[:-2] + b', "x\xff"]')
    with pytest.raises(EventFileError, match="not UTF-8.*re-export"):
        experiment_store.ingest_file(exp, tmp_path / "events.json")
    assert experiment_store.status(exp).open_round_impressions == 0
