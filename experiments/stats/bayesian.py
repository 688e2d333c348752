"""Beta-Binomial model of each arm's CTR: posterior, credible interval, P(best), expected loss.

P(best) and expected loss are Monte Carlo estimates with a seeded generator, so a round is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import special

from experiments.stats.proportion import ProportionStatistic

# Monte Carlo budget per call: with many arms the draw count shrinks to fit (never below 200), so a
# round over 1,000 creatives stays in milliseconds; P(best) then resolves to 1/draws.
MAX_SAMPLES = 120_000
MIN_DRAWS = 200


def draws_for(arms: int, wanted: int) -> int:
    return wanted if arms * wanted <= MAX_SAMPLES else max(MIN_DRAWS, MAX_SAMPLES // max(arms, 1))


@dataclass(frozen=True)
class BetaPrior:
    """Beta(alpha, beta) prior on a CTR; Beta(1, 1) is uniform."""

    alpha: float = 1.0
    beta: float = 1.0

    def __post_init__(self) -> None:
        if self.alpha <= 0 or self.beta <= 0:
            raise ValueError(f"Beta prior needs alpha > 0 and beta > 0, got {self.alpha}, {self.beta}")


@dataclass(frozen=True)
class BetaPosterior:
    alpha: float
    beta: float
    mean: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class BayesianConfig:
    prior: BetaPrior = BetaPrior()
    interval: float = 0.95
    draws: int = 4000
    seed: int = 0


@dataclass(frozen=True)
class BayesianResult:
    """Per arm, in input order."""

    posteriors: tuple[BetaPosterior, ...]
    p_best: tuple[float, ...]
    expected_loss: tuple[float, ...]


def posterior(stat: ProportionStatistic, prior: BetaPrior = BetaPrior(), interval: float = 0.95) -> BetaPosterior:
    """Conjugate update: Beta(alpha + clicks, beta + n - clicks) and its equal-tailed interval."""
    a = prior.alpha + stat.clicks
    b = prior.beta + stat.n - stat.clicks
    tail = (1.0 - interval) / 2.0
    low, high = special.betaincinv(a, b, [tail, 1.0 - tail])
    return BetaPosterior(alpha=a, beta=b, mean=a / (a + b), ci_low=float(low), ci_high=float(high))


def posteriors(stats: Sequence[ProportionStatistic], prior: BetaPrior = BetaPrior(), interval: float = 0.95) -> tuple[BetaPosterior, ...]:
    """`posterior` for many arms at once (one vectorised inverse incomplete beta call)."""
    a = np.array([prior.alpha + s.clicks for s in stats], dtype=float)
    b = np.array([prior.beta + s.n - s.clicks for s in stats], dtype=float)
    tail = (1.0 - interval) / 2.0
    low = special.betaincinv(a, b, tail)
    high = special.betaincinv(a, b, 1.0 - tail)
    mean = a / (a + b)
    return tuple(BetaPosterior(float(x), float(y), float(m), float(lo), float(hi)) for x, y, m, lo, hi in zip(a, b, mean, low, high))


def posterior_draws(stats: Sequence[ProportionStatistic], prior: BetaPrior, draws: int, rng: np.random.Generator) -> np.ndarray:
    """A (draws, arms) matrix of posterior samples."""
    a = np.array([prior.alpha + s.clicks for s in stats], dtype=float)
    b = np.array([prior.beta + s.n - s.clicks for s in stats], dtype=float)
    return rng.beta(a, b, size=(draws, len(stats)))


def p_best_from_draws(samples: np.ndarray) -> np.ndarray:
    """Share of draws in which each arm has the highest CTR."""
    winners = np.argmax(samples, axis=1)
    return np.bincount(winners, minlength=samples.shape[1]) / samples.shape[0]


def compare(stats: Sequence[ProportionStatistic], config: BayesianConfig = BayesianConfig()) -> BayesianResult:
    """Posteriors, probability of being best and expected loss E[max_j p_j - p_k] for every arm."""
    if not stats:
        return BayesianResult((), (), ())
    posts = posteriors(stats, config.prior, config.interval)
    samples = posterior_draws(stats, config.prior, draws_for(len(stats), config.draws), np.random.default_rng(config.seed))
    best = samples.max(axis=1, keepdims=True)
    loss = (best - samples).mean(axis=0)
    return BayesianResult(posts, tuple(float(x) for x in p_best_from_draws(samples)), tuple(float(x) for x in loss))
