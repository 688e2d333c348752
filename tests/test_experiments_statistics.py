"""Each statistics module checked against an independent reference: scipy, statsmodels or a closed form."""

import math

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import betaln

from experiments.stats.bayesian import BayesianConfig, BetaPrior, compare, posterior
from experiments.stats.frequentist import holm, two_proportion_test, z_pvalues
from experiments.stats.proportion import ProportionStatistic
from experiments.stats.sequential import SequentialConfig, msprt, msprt_arrays
from experiments.stats.srm import srm_check

statsmodels = pytest.importorskip("statsmodels")
from statsmodels.stats.multitest import multipletests  # noqa: E402
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest  # noqa: E402


def test_beta_posterior_and_credible_interval_match_scipy():
    post = posterior(ProportionStatistic(1000, 23), BetaPrior(1, 1))
    assert (post.alpha, post.beta) == (24, 978)
    low, high = stats.beta.ppf([0.025, 0.975], 24, 978)
    assert post.ci_low == pytest.approx(low, rel=1e-9)
    assert post.ci_high == pytest.approx(high, rel=1e-9)
    assert post.mean == pytest.approx(stats.beta.mean(24, 978))


def _p_b_beats_a(a1, b1, a2, b2):
    """Closed form P(X_B > X_A) for Beta posteriors (Evan Miller), integer a2."""
    return sum(math.exp(betaln(a1 + i, b1 + b2) - math.log(b2 + i) - betaln(1 + i, b2) - betaln(a1, b1)) for i in range(int(a2)))


def test_probability_of_being_best_matches_closed_form_for_two_arms():
    a, b = ProportionStatistic(2000, 40), ProportionStatistic(2000, 55)
    result = compare([a, b], BayesianConfig(draws=200_000, seed=1))
    exact = _p_b_beats_a(41, 1961, 56, 1946)
    assert result.p_best[1] == pytest.approx(exact, abs=0.005)
    assert sum(result.p_best) == pytest.approx(1.0)


def test_expected_loss_matches_numerical_integration():
    a, b = ProportionStatistic(500, 10), ProportionStatistic(500, 14)
    result = compare([a, b], BayesianConfig(draws=400_000, seed=2))
    pa, pb = stats.beta(11, 491), stats.beta(15, 487)
    # loss of choosing A = E[max(pB - pA, 0)]
    inner = lambda x: pa.pdf(x) * integrate.quad(lambda y: (y - x) * pb.pdf(y), x, 1, limit=200)[0]
    exact, _ = integrate.quad(inner, 0, 0.2, limit=200)
    assert result.expected_loss[0] == pytest.approx(exact, rel=0.03)


def test_monte_carlo_is_reproducible_with_a_seed():
    arms = [ProportionStatistic(100, 3), ProportionStatistic(100, 4), ProportionStatistic(100, 5)]
    assert compare(arms, BayesianConfig(seed=7)) == compare(arms, BayesianConfig(seed=7))


def test_two_proportion_test_matches_statsmodels():
    control, treatment = ProportionStatistic(5000, 100), ProportionStatistic(4800, 130)
    res = two_proportion_test(control, treatment)
    z, p = proportions_ztest([130, 100], [4800, 5000])
    assert res.z == pytest.approx(z, rel=1e-9)
    assert res.p_value == pytest.approx(p, rel=1e-9)
    low, high = confint_proportions_2indep(130, 4800, 100, 5000, method="wald", compare="diff")
    assert (res.ci_low, res.ci_high) == (pytest.approx(low, rel=1e-9), pytest.approx(high, rel=1e-9))
    vec = z_pvalues(treatment, [control])
    assert vec[0] == pytest.approx(p, rel=1e-9)


def test_holm_matches_statsmodels():
    p = [0.01, 0.04, 0.03, 0.005, 0.2, 0.04]
    _, ref, _, _ = multipletests(p, method="holm")
    np.testing.assert_allclose(holm(p), ref)


def test_msprt_likelihood_ratio_equals_the_mixture_integral():
    control, treatment = ProportionStatistic(20_000, 400), ProportionStatistic(20_000, 470)
    cfg = SequentialConfig(tau=0.004)
    res = msprt(control, treatment, cfg)
    diff = 470 / 20_000 - 400 / 20_000
    pooled = 870 / 40_000  # the variance of the difference under the null, from both arms' clicks
    var = pooled * (1 - pooled) * (1 / 20_000 + 1 / 20_000)
    ratio = lambda th: stats.norm.pdf(diff, th, math.sqrt(var)) / stats.norm.pdf(diff, 0, math.sqrt(var)) * stats.norm.pdf(th, 0, 0.004)
    integral, _ = integrate.quad(ratio, -0.05, 0.05, points=[0, diff], limit=400)
    assert res.log_lr == pytest.approx(math.log(integral), rel=1e-6)
    assert res.p_value == pytest.approx(min(1.0, 1 / integral), rel=1e-6)


def test_msprt_confidence_sequence_excludes_zero_exactly_when_p_is_below_alpha():
    n = np.full(200, 10_000)
    rng = np.random.default_rng(0)
    c_t, c_c = rng.binomial(n, 0.022), rng.binomial(n, 0.02)
    _, _, p, low, high, _ = msprt_arrays(n, c_t, n, c_c, SequentialConfig(alpha=0.05))
    assert np.array_equal(p <= 0.05, (low > 0) | (high < 0))


def test_msprt_variance_is_pooled_so_a_starved_arm_with_no_clicks_is_not_significantly_worse():
    leader, starved = ProportionStatistic(5000, 125), ProportionStatistic(30, 0)
    res = msprt(starved, leader, SequentialConfig(alpha=0.05))
    pooled = 125 / 5030
    v, tau2 = pooled * (1 - pooled) * (1 / 5000 + 1 / 30), (0.2 * pooled) ** 2
    assert res.log_lr == pytest.approx(0.5 * math.log(v / (v + tau2)) + tau2 * 0.025**2 / (2 * v * (v + tau2)), rel=1e-9)
    assert res.p_value == 1.0  # with the starved arm's own variance (0) it would be z = 11 and "significant"


def test_msprt_confidence_sequence_stays_inside_the_range_of_a_ctr_difference():
    _, _, _, low, high, _ = msprt_arrays([3, 10], [3, 0], [2, 10], [0, 10], SequentialConfig(alpha=0.01))
    assert np.all(low >= -1.0) and np.all(high <= 1.0)
    assert low[0] == -1.0 or high[0] == 1.0  # unclipped, 3/3 against 0/2 would span more than [-1, 1]


def test_msprt_stays_valid_under_continuous_peeking_where_a_z_test_does_not():
    rng = np.random.default_rng(3)
    runs, looks, batch = 400, 100, 2_000
    n_t = rng.binomial(batch, 0.02, size=(runs, looks)).cumsum(axis=1)
    n_c = rng.binomial(batch, 0.02, size=(runs, looks)).cumsum(axis=1)
    n = np.arange(1, looks + 1) * batch
    _, _, p, _, _, _ = msprt_arrays(np.broadcast_to(n, n_t.shape), n_t, np.broadcast_to(n, n_c.shape), n_c, SequentialConfig())
    seq_fp = (p <= 0.05).any(axis=1).mean()
    pooled = (n_t + n_c) / (2 * n)
    z = (n_t - n_c) / n / np.sqrt(pooled * (1 - pooled) * 2 / n)
    naive_fp = (2 * stats.norm.sf(np.abs(z)) <= 0.05).any(axis=1).mean()
    assert seq_fp <= 0.05
    assert naive_fp > 0.2


def test_srm_check_matches_scipy_chisquare_and_alarms_below_one_in_a_thousand():
    observed, shares = [5200, 4800], [0.5, 0.5]
    res = srm_check(observed, shares)
    ref = stats.chisquare(observed, [5000, 5000])
    assert res.chi2 == pytest.approx(ref.statistic)
    assert res.p_value == pytest.approx(ref.pvalue)
    assert res.alarm  # p = 6e-5
    assert not srm_check([5050, 4950], shares).alarm


def test_srm_check_uses_the_allocation_actually_set_not_an_equal_split():
    assert not srm_check([7000, 3000], [0.7, 0.3]).alarm
    assert srm_check([7000, 3000], [0.5, 0.5]).alarm


def test_impressions_on_an_arm_with_zero_share_raise_the_srm_alarm():
    assert srm_check([100, 100, 5], [0.5, 0.5, 0.0]).alarm


def test_proportion_statistic_refuses_more_clicks_than_impressions():
    with pytest.raises(ValueError, match="clicks <= n"):
        ProportionStatistic(10, 11)
