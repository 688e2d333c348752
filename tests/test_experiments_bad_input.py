"""Bad input gets a clear, typed error or a counted rejection; nothing is lost, nothing counted twice."""

import json

import pytest

from creative.errors import USER_ERRORS
from experiments.errors import EventFileError, ExperimentNotFound, InvalidAllocation, InvalidExperiment


def test_an_experiment_with_one_creative_is_refused(experiment_store):
    with pytest.raises(InvalidExperiment, match="at least 2"):
        experiment_store.create_experiment("solo", [{"id": "c1"}])


def test_duplicate_creatives_are_refused_naming_the_ids(experiment_store):
    with pytest.raises(InvalidExperiment, match="c1 appear more than once"):
        experiment_store.create_experiment("dup", [{"id": "c1"}, {"id": "c1"}, {"id": "c2"}])


def test_fixed_shares_that_do_not_sum_to_one_are_refused(experiment_store):
    with pytest.raises(InvalidAllocation, match="sum to 0.900000"):
        experiment_store.create_experiment("x", [{"id": "a"}, {"id": "b"}], "fixed", policy_params={"shares": {"a": 0.5, "b": 0.4}})
    with pytest.raises(InvalidAllocation, match="not arms"):
        experiment_store.create_experiment("x", [{"id": "a"}, {"id": "b"}], "fixed", policy_params={"shares": {"a": 0.5, "z": 0.5}})


def test_unknown_settings_and_bad_values_are_refused(experiment_store):
    with pytest.raises(InvalidExperiment, match="unknown experiment setting"):
        experiment_store.create_experiment("x", [{"id": "a"}, {"id": "b"}], config={"alpah": 0.1})
    with pytest.raises(InvalidExperiment, match="alpha"):
        experiment_store.create_experiment("x", [{"id": "a"}, {"id": "b"}], config={"alpha": 2})


def test_errors_are_user_errors_so_the_cli_prints_them_as_one_line(experiment_store):
    with pytest.raises(USER_ERRORS):
        experiment_store.status("exp-missing")


def test_an_unknown_experiment_id_says_how_to_find_one(experiment_store):
    with pytest.raises(ExperimentNotFound, match="creative experiment create"):
        experiment_store.ingest("exp-missing", [])


def test_a_file_with_malformed_lines_keeps_the_good_lines_and_reports_the_bad_ones(experiment_store, tmp_path):
    exp = experiment_store.create_experiment("x", [{"id": "a"}, {"id": "b"}])
    good = {"event_id": "e1", "type": "impression", "ts": "2025-01-01T00:00:00Z", "experiment": exp, "creative": "a", "user": "u"}
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([
        json.dumps(good),
        "not json at all",
        json.dumps({**good, "event_id": "e2", "ts": "yesterday"}),
        json.dumps({**good, "event_id": "e3", "type": "view"}),
        json.dumps([1, 2]),
        "",
        json.dumps({**good, "event_id": "e4", "type": "click"}),
        json.dumps({**good, "event_id": "e5", "creative": "b"}),
    ]) + "\n")
    report = experiment_store.ingest_file(exp, path)
    assert report.accepted == 2 and report.rejected == {"malformed": 5}
    details = [(s.line, s.detail.split(": ", 1)[1]) for s in report.samples]
    assert details[0][0] == 2 and details[0][1].startswith("not JSON (")
    assert details[1:] == [
        (3, "ts 'yesterday' is not ISO-8601"),
        (4, "type must be 'impression' or 'click', got 'view'"),
        (5, "an event must be an object, got list"),
        (7, "a click needs impression_id (the event_id of its impression)"),
    ]
    again = experiment_store.ingest_file(exp, path)
    assert again.accepted == 0 and again.duplicates == 2 and again.rejected == {"malformed": 5}


def test_a_missing_or_unrecognised_event_file_is_a_clear_error(experiment_store, tmp_path):
    exp = experiment_store.create_experiment("x", [{"id": "a"}, {"id": "b"}])
    with pytest.raises(EventFileError, match="does not exist"):
        experiment_store.ingest_file(exp, tmp_path / "nope.jsonl")
    (tmp_path / "events.xlsx").write_text("x")
    with pytest.raises(EventFileError, match=r"\.jsonl"):
        experiment_store.ingest_file(exp, tmp_path / "events.xlsx")
    (tmp_path / "events.csv").write_text("id,kind\n1,2\n")
    with pytest.raises(EventFileError, match="lacks column"):
        experiment_store.ingest_file(exp, tmp_path / "events.csv")


