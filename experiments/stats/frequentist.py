"""Fixed-horizon two-proportion z-tests with confidence intervals, and Holm's step-down correction.

Valid for one look only: the sequential module is what decisions use when a scheduler looks every round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import special
from scipy import stats as st

from experiments.stats.proportion import ProportionStatistic


@dataclass(frozen=True)
class FrequentistConfig:
    alpha: float = 0.05


@dataclass(frozen=True)
class TwoProportionResult:
    """Treatment minus control."""

    diff: float
    z: float
    p_value: float
    ci_low: float
    ci_high: float


def two_proportion_test(control: ProportionStatistic, treatment: ProportionStatistic, config: FrequentistConfig = FrequentistConfig()) -> TwoProportionResult:
    """Pooled-variance z statistic (as statsmodels' proportions_ztest) and an unpooled Wald interval."""
    diff = treatment.mean - control.mean
    if control.n == 0 or treatment.n == 0:
        return TwoProportionResult(diff, 0.0, 1.0, -1.0, 1.0)
    pooled = (control.clicks + treatment.clicks) / (control.n + treatment.n)
    se_pooled = np.sqrt(pooled * (1 - pooled) * (1 / control.n + 1 / treatment.n))
    z = diff / se_pooled if se_pooled > 0 else 0.0
    p = 2.0 * st.norm.sf(abs(z))
    se = np.sqrt(control.variance / control.n + treatment.variance / treatment.n)
    q = st.norm.ppf(1 - config.alpha / 2)
    return TwoProportionResult(float(diff), float(z), float(p), float(diff - q * se), float(diff + q * se))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values (step-down, monotone, capped at 1), in input order."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def z_pvalues(best: ProportionStatistic, others: Sequence[ProportionStatistic]) -> np.ndarray:
    """Vectorised two-sided pooled z-test p-values of `best` against each of `others`."""
    n = np.array([o.n for o in others], dtype=float)
    c = np.array([o.clicks for o in others], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (c + best.clicks) / (n + best.n)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n + 1 / max(best.n, 1)))
        z = np.where(se > 0, (best.mean - c / np.maximum(n, 1)) / se, 0.0)
    p = 2.0 * special.ndtr(-np.abs(z))
    return np.where((n > 0) & (best.n > 0), p, 1.0)
