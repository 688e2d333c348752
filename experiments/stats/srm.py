"""Sample-ratio mismatch: do observed impressions follow the allocation that was actually set?

A mismatch means the serving or the logging is broken, and no CTR comparison can be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import special

SRM_ALARM_P = 0.001


@dataclass(frozen=True)
class SRMResult:
    chi2: float
    p_value: float
    alarm: bool
    dof: int


def srm_check(observed: Sequence[int], shares: Sequence[float], alarm_p: float = SRM_ALARM_P) -> SRMResult:
    """Pearson chi-square of observed impressions against `shares` (renormalised over arms with share > 0).

    Impressions on an arm that had share 0 are an alarm by themselves (p = 0).
    """
    obs = np.asarray(observed, dtype=float)
    exp_share = np.asarray(shares, dtype=float)
    total = obs.sum()
    if total <= 0:
        return SRMResult(0.0, 1.0, False, 0)
    live = exp_share > 0
    if np.any(obs[~live] > 0):
        return SRMResult(float("inf"), 0.0, True, int(live.sum()) - 1)
    obs, exp_share = obs[live], exp_share[live] / exp_share[live].sum()
    if obs.size < 2:
        return SRMResult(0.0, 1.0, False, 0)
    expected = total * exp_share
    chi2 = float(((obs - expected) ** 2 / expected).sum())
    dof = obs.size - 1
    p = float(special.chdtrc(dof, chi2))  # chi-square survival function, without scipy.stats' per-call overhead
    return SRMResult(chi2, p, p < alarm_p, dof)
