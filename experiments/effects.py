"""Element effects: which attribute values drive CTR, and which combinations to try next.

A binomial logistic regression of clicks on the creatives' attributes (reference coding: each value
against the attribute's most common value) with an L2 penalty on the effects (not the intercept),
fitted by damped Newton steps; intervals from the Laplace approximation (inverse Hessian at the optimum).
Proposals draw coefficients from that Gaussian and take each draw's best unseen combination
(Thompson sampling over element combinations, as Alibaba's AutoCO does over creatives).
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy import optimize, special
from scipy import stats as st

from experiments.model import AttributeValue, CreativeArm

MAX_LEVELS = 30
MAX_CANDIDATES = 50_000


@dataclass(frozen=True)
class EffectsConfig:
    l2: float = 1.0
    interval: float = 0.95

    def __post_init__(self) -> None:
        if self.l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {self.l2}")
        if not 0 < self.interval < 1:
            raise ValueError(f"interval must be in (0, 1), got {self.interval}")


@dataclass(frozen=True)
class Column:
    attribute: str
    value: AttributeValue | None  # None: a numeric attribute, standardised
    mean: float = 0.0
    scale: float = 1.0


@dataclass(frozen=True)
class Design:
    columns: tuple[Column, ...]
    baselines: Mapping[str, AttributeValue]

    def row(self, attributes: Mapping[str, AttributeValue]) -> np.ndarray:
        x = np.empty(len(self.columns) + 1)
        x[0] = 1.0
        for j, col in enumerate(self.columns, 1):
            v = attributes.get(col.attribute)
            if col.value is None:
                x[j] = ((float(v) if isinstance(v, (int, float)) else col.mean) - col.mean) / col.scale
            else:
                x[j] = 1.0 if v == col.value else 0.0
        return x

    def matrix(self, rows: Sequence[Mapping[str, AttributeValue]]) -> np.ndarray:
        return np.vstack([self.row(r) for r in rows]) if rows else np.empty((0, len(self.columns) + 1))


@dataclass(frozen=True)
class ElementEffect:
    """Effect of `attribute = value` against `baseline`, on the log-odds scale, with its interval."""

    attribute: str
    value: AttributeValue | None
    baseline: AttributeValue | None
    coef: float
    se: float
    ci_low: float
    ci_high: float
    odds_ratio: float
    p_positive: float
    impressions: int
    clicks: int

    @property
    def ctr(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0

    @property
    def credible(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0


@dataclass(frozen=True)
class EffectsResult:
    design: Design
    coef: np.ndarray = field(repr=False)
    cov: np.ndarray = field(repr=False)
    effects: tuple[ElementEffect, ...]
    intercept: float
    l2: float
    arms: int
    impressions: int
    clicks: int
    converged: bool

    def ranked(self) -> list[ElementEffect]:
        return sorted(self.effects, key=lambda e: -e.coef)

    def to_dict(self) -> dict:
        return {"intercept": self.intercept, "l2": self.l2, "arms": self.arms, "impressions": self.impressions, "clicks": self.clicks,
                "converged": self.converged, "baselines": dict(self.design.baselines),
                "effects": [{"attribute": e.attribute, "value": e.value, "baseline": e.baseline, "coef": e.coef, "se": e.se,
                             "ci_low": e.ci_low, "ci_high": e.ci_high, "odds_ratio": e.odds_ratio, "p_positive": e.p_positive,
                             "impressions": e.impressions, "clicks": e.clicks} for e in self.ranked()]}


@dataclass(frozen=True)
class ProposedCombination:
    attributes: Mapping[str, AttributeValue]
    predicted_ctr: float
    ci_low: float
    ci_high: float
    why: str


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def build_design(arms: Sequence[CreativeArm], weights: Sequence[float] | None = None) -> Design:
    """Reference coding; the baseline of each attribute is its most exposed value."""
    weights = [1.0] * len(arms) if weights is None else list(weights)
    keys = sorted({k for a in arms for k in a.attributes})
    columns: list[Column] = []
    baselines: dict[str, AttributeValue] = {}
    for key in keys:
        values = [a.attributes.get(key) for a in arms]
        present = [v for v in values if v is not None]
        distinct = set(present)
        if len(distinct) < 2:
            continue
        if all(_is_number(v) for v in present) and len(distinct) > 2:
            arr = np.array([float(v) for v in present])
            columns.append(Column(key, None, float(arr.mean()), float(arr.std() or 1.0)))
            continue
        if len(distinct) > MAX_LEVELS:
            continue
        exposure: Counter = Counter()
        for v, w in zip(values, weights):
            if v is not None:
                exposure[v] += w + 1e-9
        base = max(sorted(distinct, key=str), key=lambda v: exposure[v])
        baselines[key] = base
        columns.extend(Column(key, v) for v in sorted(distinct - {base}, key=str))
    return Design(tuple(columns), baselines)


def fit_logistic(X: np.ndarray, clicks: np.ndarray, impressions: np.ndarray, l2: float, penalise_intercept: bool = False) -> tuple[np.ndarray, np.ndarray, bool]:
    """Penalised binomial MLE by damped Newton; returns (coef, Laplace covariance, converged)."""
    pen = np.full(X.shape[1], l2)
    if not penalise_intercept:
        pen[0] = 0.0
    c = clicks.astype(float)
    n = impressions.astype(float)

    def nll(b):
        eta = X @ b
        return float(-(c @ eta - n @ np.logaddexp(0.0, eta)) + 0.5 * (pen * b * b).sum())

    def grad(b):
        return -(X.T @ (c - n * special.expit(X @ b))) + pen * b

    def hess(b):
        p = special.expit(X @ b)
        return (X.T * (n * p * (1 - p))) @ X + np.diag(pen)

    b = np.zeros(X.shape[1])
    b[0] = special.logit(np.clip((c.sum() + 0.5) / (n.sum() + 1.0), 1e-6, 1 - 1e-6))
    converged = False
    f = nll(b)
    for _ in range(100):  # damped Newton: the objective is convex, so this converges in a few steps
        step = np.linalg.lstsq(hess(b), grad(b), rcond=None)[0]
        t = 1.0
        while t > 1e-8:
            candidate = b - t * step
            fc = nll(candidate)
            if fc <= f + 1e-12 * abs(f):
                break
            t /= 2
        b, f_old, f = candidate, f, fc
        if np.max(np.abs(t * step)) < 1e-10 or abs(f_old - f) <= 1e-13 * max(1.0, abs(f)):
            converged = True
            break
    res = optimize.OptimizeResult(x=b, success=converged)
    H = hess(res.x)
    try:
        cov = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        cov = np.linalg.pinv(H)
    return res.x, cov, bool(res.success)


def fit_effects(arms: Sequence[CreativeArm], counts: Mapping[str, tuple[int, int]], config: EffectsConfig = EffectsConfig()) -> EffectsResult:
    """Fit on per-creative (impressions, clicks): the aggregates are sufficient for a logistic model of creative attributes."""
    used = [a for a in arms if counts.get(a.id, (0, 0))[0] > 0]
    imps = np.array([counts[a.id][0] for a in used], dtype=float)
    clks = np.array([counts[a.id][1] for a in used], dtype=float)
    design = build_design(used, imps)
    X = design.matrix([a.attributes for a in used])
    if len(used) == 0:
        return EffectsResult(design, np.zeros(1), np.zeros((1, 1)), (), 0.0, config.l2, 0, 0, 0, False)
    coef, cov, ok = fit_logistic(X, clks, imps, config.l2)
    q = st.norm.ppf(0.5 + config.interval / 2)
    effects = []
    for j, col in enumerate(design.columns, 1):
        se = float(np.sqrt(max(cov[j, j], 0.0)))
        mask = X[:, j] > 0.5 if col.value is not None else np.ones(len(used), bool)
        effects.append(ElementEffect(
            attribute=col.attribute, value=col.value, baseline=design.baselines.get(col.attribute), coef=float(coef[j]), se=se,
            ci_low=float(coef[j] - q * se), ci_high=float(coef[j] + q * se), odds_ratio=float(np.exp(coef[j])),
            p_positive=float(st.norm.cdf(coef[j] / se)) if se > 0 else 0.5,
            impressions=int(imps[mask].sum()), clicks=int(clks[mask].sum())))
    return EffectsResult(design, coef, cov, tuple(effects), float(coef[0]), config.l2, len(used), int(imps.sum()), int(clks.sum()), ok)


def attribute_space(arms: Sequence[CreativeArm]) -> dict[str, tuple[AttributeValue, ...]]:
    """The categorical values seen per attribute (numeric attributes with many values are left out)."""
    space: dict[str, set] = {}
    for a in arms:
        for k, v in a.attributes.items():
            space.setdefault(k, set()).add(v)
    return {k: tuple(sorted(v, key=str)) for k, v in space.items()
            if len(v) <= MAX_LEVELS and not (all(_is_number(x) for x in v) and len(v) > 2)}


def propose_combinations(result: EffectsResult, space: Mapping[str, Sequence[AttributeValue]], n: int = 8, *, seed: int = 0,
                         exclude: Sequence[Mapping[str, AttributeValue]] = (), interval: float = 0.95) -> list[ProposedCombination]:
    """Next batch's element combinations: the best predicted one, then Thompson draws for the rest."""
    if n < 1 or not space:
        return []
    keys = list(space)
    total = int(np.prod([len(space[k]) for k in keys]))
    rng = np.random.default_rng(seed)
    if total <= MAX_CANDIDATES:
        candidates = [dict(zip(keys, vals)) for vals in itertools.product(*(space[k] for k in keys))]
    else:
        candidates = [{k: space[k][int(rng.integers(len(space[k])))] for k in keys} for _ in range(MAX_CANDIDATES)]
    seen = {tuple(sorted((k, str(v)) for k, v in c.items() if k in space)) for c in exclude}
    candidates = [c for c in candidates if tuple(sorted((k, str(v)) for k, v in c.items())) not in seen]
    if not candidates:
        return []
    X = result.design.matrix(candidates)
    eta = X @ result.coef
    var = np.einsum("ij,jk,ik->i", X, result.cov, X)
    q = st.norm.ppf(0.5 + interval / 2)
    chosen: list[int] = []
    taken: set[int] = set()
    order = np.argsort(-eta)
    chosen.append(int(order[0]))
    taken.add(int(order[0]))
    draws = 0
    while len(chosen) < min(n, len(candidates)) and draws < 50 * n:
        draws += 1
        beta = rng.multivariate_normal(result.coef, result.cov, method="cholesky") if result.cov.shape[0] > 1 else result.coef
        scores = X @ beta
        scores[list(taken)] = -np.inf
        best = int(np.argmax(scores))
        chosen.append(best)
        taken.add(best)
    out = []
    for rank, i in enumerate(chosen):
        sd = float(np.sqrt(max(var[i], 0.0)))
        why = "highest predicted CTR" if rank == 0 else "best under a posterior draw of the element effects (exploration)"
        out.append(ProposedCombination(candidates[i], float(special.expit(eta[i])), float(special.expit(eta[i] - q * sd)),
                                       float(special.expit(eta[i] + q * sd)), why))
    return out


def thompson_scorer(result: EffectsResult, seed: int = 0) -> Callable[[Mapping[str, AttributeValue]], float]:
    """Score attribute sets by predicted log-odds under one posterior draw of the effects.

    One draw per generation (Thompson sampling) favours combinations that are probably good while
    still trying ones whose effects are uncertain; rank candidates with it, highest first.
    """
    rng = np.random.default_rng(seed)
    beta = rng.multivariate_normal(result.coef, result.cov, method="cholesky") if result.cov.shape[0] > 1 else result.coef
    return lambda attributes: float(result.design.row(attributes) @ beta)
