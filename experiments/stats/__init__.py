"""Statistics of click-through rates: small dataclasses in, result dataclasses out, no I/O.

- `proportion`: `ProportionStatistic(n, clicks)`, the sufficient statistic every test takes.
- `bayesian`: Beta-Binomial posteriors, credible intervals, P(best) and expected loss.
- `frequentist`: two-proportion z-tests with confidence intervals, Holm correction.
- `sequential`: mSPRT (always-valid p-values and confidence sequences), the default decision rule.
- `srm`: sample-ratio-mismatch chi-square check.
"""

from experiments.stats.proportion import ProportionStatistic

__all__ = ["ProportionStatistic"]
