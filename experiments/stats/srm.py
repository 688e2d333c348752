"""Sample-ratio mismatch: do observed impressions follow the allocation that was actually set?

A mismatch means the serving or the logging is broken, and no CTR comparison can be trusted.
Impressions are compared with the allocation in force when they were served: a round's counts come in
strata (one per placement and round of service), each a multinomial draw from its own shares, so the
test is the sum of the strata's Pearson statistics on the sum of their degrees of freedom.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from scipy import special

SRM_ALARM_P = 0.001


@dataclass(frozen=True)
class SRMResult:
    chi2: float
    p_value: float
    alarm: bool
    dof: int


@dataclass(frozen=True)
class SRMStratum:
    """Impressions served under one allocation: observed counts and the shares then in force, per arm."""

    observed: Sequence[int]
    shares: Sequence[float]


NO_DATA = SRMResult(0.0, 1.0, False, 0)


def srm_check(observed: Sequence[int], shares: Sequence[float], alarm_p: float = SRM_ALARM_P) -> SRMResult:
    """Pearson chi-square of observed impressions against `shares` (renormalised over arms with share > 0).

    Impressions on an arm that had share 0 are an alarm by themselves (p = 0).
    """
    return srm_stratified([SRMStratum(observed, shares)], alarm_p)


def srm_stratified(strata: Iterable[SRMStratum], alarm_p: float = SRM_ALARM_P) -> SRMResult:
    """One test over independent strata: chi-squares and degrees of freedom add up.

    A stratum with no impressions or fewer than two live arms says nothing; impressions on an arm whose
    share was 0 in its stratum are an alarm by themselves (p = 0)."""
    chi2, dof = 0.0, 0
    for stratum in strata:
        obs = np.asarray(stratum.observed, dtype=float)
        exp_share = np.asarray(stratum.shares, dtype=float)
        total = obs.sum()
        if total <= 0:
            continue
        live = exp_share > 0
        if np.any(obs[~live] > 0):
            return SRMResult(float("inf"), 0.0, True, dof + max(0, int(live.sum()) - 1))
        obs, exp_share = obs[live], exp_share[live] / exp_share[live].sum()
        if obs.size < 2:
            continue
        expected = total * exp_share
        chi2 += float(((obs - expected) ** 2 / expected).sum())
        dof += obs.size - 1
    if dof == 0:
        return NO_DATA
    p = float(special.chdtrc(dof, chi2))  # chi-square survival function, without scipy.stats' per-call overhead
    return SRMResult(chi2, p, p < alarm_p, dof)
