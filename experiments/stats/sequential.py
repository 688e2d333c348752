"""Mixture sequential probability ratio test (mSPRT) for a difference of two CTRs.

Johari, Koomen, Pekelis & Walsh (2017), "Peeking at A/B tests": with the normal approximation
Δ̂ ~ N(Δ, V) and a mixing prior Δ ~ N(0, τ²) under the alternative, the likelihood ratio

    Λ = sqrt(V / (V + τ²)) · exp(τ² Δ̂² / (2 V (V + τ²)))

is a martingale under Δ = 0, so p = min(1, 1/Λ) is an always-valid p-value: however often one looks,
P(p ever <= α) <= α. Inverting it gives a confidence sequence for Δ.

Variance: V = p̄(1 − p̄)(1/n_t + 1/n_c) with p̄ the pooled CTR of the pair, the variance of Δ̂ under the
null the test guards. Per-arm variances p_k(1 − p_k)/n_k would let an arm that adaptive allocation starved to
0–2 clicks collapse its own variance and look "significantly" worse; the pooled one cannot.
The interval is clipped to [−1, 1], the range of a CTR difference.

Tuning parameter τ (``tau``): the standard deviation of the effect sizes the test is tuned to detect,
on the absolute CTR-difference scale. The test is most powerful for |Δ| near τ; a τ far too small or too
large wastes samples but never breaks validity. By default τ = ``tau_relative`` × pooled CTR
(20 % relative lift), a plug-in that tracks the metric's scale; pass ``tau`` to fix it absolutely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from experiments.stats.proportion import ProportionStatistic


@dataclass(frozen=True)
class SequentialConfig:
    alpha: float = 0.05
    tau: float | None = None
    tau_relative: float = 0.2

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.tau is not None and self.tau <= 0:
            raise ValueError(f"tau must be > 0, got {self.tau}")
        if self.tau_relative <= 0:
            raise ValueError(f"tau_relative must be > 0, got {self.tau_relative}")


@dataclass(frozen=True)
class SequentialResult:
    """Treatment minus control; the interval is an always-valid (1 - alpha) confidence sequence."""

    diff: float
    log_lr: float
    p_value: float
    ci_low: float
    ci_high: float
    tau: float


def mixture_tau(config: SequentialConfig, pooled_rate: np.ndarray | float) -> np.ndarray:
    if config.tau is not None:
        return np.broadcast_to(np.asarray(config.tau, dtype=float), np.shape(pooled_rate)).astype(float)
    # the floor keeps τ > 0 before the first click
    return config.tau_relative * np.maximum(np.asarray(pooled_rate, dtype=float), 1e-4)


def msprt_arrays(n_t, c_t, n_c, c_c, config: SequentialConfig = SequentialConfig(), alpha: float | None = None):
    """Vectorised mSPRT: returns (diff, log_lr, p_value, ci_low, ci_high, tau) arrays, treatment minus control."""
    alpha = config.alpha if alpha is None else alpha
    n_t, c_t, n_c, c_c = (np.asarray(x, dtype=float) for x in (n_t, c_t, n_c, c_c))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_t = np.where(n_t > 0, c_t / n_t, 0.0)
        p_c = np.where(n_c > 0, c_c / n_c, 0.0)
        pooled = np.where(n_t + n_c > 0, (c_t + c_c) / np.maximum(n_t + n_c, 1), 0.0)
        var = np.where((n_t > 0) & (n_c > 0), pooled * (1 - pooled) * (1 / np.maximum(n_t, 1) + 1 / np.maximum(n_c, 1)), 0.0)
        tau = mixture_tau(config, pooled)
        tau2 = tau * tau
        diff = p_t - p_c
        ok = var > 0
        v = np.where(ok, var, 1.0)
        log_lr = np.where(ok, 0.5 * np.log(v / (v + tau2)) + tau2 * diff * diff / (2 * v * (v + tau2)), 0.0)
        p_value = np.minimum(1.0, np.exp(-log_lr))
        half = np.sqrt(v * (v + tau2) / tau2 * (2 * np.log(1 / alpha) + np.log((v + tau2) / v)))
        half = np.where(ok, half, 1.0)
    return diff, log_lr, p_value, np.maximum(diff - half, -1.0), np.minimum(diff + half, 1.0), tau


def msprt(control: ProportionStatistic, treatment: ProportionStatistic, config: SequentialConfig = SequentialConfig()) -> SequentialResult:
    """Always-valid test of treatment vs control at the current look."""
    out = msprt_arrays([treatment.n], [treatment.clicks], [control.n], [control.clicks], config)
    return SequentialResult(*(float(x[0]) for x in out))


def msprt_vs(leader: ProportionStatistic, others: Sequence[ProportionStatistic], config: SequentialConfig, alpha: float) -> tuple[np.ndarray, ...]:
    """The leader against each other arm (leader minus other), at level `alpha`."""
    n = [o.n for o in others]
    c = [o.clicks for o in others]
    k = len(others)
    return msprt_arrays([leader.n] * k, [leader.clicks] * k, n, c, config, alpha=alpha)
