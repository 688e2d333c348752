"""The ingestion rules without a database: duplicates, the rate limit, click attribution, reasons per line."""

from experiments.events import CLICK, IMPRESSION, Event, MalformedEvent
from experiments.ingest.rules import IngestRules
from experiments.model import ExperimentConfig

EXP = "exp-1"
ARMS = {"c0", "c1"}
MINUTE = 60_000
HOUR = 3_600_000
T0 = 1_740_000_000_000 - 1_740_000_000_000 % MINUTE  # the start of a minute


def imp(eid, creative="c0", user="u1", at=0, features=None, experiment=EXP):
    return Event(eid, IMPRESSION, T0 + at, experiment, creative, user, "300x250", None, features)


def click(eid, impression_id, creative="c0", user="u1", at=30_000):
    return Event(eid, CLICK, T0 + at, EXP, creative, user, "300x250", impression_id)


def rules(limit=60, window_hours=24.0, saturated=()):
    config = ExperimentConfig(max_events_per_user_minute=limit, attribution_window_hours=window_hours)
    return IngestRules(EXP, ARMS, config, saturated)


def ingest(r, chunks, stored=(), clicked_before=()):
    """Run chunks through the rules as experiments.ingest.run does; `stored`: impressions the store holds."""
    known_impressions = {ev.event_id: ev for ev in stored}
    for n, chunk in enumerate(chunks):
        fresh = r.screen(chunk, 1 + 100 * n)
        admitted = r.admit(fresh, {ev.event_id for ev in fresh.events} & known_impressions.keys())
        known_impressions.update((ev.event_id, ev) for ev in admitted.impressions)
        r.judge_clicks(admitted.clicks, known_impressions, set(clicked_before), final=n == len(chunks) - 1)
    return r.report("test")


def details(report, reason):
    return [s.detail for s in report.samples if s.reason == reason]


def test_an_event_id_repeated_within_a_call_is_kept_once_and_counted_as_a_duplicate():
    r = rules()
    fresh = r.screen([imp("i1"), imp("i1"), imp("i2")], 1)
    assert [ev.event_id for ev in fresh.events] == ["i1", "i2"]
    assert (r.lines, r.duplicates) == (3, 1)


def test_blank_lines_are_not_lines_of_the_report():
    report = ingest(rules(), [[None, imp("i1"), None]])
    assert (report.lines, report.accepted) == (1, 1)


def test_malformed_foreign_and_unknown_creative_lines_are_rejected_with_their_line_number():
    r = rules()
    fresh = r.screen([MalformedEvent("missing field 'user'"), imp("x1", experiment="exp-2"), imp("x2", creative="c9"), imp("i1")], 10)
    assert [ev.event_id for ev in fresh.events] == ["i1"]
    assert dict(r.rejected) == {"malformed": 1, "unknown_experiment": 1, "unknown_creative": 1}
    assert [(s.line, s.detail) for s in r.samples] == [
        (10, "line 10: missing field 'user'"),
        (11, "line 11: experiment 'exp-2' is not 'exp-1'"),
        (12, "line 12: creative 'c9' is not an arm of exp-1"),
    ]


def test_csv_rows_keep_their_own_line_numbers():
    r = rules(limit=1)
    fresh = r.screen([imp("i1"), MalformedEvent("not JSON"), imp("i2")], [2, 5, 9])
    r.admit(fresh, set())
    assert [s.line for s in r.samples] == [5, 9]


def test_events_the_store_already_holds_are_duplicates_not_accepted():
    report = ingest(rules(), [[imp("i1"), imp("i2")]], stored=[imp("i1")])
    assert (report.accepted, report.duplicates, report.rejected) == (1, 1, {})


def test_a_user_may_send_the_limit_per_minute_and_the_excess_is_a_bot_burst():
    r = rules(limit=3)
    admitted = r.admit(r.screen([imp(f"b{k}", user="bot", at=k * 1000) for k in range(5)], 1), set())
    assert [ev.event_id for ev in admitted.impressions] == ["b0", "b1", "b2"]
    assert admitted.dropped == ["b3", "b4"]
    assert admitted.saturated == {("bot", T0 // MINUTE)}
    assert dict(r.rejected) == {"bot_burst": 2}
    assert r.samples[0].detail == "line 4: user 'bot' sent more than 3 events in one minute"


def test_the_limit_counts_each_user_in_each_minute_apart():
    events = [imp(f"a{k}", user="u1", at=k) for k in range(3)] + [imp(f"b{k}", user="u1", at=MINUTE + k) for k in range(3)]
    events += [imp(f"c{k}", user="u2", at=k) for k in range(3)]
    report = ingest(rules(limit=3), [events])
    assert (report.impressions, report.rejected) == (9, {})


def test_the_limit_holds_across_the_chunks_of_one_call():
    r = rules(limit=3)
    first = r.admit(r.screen([imp("b0", user="bot"), imp("b1", user="bot")], 1), set())
    second = r.admit(r.screen([imp("b2", user="bot"), imp("b3", user="bot")], 3), set())
    assert (first.saturated, second.saturated) == (set(), {("bot", T0 // MINUTE)})
    assert second.dropped == ["b3"]


def test_a_minute_saturated_in_an_earlier_call_rejects_every_new_event_of_it():
    r = rules(limit=3, saturated=[("bot", T0 // MINUTE, 3)])
    admitted = r.admit(r.screen([imp("late", user="bot", at=59_000), imp("next", user="bot", at=MINUTE)], 1), set())
    assert [ev.event_id for ev in admitted.impressions] == ["next"]
    assert admitted.saturated == set()  # already recorded: not stored again
    assert dict(r.rejected) == {"bot_burst": 1}


def test_a_click_on_a_bot_burst_impression_is_rejected_as_bot_burst():
    events = [imp(f"b{k}", user="bot", at=k) for k in range(4)] + [click("k", "b3", user="bot", at=2 * MINUTE)]
    report = ingest(rules(limit=3), [events])
    assert report.rejected == {"bot_burst": 2}
    assert details(report, "bot_burst")[1] == "line 5: the click's impression 'b3' was rejected (bot_burst)"


def test_a_click_on_an_accepted_impression_is_accepted():
    report = ingest(rules(), [[imp("i"), click("k", "i")]])
    assert (report.impressions, report.clicks, report.accepted, report.rejected) == (1, 1, 2, {})


def test_a_click_is_attributed_to_an_impression_stored_by_an_earlier_call():
    report = ingest(rules(), [[click("k", "i")]], stored=[imp("i")])
    assert (report.clicks, report.rejected) == (1, {})


def test_a_click_waits_for_its_impression_in_a_later_chunk():
    report = ingest(rules(), [[click("k", "i")], [imp("other", user="u2")], [imp("i")]])
    assert (report.impressions, report.clicks, report.rejected) == (2, 1, {})


def test_a_click_whose_impression_never_comes_is_rejected_at_the_end_with_its_own_line():
    report = ingest(rules(), [[click("k", "nowhere")], [imp("i")]])
    assert report.rejected == {"click_without_impression": 1}
    assert report.samples[0].line == 1
    assert report.samples[0].detail == "line 1: no impression 'nowhere'"


def test_a_click_on_another_creative_or_user_than_its_impression_is_a_mismatch():
    report = ingest(rules(), [[imp("i1"), imp("i2"), click("k1", "i1", creative="c1"), click("k2", "i2", user="u9")]])
    assert report.rejected == {"click_mismatch": 2}
    assert details(report, "click_mismatch") == [
        "line 3: click on 'c1' by 'u1' but impression 'i1' was 'c0' for 'u1'",
        "line 4: click on 'c0' by 'u9' but impression 'i2' was 'c0' for 'u1'",
    ]


def test_a_click_before_its_impression_or_after_the_window_is_outside_the_window():
    events = [imp("i1", at=HOUR), imp("i2"), click("early", "i1", at=HOUR - 1000), click("late", "i2", at=2 * HOUR)]
    report = ingest(rules(window_hours=1), [events])
    assert report.rejected == {"click_outside_window": 2}
    assert details(report, "click_outside_window")[1] == "line 4: click 2.00 h after its impression; window is 1 h"


def test_a_click_at_the_end_of_the_window_still_counts():
    report = ingest(rules(window_hours=1), [[imp("i"), click("k", "i", at=HOUR)]])
    assert (report.clicks, report.rejected) == (1, {})


def test_only_one_click_per_impression_counts():
    report = ingest(rules(), [[imp("i"), click("k1", "i"), click("k2", "i", at=40_000)]])
    assert (report.clicks, report.rejected) == (1, {"duplicate_click": 1})
    assert details(report, "duplicate_click") == ["line 3: impression 'i' already has a click"]


def test_a_click_on_an_impression_clicked_in_an_earlier_call_is_a_duplicate_click():
    report = ingest(rules(), [[click("k2", "i")]], stored=[imp("i")], clicked_before={"i"})
    assert (report.clicks, report.rejected) == (0, {"duplicate_click": 1})


def test_every_line_is_accepted_a_duplicate_or_rejected():
    events = [imp(f"i{k}", user=f"u{k % 4}", at=k) for k in range(20)] + [imp("i3", user="u3", at=3)]
    events += [click("k1", "i1", user="u1", at=MINUTE), click("k2", "none", at=MINUTE), MalformedEvent("not JSON"), None]
    events += [imp(f"b{k}", user="bot", at=k) for k in range(8)]
    report = ingest(rules(limit=5), [events[:10], events[10:]])
    assert report.lines == len(events) - 1
    assert report.lines == report.accepted + report.duplicates + report.rejected_total
    assert report.rejected == {"bot_burst": 3, "click_without_impression": 1, "malformed": 1}
    assert list(report.rejected) == sorted(report.rejected)


def test_the_report_keeps_the_first_twenty_rejected_lines_as_samples():
    report = ingest(rules(), [[MalformedEvent(f"bad {k}") for k in range(25)]])
    assert report.rejected == {"malformed": 25}
    assert [s.line for s in report.samples] == list(range(1, 21))


def test_the_last_features_of_a_user_are_kept():
    r = rules()
    admitted = r.admit(r.screen([imp("i1", features={"country": "FR"}), imp("i2", features={"country": "DE"}), imp("i3", user="u2")], 1), set())
    assert admitted.features == {"u1": {"country": "DE"}}
