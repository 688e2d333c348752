"""POST /v1/events under hostile or sloppy input: caps, per-line rejections with the body's own line numbers, small answers."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from support.web import running_world

from creative.web import api
from creative.web.event_batch import MAX_EXPERIMENTS, MAX_LINES, SAMPLE_LIMIT, split_batch

EVENTS_LIMIT = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with running_world(tmp_path_factory.mktemp("events") / "home", events_limit_bytes=EVENTS_LIMIT) as w:
        yield w


@pytest.fixture
def api_client(world):
    with httpx.Client(base_url=world.url, timeout=120, headers={"authorization": f"Bearer {world.api_key}"}) as c:
        yield c


def impression(experiment_id: str, event_id: str, **fields) -> str:
    return json.dumps({"event_id": event_id, "type": "impression", "ts": "2026-01-01T10:00:00Z", "experiment": experiment_id,
                       "creative": "c0-300x250", "user": "u1", **fields})


def samples(answer: dict) -> dict[int, str]:
    """Line number -> reason, over every report and the unassigned lines."""
    return {s["line"]: s["reason"] for r in answer["reports"] for s in r["samples"]} | {s["line"]: s["reason"] for s in answer["unassigned"]}


def test_two_megabytes_of_one_line_numbers_are_refused_whole_with_a_short_413(api_client):
    r = api_client.post("/v1/events", content=b"1\n" * (1024 * 1024))
    assert r.status_code == 413
    assert f"at most {MAX_LINES:,} lines" in r.json()["error"] and "split" in r.json()["error"]
    assert len(r.content) < 1_000


def test_a_body_over_the_byte_cap_is_refused_with_413_naming_the_limit(api_client):
    r = api_client.post("/v1/events", content=b" " * (EVENTS_LIMIT + 1))
    assert r.status_code == 413 and "4 MB limit" in r.json()["error"] and "split the batch" in r.json()["error"]


def test_the_answer_reports_at_most_a_sample_of_bad_lines_and_counts_the_rest(api_client):
    r = api_client.post("/v1/events", content=b"1\n" * 50_000)
    assert r.status_code == 422
    answer = r.json()
    assert answer["unassigned_total"] == 50_000 and answer["rejected"] == 50_000
    assert len(answer["unassigned"]) == SAMPLE_LIMIT
    assert len(r.content) < 10_000
    assert answer["error"].startswith("no line of the batch was ingested; line 1: ")


def test_a_deeply_nested_line_is_rejected_alone_and_the_rest_is_ingested(world, api_client):
    body = "\n".join([impression(world.experiment_id, "nest-1"), "[" * 10_000, impression(world.experiment_id, "nest-2"),
                      "[" * 5_000 + "]" * 5_000]) + "\n"
    r = api_client.post("/v1/events", content=body.encode())
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["accepted"] == 2 and answer["rejected"] == 2
    assert samples(answer) == {2: "malformed", 4: "malformed"}
    assert all(s["detail"].startswith(f"line {s['line']}: not JSON") for s in answer["unassigned"])


def test_deeply_nested_user_features_reject_their_line_not_the_batch(world, api_client):
    deep = "[" * 1_000 + "]" * 1_000  # within the JSON parser's depth limit, past what storing it could encode
    body = "\n".join([impression(world.experiment_id, "feat-1", user_features={"a": "DEEP"}).replace('"DEEP"', deep),
                      impression(world.experiment_id, "feat-2", user_features={"device": "mobile"})])
    r = api_client.post("/v1/events", content=body.encode())
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["accepted"] == 1, answer
    [sample] = answer["reports"][0]["samples"]
    assert sample["line"] == 1 and "nested deeper than" in sample["detail"]


def test_rejections_carry_the_line_number_of_the_body_not_of_their_experiments_share(world, api_client):
    from support.web import make_experiment

    other = make_experiment(world.home, name="events-other")
    body = "\n".join([
        "",                                                           # 1 blank
        impression(other, "ln-1"),                                    # 2 ok, other experiment
        impression(world.experiment_id, "ln-2", ts="01/02/2026"),     # 3 bad ts
        "not json",                                                   # 4 names no experiment
        impression(other, "ln-3", creative="nope"),                   # 5 unknown creative
        impression(world.experiment_id, "ln-4", user="a\u2028b"),     # 6 ok: U+2028 inside a string is not a line break
        impression(world.experiment_id, "ln-5", ts=1767261600000),    # 7 epoch ms: not an accepted ts
    ]).replace("\n", "\r\n")
    r = api_client.post("/v1/events", content=body.encode())
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["lines"] == 7 and answer["accepted"] == 2
    assert samples(answer) == {3: "malformed", 4: "malformed", 5: "unknown_creative", 7: "malformed"}
    details = {s["line"]: s["detail"] for r in answer["reports"] for s in r["samples"]}
    assert details[3].startswith("line 3: ts '01/02/2026' is not ISO-8601")


def test_a_batch_naming_too_many_experiments_is_refused_before_ingesting(api_client):
    body = "\n".join(impression(f"exp-made-up-{i}", f"many-{i}") for i in range(MAX_EXPERIMENTS + 1))
    r = api_client.post("/v1/events", content=body.encode())
    assert r.status_code == 422
    assert f"at most {MAX_EXPERIMENTS}" in r.json()["error"] and f"line {MAX_EXPERIMENTS + 1}" in r.json()["error"]


def test_unknown_experiments_are_reported_per_line_not_as_a_failure(api_client):
    r = api_client.post("/v1/events", content=(impression("exp-nope", "u-1") + "\n").encode())
    assert r.status_code == 422
    assert r.json()["reports"][0]["samples"][0] == {"line": 1, "reason": "unknown_experiment", "detail": r.json()["reports"][0]["samples"][0]["detail"]}
    assert r.json()["error"].startswith("no line of the batch was ingested; line 1: ")


def test_the_batch_is_parsed_off_the_event_loop(world, api_client, monkeypatch):
    on_loop: list[bool] = []

    def recording_split(*args, **kwargs):
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return split_batch(*args, **kwargs)

    monkeypatch.setattr(api, "split_batch", recording_split)
    r = api_client.post("/v1/events", content=(impression(world.experiment_id, "loop-1") + "\n").encode())
    assert r.status_code == 200
    assert on_loop == [False]


def test_line_numbers_count_physical_lines_with_or_without_a_final_newline():
    for body in (b'1\n\n{"experiment": "e"}', b'1\n\n{"experiment": "e"}\n', b'1\r\n\r\n{"experiment": "e"}\r\n'):
        batch = split_batch(body, None)
        assert batch.lines == 3
        assert [n for n, _ in batch.groups["e"]] == [3]
        assert [u.line for u in batch.unassigned] == [1]


def test_parsing_bad_lines_leaves_no_reference_cycles_for_the_collector_to_chase():
    """A cycle per rejected line (exception -> frame -> result list) made 100k bad lines cost seconds of GC pauses, holding the GIL."""
    import gc

    from experiments.events import parse_jsonl_lines

    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        parsed = parse_jsonl_lines([b"1"] * 5_000)
        assert len(parsed) == 5_000
        del parsed
        # A cycle per line leaves at least an exception, its traceback and a frame per line: 15,000 objects or more.
        # Other threads of the test process (servers of module fixtures) may leave a few dozen of their own.
        assert gc.collect() < 1_000
    finally:
        if was_enabled:
            gc.enable()


def test_a_malformed_experiment_parameter_is_refused_with_400(api_client):
    r = api_client.post("/v1/events", params={"experiment": "x" * 201}, content=b"")
    assert r.status_code == 400 and "experiment=ID" in r.json()["error"]


def test_posting_events_does_not_make_serving_read_its_views_again(world, api_client, monkeypatch):
    serving = world.server.app.state.serving
    assert api_client.get("/v1/serve", params={"experiment": world.experiment_id, "user": "before"}).status_code == 200
    fresh_reads: list[str] = []
    read = serving._load
    monkeypatch.setattr(serving, "_load", lambda experiment, previous: (previous is None and fresh_reads.append(experiment), read(experiment, previous))[1])
    r = api_client.post("/v1/events", content=(impression(world.experiment_id, "no-reread-1") + "\n").encode())
    assert r.status_code == 200 and r.json()["accepted"] == 1
    assert api_client.get("/v1/serve", params={"experiment": world.experiment_id, "user": "after"}).status_code == 200
    assert fresh_reads == []
