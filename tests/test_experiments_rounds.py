"""Rounds: decisions stored with evidence, idempotent, exclusive, and never double counting."""

import math
import threading

import numpy as np
import pytest
from sqlalchemy import select

from creative.db import open_database
from experiments import tables as t
from experiments.decisions import evaluate_round
from experiments.errors import ExperimentConcluded, InvalidExperiment, RoundInProgress, RoundNotFound
from experiments.model import ArmSnapshot, ArmState, ExperimentConfig
from experiments.policies import make_policy
from experiments.rounds import _acquire, _release, load_round, round_history, run_round
from experiments.simulator import Audience, make_creatives
from experiments.stats.srm import srm_check
from experiments.store import ExperimentStore


@pytest.fixture
def store(tmp_path):
    return ExperimentStore(open_database(f"sqlite:///{tmp_path / 'exp.db'}"))


def feed(store, exp, n, seed, prefix, audience=None, arms=None):
    arms = arms or store.arms(exp)
    audience = audience or Audience(500, base_ctr=0.03, seed=1)
    allocation = store.status(exp).allocation
    return store.ingest(exp, audience.events(exp, arms, allocation, n, rng=np.random.default_rng(seed), id_prefix=prefix))


def test_a_round_closes_the_open_bucket_and_stores_decision_allocation_and_per_creative_statistics(store):
    arms = make_creatives(4, seed=0)
    exp = store.create_experiment("r", arms, "thompson")
    report = feed(store, exp, 4000, 1, "a", arms=arms)
    result = run_round(store.engine, exp)
    assert result.round_no == 1
    assert result.impressions == report.impressions and result.clicks == report.clicks
    assert result.decision.kind == "continue"
    assert result.decision.evidence["rule"] == "sequential"
    assert sum(result.allocation_next.values()) == pytest.approx(1.0)
    assert {a.creative_id for a in result.arms} == {a.id for a in arms}
    for a in result.arms:
        assert a.ci_low <= a.mean <= a.ci_high
        assert a.share_used == pytest.approx(0.25)
    stored = load_round(store.engine, exp, 1)
    assert stored.decision == result.decision and stored.allocation_next == result.allocation_next
    status = store.status(exp)
    assert status.current_round == 2 and status.allocation == result.allocation_next


def test_running_a_round_twice_never_counts_an_event_twice(store):
    exp = store.create_experiment("r", make_creatives(3, seed=0), "fixed")
    report = feed(store, exp, 3000, 1, "a")
    first = run_round(store.engine, exp)
    second = run_round(store.engine, exp)
    assert second.impressions == 0
    assert [a.impressions for a in second.arms] == [a.impressions for a in first.arms]
    again = feed(store, exp, 3000, 1, "a")  # the same events delivered again
    assert again.accepted == 0 and again.duplicates == report.accepted
    third = run_round(store.engine, exp)
    assert sum(a.impressions for a in third.arms) == report.impressions


def test_a_retried_round_with_its_number_returns_the_stored_result(store):
    exp = store.create_experiment("r", make_creatives(3, seed=0), "fixed")
    feed(store, exp, 1000, 1, "a")
    first = run_round(store.engine, exp, expected_round=1)
    retry = run_round(store.engine, exp, expected_round=1)
    assert retry.replayed and retry.round_no == 1 and retry.decision == first.decision
    assert store.status(exp).current_round == 2
    with pytest.raises(RoundNotFound, match="not open yet"):
        run_round(store.engine, exp, expected_round=5)


def test_a_second_round_while_one_holds_the_lock_fails_cleanly(store):
    exp = store.create_experiment("r", make_creatives(3, seed=0), "fixed")
    _acquire(store.engine, exp, "other-worker", 0, 600)
    with pytest.raises(RoundInProgress, match="already running.*--wait"):
        run_round(store.engine, exp)
    assert store.status(exp).current_round == 1
    _release(store.engine, exp, "other-worker")
    assert run_round(store.engine, exp).round_no == 1


def test_a_second_round_with_wait_runs_after_the_first_releases(store):
    exp = store.create_experiment("r", make_creatives(3, seed=0), "fixed")
    _acquire(store.engine, exp, "other-worker", 0, 600)
    timer = threading.Timer(0.3, _release, args=(store.engine, exp, "other-worker"))
    timer.start()
    try:
        assert run_round(store.engine, exp, wait=30).round_no == 1
    finally:
        timer.join()


def test_a_stale_lock_left_by_a_crashed_round_is_taken_over(store):
    exp = store.create_experiment("r", make_creatives(3, seed=0), "fixed")
    _acquire(store.engine, exp, "crashed-worker", 0, 600)
    assert run_round(store.engine, exp, stale_after=0).round_no == 1


def test_concurrent_rounds_and_ingestion_keep_every_event_exactly_once(store):
    exp = store.create_experiment("r", make_creatives(4, seed=0), "fixed")
    arms = store.arms(exp)
    audience = Audience(300, base_ctr=0.03, seed=2)
    batches = [list(audience.events(exp, arms, {a.id: 0.25 for a in arms}, 400, rng=np.random.default_rng(s), id_prefix=f"b{s}-")) for s in range(6)]
    results, errors, reports = [], [], []
    start = threading.Barrier(4)

    def rounds():
        start.wait()
        for _ in range(3):
            try:
                results.append(run_round(store.engine, exp, wait=30))
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    def ingest(part):
        start.wait()
        for batch in part:
            reports.append(store.ingest(exp, batch))

    threads = [threading.Thread(target=rounds), threading.Thread(target=rounds),
               threading.Thread(target=ingest, args=(batches[:3],)), threading.Thread(target=ingest, args=(batches[3:],))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert sorted(r.round_no for r in results) == list(range(1, 7))
    final = run_round(store.engine, exp)
    accepted = sum(r.impressions for r in reports)
    assert sum(a.impressions for a in final.arms) == accepted
    assert sum(r.impressions for r in results) + final.impressions == accepted


def test_a_clearly_better_creative_is_promoted_and_the_experiment_concludes(store):
    arms = make_creatives(3, seed=0)
    exp = store.create_experiment("r", arms, "top-two", config={"min_impressions_per_arm": 100})
    audience = Audience(2000, base_ctr=0.02, preference_share=0.0, seed=4,
                        element_effects={(k, arms[1].attributes[k]): 0.0 for k in arms[1].attributes} | {("template", arms[1].attributes["template"]): 1.2})
    truth = audience.true_ctr(arms)
    best = max(truth, key=truth.get)
    for r in range(1, 30):
        feed(store, exp, 6000, r, f"r{r}-", audience=audience, arms=arms)
        result = run_round(store.engine, exp)
        if result.decision.kind == "promote":
            break
    assert result.decision.kind == "promote" and result.decision.winner == best
    status = store.status(exp)
    assert status.status == "promoted" and status.winner == best
    assert status.allocation[best] == 1.0
    assert {a.creative_id: a.state for a in status.arms}[best] == "winner"
    with pytest.raises(ExperimentConcluded, match="concluded with 'promote'"):
        run_round(store.engine, exp)


def test_the_round_limit_without_enough_evidence_names_no_winner_and_keeps_the_allocation(store):
    exp = store.create_experiment("r", make_creatives(3, seed=0), "fixed", config={"max_rounds": 1})
    feed(store, exp, 150, 1, "a")
    result = run_round(store.engine, exp)
    assert result.decision.kind == "stop" and result.decision.winner is None
    assert "no winner" in result.decision.reason and "keep the current allocation" in result.decision.reason
    status = store.status(exp)
    assert status.status == "stopped" and status.winner is None
    assert status.allocation == pytest.approx({a.creative_id: 1 / 3 for a in result.arms})


def decide_round(counts, round_no=5, round_impressions=100, **config):
    """evaluate_round over arms given as (impressions, clicks), each with `round_impressions` new this round."""
    arms = [ArmSnapshot(f"c{i}", ArmState.ACTIVE, n, c, min(n, round_impressions)) for i, (n, c) in enumerate(counts)]
    shares = {a.creative_id: 1 / len(arms) for a in arms}
    srm = srm_check([a.round_impressions for a in arms], list(shares.values()))
    return evaluate_round(arms, round_no, ExperimentConfig(**config), make_policy("thompson"), shares, srm=srm)


def test_the_round_limit_promotes_only_a_leader_the_rule_separates_from_every_other_arm():
    separated = decide_round([(20_000, 500), (20_000, 300)], round_no=30, max_rounds=30)
    assert separated.decision.kind == "promote" and separated.decision.winner == "c0"
    likely = decide_round([(4000, 100), (4000, 80)], round_no=30, max_rounds=30)
    assert likely.decision.confidence >= 0.9  # likely better, but a last-look crowning would be a peek
    assert likely.decision.kind == "stop" and likely.decision.winner is None and likely.decision.best == "c0"
    assert "not separated from 1 of 1" in likely.decision.reason


def test_an_arm_with_no_data_is_not_crowned_at_the_round_limit():
    out = decide_round([(30, 0), (5000, 125), (5000, 125), (5000, 125)], round_no=30, round_impressions=0, max_rounds=30)
    assert out.decision.kind == "stop" and out.decision.winner is None
    out = decide_round([(30, 0), (5000, 125), (5000, 125), (5000, 125)], round_no=30, round_impressions=10, max_rounds=30)
    assert out.decision.kind == "stop" and out.decision.winner is None
    assert out.decision.best != "c0"  # 0/30 has the highest posterior mean (1/32) but not the evidence to lead
    assert out.allocation_next == pytest.approx({"c0": 0.25, "c1": 0.25, "c2": 0.25, "c3": 0.25})


def test_an_arm_starved_to_a_few_clicks_is_not_retired_before_it_has_the_minimum_evidence():
    # the pooled CTR is 126/5300, so 10 expected clicks take 421 impressions (more than min_impressions_per_arm=200)
    starved = decide_round([(5000, 125), (300, 1)])
    assert starved.decision.kind == "continue"
    assert starved.decision.evidence["min_impressions"] == math.ceil(10 * 5300 / 126) == 421
    assert decide_round([(20_000, 500), (3000, 30)]).decision.kind == "promote"


def test_an_empty_round_after_a_sample_ratio_alarm_decides_nothing():
    clear = [(20_000, 500), (20_000, 300), (20_000, 480)]
    assert decide_round(clear).decision.kind == "retire"
    after_alarm = decide_round(clear, round_impressions=0)  # same counts, nothing new: the alarm's hold is not lifted
    assert after_alarm.decision.kind == "continue" and after_alarm.decision.retired == ()
    assert "no new impressions" in after_alarm.decision.reason


def test_the_bayesian_rule_unsafe_under_repeated_looks_is_refused():
    with pytest.raises(InvalidExperiment, match="choose one of sequential, naive"):
        ExperimentConfig(rule="bayesian")


def test_traffic_that_does_not_follow_the_allocation_raises_the_srm_alarm_and_blocks_decisions(store):
    arms = make_creatives(2, seed=0)
    exp = store.create_experiment("r", arms, "fixed", config={"min_impressions_per_arm": 10})
    audience = Audience(500, base_ctr=0.03, seed=1)
    skewed = {arms[0].id: 0.8, arms[1].id: 0.2}
    store.ingest(exp, audience.events(exp, arms, skewed, 5000, rng=np.random.default_rng(0)))
    result = run_round(store.engine, exp)
    assert result.srm.alarm and result.srm.p_value < 0.001
    assert result.decision.kind == "continue" and "sample ratio mismatch" in result.decision.reason
    with store.engine.connect() as conn:
        assert conn.execute(select(t.rounds.c.srm_alarm).where(t.rounds.c.experiment_id == exp)).scalar_one()


def test_arms_added_mid_experiment_get_traffic_from_the_next_allocation(store):
    exp = store.create_experiment("r", make_creatives(2, seed=0), "fixed")
    feed(store, exp, 500, 1, "a")
    run_round(store.engine, exp)
    added = store.add_arms(exp, make_creatives(1, seed=5, prefix="new"))
    status = store.status(exp)
    assert status.allocation[added[0]] == pytest.approx(1 / 3)
    assert sum(status.allocation.values()) == pytest.approx(1.0)
    feed(store, exp, 600, 2, "b")
    result = run_round(store.engine, exp)
    assert {a.creative_id for a in result.arms} >= set(added)
    assert len(round_history(store.engine, exp)) == 2
