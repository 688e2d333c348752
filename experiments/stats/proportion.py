"""The sufficient statistic of a click-through rate."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProportionStatistic:
    """`clicks` successes out of `n` impressions."""

    n: int
    clicks: int

    def __post_init__(self) -> None:
        if self.n < 0 or self.clicks < 0 or self.clicks > self.n:
            raise ValueError(f"a proportion needs 0 <= clicks <= n, got clicks={self.clicks}, n={self.n}")

    @property
    def mean(self) -> float:
        return self.clicks / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """Bernoulli variance p(1-p) of one impression."""
        p = self.mean
        return p * (1.0 - p)

    def __add__(self, other: "ProportionStatistic") -> "ProportionStatistic":
        return ProportionStatistic(self.n + other.n, self.clicks + other.clicks)
