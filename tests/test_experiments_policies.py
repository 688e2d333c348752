"""Allocation policies share one interface, validate their parameters when built, and keep exploring."""

import numpy as np
import pytest
from scipy import stats

from experiments.errors import InvalidAllocation
from experiments.model import ArmSnapshot
from experiments.policies import FixedSplit, ThompsonSampling, TopTwoThompson, make_policy, validate_shares
from experiments.stats.bayesian import BetaPrior


def arms(*counts, states=None):
    return [ArmSnapshot(f"c{i}", (states or {}).get(f"c{i}", "active"), n, c) for i, (n, c) in enumerate(counts)]


@pytest.mark.parametrize("name", ["fixed", "thompson", "top-two"])
def test_every_policy_returns_shares_over_all_arms_summing_to_one(name):
    shares = make_policy(name).allocate(arms((1000, 20), (1000, 30), (1000, 25)), np.random.default_rng(0))
    assert set(shares) == {"c0", "c1", "c2"}
    assert sum(shares.values()) == pytest.approx(1.0)


def test_fixed_split_keeps_the_given_shares_and_renormalises_over_active_arms():
    policy = FixedSplit({"c0": 0.5, "c1": 0.3, "c2": 0.2})
    shares = policy.allocate(arms((10, 1), (10, 1), (10, 1), states={"c2": "retired"}), np.random.default_rng(0))
    assert shares == pytest.approx({"c0": 0.625, "c1": 0.375, "c2": 0.0})


def test_thompson_moves_traffic_to_the_better_arm_but_keeps_the_exploration_floor():
    shares = ThompsonSampling(min_exploration=0.1).allocate(arms((20_000, 400), (20_000, 600)), np.random.default_rng(0))
    assert shares["c1"] > 0.9
    assert shares["c0"] >= 0.1 / 2 - 1e-12


def test_top_two_gives_the_challenger_far_more_than_thompson_does():
    data = arms((20_000, 400), (20_000, 460), (20_000, 300))
    ts = ThompsonSampling(min_exploration=0.0).allocate(data, np.random.default_rng(1))
    tt = TopTwoThompson(beta=0.5, min_exploration=0.0).allocate(data, np.random.default_rng(1))
    assert tt["c1"] == pytest.approx(0.5, abs=0.03)  # the leader gets about beta
    assert tt["c0"] > 0.4 and tt["c0"] > 5 * ts["c0"]


def test_thompson_allocates_with_the_experiments_prior():
    # a strong prior at CTR 5% outweighs 0/20 against 1/20: the arms look alike, so shares stay near even
    data = arms((20, 0), (20, 1))
    flat = ThompsonSampling(min_exploration=0.0, draws=20_000).allocate(data, np.random.default_rng(0))
    strong = ThompsonSampling(min_exploration=0.0, draws=20_000).allocate(data, np.random.default_rng(0), BetaPrior(50, 950))
    assert flat["c1"] > 0.7
    assert strong["c1"] == pytest.approx(0.5, abs=0.05)
    exact = stats.beta(51, 969).expect(lambda x: stats.beta(50, 970).cdf(x))  # P(c1 > c0) under the strong prior
    assert strong["c1"] == pytest.approx(exact, abs=0.01)


def test_retired_arms_get_no_traffic():
    shares = ThompsonSampling().allocate(arms((100, 1), (100, 2), states={"c0": "retired"}), np.random.default_rng(0))
    assert shares == {"c0": 0.0, "c1": 1.0}


@pytest.mark.parametrize("build", [
    lambda: ThompsonSampling(min_exploration=1.0),
    lambda: ThompsonSampling(min_exploration=-0.1),
    lambda: TopTwoThompson(beta=1.0),
    lambda: TopTwoThompson(beta=0),
    lambda: ThompsonSampling(draws=10),
    lambda: make_policy("epsilon-greedy"),
    lambda: make_policy("fixed", shares={"a": 0.6, "b": 0.6}),
    lambda: make_policy("thompson", colour="red"),
])
def test_bad_policy_parameters_fail_when_the_policy_is_built(build):
    with pytest.raises(InvalidAllocation):
        build()


def test_shares_that_do_not_sum_to_one_are_refused_with_the_sum_in_the_message():
    with pytest.raises(InvalidAllocation, match="sum to 0.900000"):
        validate_shares({"a": 0.5, "b": 0.4})
    with pytest.raises(InvalidAllocation, match="between 0 and 1"):
        validate_shares({"a": 1.5, "b": -0.5})
    with pytest.raises(InvalidAllocation, match="not arms"):
        validate_shares({"a": 0.5, "z": 0.5}, ["a", "b"])
