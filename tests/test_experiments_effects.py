"""Element effects: a penalised logistic regression checked against statsmodels, and next-batch proposals."""

import numpy as np
import pytest
from scipy import optimize, special

from experiments.effects import EffectsConfig, attribute_space, build_design, fit_effects, fit_logistic, propose_combinations
from experiments.simulator import Audience, make_creatives

sm = pytest.importorskip("statsmodels.api")


def simulated(seed=0, n=40, impressions=20_000):
    arms = make_creatives(n, seed=seed)
    audience = Audience(10, base_ctr=0.02, preference_share=0.0, propensity_sd=0.0, seed=seed)
    rng = np.random.default_rng(seed)
    counts = {}
    for a in arms:
        clicks = int(rng.binomial(impressions, audience.base_ctr_of(a)))
        counts[a.id] = (impressions, clicks)
    return arms, counts, audience


def test_unpenalised_fit_matches_statsmodels_binomial_glm():
    arms, counts, _ = simulated()
    design = build_design(arms, [counts[a.id][0] for a in arms])
    X = design.matrix([a.attributes for a in arms])
    n = np.array([counts[a.id][0] for a in arms], float)
    c = np.array([counts[a.id][1] for a in arms], float)
    coef, cov, ok = fit_logistic(X, c, n, l2=0.0)
    ref = sm.GLM(np.column_stack([c, n - c]), X, family=sm.families.Binomial()).fit()
    assert ok
    np.testing.assert_allclose(coef, ref.params, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), ref.bse, rtol=1e-4)


def test_penalised_fit_is_the_minimum_of_its_objective():
    arms, counts, _ = simulated(seed=1, n=12, impressions=2000)
    design = build_design(arms)
    X = design.matrix([a.attributes for a in arms])
    n = np.array([counts[a.id][0] for a in arms], float)
    c = np.array([counts[a.id][1] for a in arms], float)
    coef, _, _ = fit_logistic(X, c, n, l2=5.0)
    pen = np.r_[0.0, np.full(X.shape[1] - 1, 5.0)]
    objective = lambda b: -(c @ (X @ b) - n @ np.logaddexp(0, X @ b)) + 0.5 * (pen * b * b).sum()
    ref = optimize.minimize(objective, np.zeros(X.shape[1]), method="BFGS", options={"gtol": 1e-9})
    np.testing.assert_allclose(coef, ref.x, atol=1e-4)
    assert np.abs(coef[1:]).sum() < np.abs(fit_logistic(X, c, n, l2=0.0)[0][1:]).sum()


def test_effects_tell_which_elements_win_with_intervals():
    arms, counts, audience = simulated(seed=2, n=60, impressions=40_000)
    result = fit_effects(arms, counts, EffectsConfig(l2=1.0))
    by_key = {(e.attribute, e.value): e for e in result.effects}
    has_model = by_key[("has_model", True)] if ("has_model", True) in by_key else None
    if has_model is None:  # baseline was True: the effect of False is the negative one
        no_model = by_key[("has_model", False)]
        assert no_model.ci_high < 0
    else:
        assert has_model.ci_low > 0
    assert abs(result.intercept - special.logit(0.02)) < 1.0
    for e in result.effects:
        assert e.ci_low <= e.coef <= e.ci_high
    assert result.ranked()[0].coef >= result.ranked()[-1].coef


def test_proposals_start_with_the_best_predicted_combination_and_skip_tested_ones():
    arms, counts, audience = simulated(seed=3, n=60, impressions=40_000)
    result = fit_effects(arms, counts)
    space = attribute_space(arms)
    proposals = propose_combinations(result, space, n=6, seed=0, exclude=[a.attributes for a in arms])
    assert len(proposals) == 6
    keys = [tuple(sorted((k, str(v)) for k, v in p.attributes.items())) for p in proposals]
    assert len(set(keys)) == 6
    tested = {tuple(sorted((k, str(v)) for k, v in a.attributes.items())) for a in arms}
    assert not set(keys) & tested
    assert proposals[0].predicted_ctr == max(p.predicted_ctr for p in proposals)
    assert proposals[0].attributes["has_model"] is True
    for p in proposals:
        assert p.ci_low <= p.predicted_ctr <= p.ci_high
