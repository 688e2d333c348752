"""User preference tags: the attribute values a user clicks more than the population does.

For user u and value v of attribute a, let c_v, c_o be the user's clicks on creatives with a = v and
with the other values of a, and E_v, E_o the clicks the population's per-creative CTRs predict for the
exact creatives the user saw (so uneven exposure, e.g. under Thompson allocation, is accounted for).
Conditional on the user's total clicks, c_v ~ Binomial(c_v + c_o, E_v·λ / (E_v·λ + E_o)): the user's own
click propensity cancels, and λ is their preference for v relative to the population's (λ = 1: none).

Empirical Bayes (two groups, as in Efron's local false discovery rate): λ = 1 with probability π0,
else log λ ~ N(μ, s²); π0, μ, s are fitted by maximum marginal likelihood over all users and values,
so thin evidence is shrunk toward "like the population". A user is tagged with v when the posterior
P(λ > lift) exceeds min_probability (default 0.9) and they saw at least min_impressions creatives
carrying attribute a. Integrals use Gauss-Hermite quadrature; deterministic and vectorised.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy import optimize, special

from experiments.model import TAG_MIN_IMPRESSIONS, TAG_MIN_PROBABILITY, AttributeValue, CreativeArm, ExperimentConfig, UserExposures
from experiments.summary import CREATIVE_CHOICES

MAX_TAG_LEVELS = 12
QUADRATURE_NODES = 16
MAX_FIT_CELLS = 10_000


@dataclass(frozen=True)
class TagConfig:
    """`attributes` limits tags to creative choices a marketer acts on; None tags every attribute.

    Technical attributes (title pixel size, line count) and facts of the product (category, brand)
    move together with the creative choices in a small batch, so tagging them too mostly repeats a
    preference under another name."""

    attributes: tuple[str, ...] | None = tuple(CREATIVE_CHOICES)
    min_probability: float = TAG_MIN_PROBABILITY
    min_impressions: int = TAG_MIN_IMPRESSIONS
    lift: float = 1.0
    seed: int = 0

    @classmethod
    def for_experiment(cls, config: ExperimentConfig) -> "TagConfig":
        return cls(min_probability=config.tag_min_probability, min_impressions=config.tag_min_impressions, seed=config.seed)

    def __post_init__(self) -> None:
        if not 0.5 <= self.min_probability < 1:
            raise ValueError(f"min_probability must be in [0.5, 1), got {self.min_probability}")
        if self.min_impressions < 1:
            raise ValueError(f"min_impressions must be >= 1, got {self.min_impressions}")
        if self.lift < 1:
            raise ValueError(f"lift must be >= 1 (a preference is a lift above the population), got {self.lift}")


@dataclass(frozen=True)
class PreferenceTag:
    """`user` prefers creatives with `attribute = value`; lift: their posterior relative CTR vs the population."""

    user: str
    attribute: str
    value: AttributeValue
    probability: float
    lift: float
    impressions: int
    clicks: int

    @property
    def label(self) -> str:
        return f"{self.attribute}={self.value}"


@dataclass(frozen=True)
class PriorFit:
    """The fitted population prior of preferences: share without one, and log-lift mean/sd of the rest."""

    null_share: float
    mean: float
    sd: float


@dataclass(frozen=True)
class TagResult:
    tags: tuple[PreferenceTag, ...]
    prior: PriorFit
    users_considered: int
    cells_considered: int


@dataclass(frozen=True)
class _Cells:
    user: np.ndarray
    attribute: list
    value: list
    index: np.ndarray  # cell -> (attribute, value) slot
    c_v: np.ndarray
    c_o: np.ndarray
    e_v: np.ndarray
    e_o: np.ndarray
    n_v: np.ndarray


def _cells(exposures: UserExposures, arms: Sequence[CreativeArm], min_impressions: int,
           attributes: Sequence[str] | None = None) -> _Cells | None:
    arm_attrs = {a.id: a.attributes for a in arms}
    n_users = len(exposures.users)
    n_cre = len(exposures.creatives)
    cre_imp = np.bincount(exposures.creative_index, weights=exposures.impressions, minlength=n_cre)
    cre_clk = np.bincount(exposures.creative_index, weights=exposures.clicks, minlength=n_cre)
    rate = cre_clk / np.maximum(cre_imp, 1)
    expected = exposures.impressions * rate[exposures.creative_index]
    keys = sorted({k for a in arms for k in a.attributes if attributes is None or k in attributes})
    parts: dict[str, list] = {k: [] for k in ("user", "index", "c_v", "c_o", "e_v", "e_o", "n_v")}
    labels_a: list = []
    labels_v: list = []
    for key in keys:
        values = sorted({a.attributes[key] for a in arms if key in a.attributes}, key=str)
        if len(values) < 2 or len(values) > MAX_TAG_LEVELS or all(isinstance(v, float) for v in values):
            continue
        level_of = {v: i for i, v in enumerate(values)}
        arm_level = np.array([level_of.get(arm_attrs.get(cid, {}).get(key), -1) for cid in exposures.creatives])
        lvl = arm_level[exposures.creative_index]
        ok = lvl >= 0
        L = len(values)
        flat = exposures.user_index[ok] * L + lvl[ok]
        def grid(w):
            return np.bincount(flat, weights=w[ok], minlength=n_users * L).reshape(n_users, L)
        imp, clk, exp_c = grid(exposures.impressions.astype(float)), grid(exposures.clicks.astype(float)), grid(expected)
        n_tot = imp.sum(axis=1)
        for i, v in enumerate(values):
            c_v, c_o = clk[:, i], clk.sum(axis=1) - clk[:, i]
            e_v, e_o = exp_c[:, i], exp_c.sum(axis=1) - exp_c[:, i]
            keep = (n_tot >= min_impressions) & (c_v + c_o > 0) & (e_v > 0) & (e_o > 0)
            users = np.flatnonzero(keep)
            parts["user"].append(users)
            parts["index"].append(np.full(users.size, len(labels_a)))
            for name, arr in (("c_v", c_v), ("c_o", c_o), ("e_v", e_v), ("e_o", e_o), ("n_v", imp[:, i])):
                parts[name].append(arr[users])
            labels_a.append(key)
            labels_v.append(v)
    if not labels_a:
        return None
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    return _Cells(cat["user"], labels_a, labels_v, cat["index"], cat["c_v"], cat["c_o"], cat["e_v"], cat["e_o"], cat["n_v"])


def _loglik_grid(log_ev: np.ndarray, log_eo: np.ndarray, c_v: np.ndarray, c_o: np.ndarray, log_lambda: np.ndarray) -> np.ndarray:
    """(cells, nodes) conditional binomial log-likelihood up to a per-cell constant."""
    lv = log_ev[:, None] + log_lambda[None, :]
    lo = log_eo[:, None]
    norm = np.logaddexp(lv, lo)
    return c_v[:, None] * (lv - norm) + c_o[:, None] * (lo - norm)


def _mixture_terms(log_ev, log_eo, c_v, c_o, prior: PriorFit, nodes: np.ndarray, weights: np.ndarray):
    """log weights of the null and of each slab node for every cell, and the slab's log-lifts."""
    log_lambda = prior.mean + prior.sd * nodes
    null = np.log(prior.null_share) + _loglik_grid(log_ev, log_eo, c_v, c_o, np.zeros(1))[:, 0]
    slab = np.log1p(-prior.null_share) + np.log(weights)[None, :] + _loglik_grid(log_ev, log_eo, c_v, c_o, log_lambda)
    return null, slab, log_lambda


def fit_prior(c: _Cells, seed: int = 0) -> PriorFit:
    """Maximum marginal likelihood of (π0, μ, s) over a seeded subsample of at most MAX_FIT_CELLS cells."""
    nodes, w = hermegauss(QUADRATURE_NODES)
    weights = w / w.sum()
    n = c.user.size
    rows = np.sort(np.random.default_rng(seed).choice(n, MAX_FIT_CELLS, replace=False)) if n > MAX_FIT_CELLS else np.arange(n)
    data = (np.log(c.e_v[rows]), np.log(c.e_o[rows]), c.c_v[rows], c.c_o[rows])

    def neg(theta: np.ndarray) -> float:
        prior = PriorFit(float(special.expit(theta[0])), float(theta[1]), float(np.exp(theta[2])))
        null, slab, _ = _mixture_terms(*data, prior, nodes, weights)
        return float(-np.logaddexp(null, special.logsumexp(slab, axis=1)).sum())

    res = optimize.minimize(neg, np.array([1.5, 0.0, np.log(0.5)]), method="L-BFGS-B",
                            bounds=[(-6, 8), (-3, 3), (np.log(0.05), np.log(3.0))])
    return PriorFit(float(special.expit(res.x[0])), float(res.x[1]), float(np.exp(res.x[2])))


def estimate_tags(exposures: UserExposures, arms: Sequence[CreativeArm], config: TagConfig = TagConfig()) -> TagResult:
    """Tags from per (user, creative) counts and the creatives' attributes; pure."""
    c = _cells(exposures, arms, config.min_impressions, config.attributes) if exposures.impressions.size else None
    if c is None or c.user.size == 0:
        return TagResult((), PriorFit(1.0, 0.0, 0.0), len(exposures.users), 0)
    prior = fit_prior(c, config.seed)
    nodes, w = hermegauss(QUADRATURE_NODES)
    weights = w / w.sum()
    a, b, log_lambda = _mixture_terms(np.log(c.e_v), np.log(c.e_o), c.c_v, c.c_o, prior, nodes, weights)
    top = np.maximum(a, b.max(axis=1))
    pa = np.exp(a - top)
    pb = np.exp(b - top[:, None])
    marginal = pa + pb.sum(axis=1)
    above = log_lambda > np.log(config.lift)
    prob = (pb[:, above].sum(axis=1) + (pa if config.lift < 1.0 else 0.0)) / marginal
    lift = (pa + (pb * np.exp(log_lambda)[None, :]).sum(axis=1)) / marginal
    tags = [PreferenceTag(exposures.users[c.user[i]], c.attribute[c.index[i]], c.value[c.index[i]], float(prob[i]), float(lift[i]),
                          int(c.n_v[i]), int(c.c_v[i])) for i in np.flatnonzero(prob > config.min_probability)]
    tags.sort(key=lambda x: (x.user, -x.probability))
    return TagResult(tuple(tags), prior, int(np.unique(c.user).size), int(c.user.size))


def tags_by_user(tags: Iterable[PreferenceTag]) -> dict[str, list[PreferenceTag]]:
    out: dict[str, list[PreferenceTag]] = {}
    for tag in tags:
        out.setdefault(tag.user, []).append(tag)
    return out


EXPORT_COLUMNS = ("user", "attribute", "value", "probability", "lift", "impressions", "clicks")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(cell: str) -> str:
    """User ids come from the public serving API: a cell a spreadsheet would run as a formula gets a leading quote."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def export_csv(tags: Sequence[PreferenceTag], path: str | Path) -> Path:
    """One row per (user, tag), for a customer-data platform import."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_COLUMNS)
        for tag in tags:
            value = json.dumps(tag.value) if not isinstance(tag.value, str) else tag.value
            writer.writerow([_inert(tag.user), _inert(tag.attribute), _inert(value) if isinstance(tag.value, str) else value,
                             f"{tag.probability:.4f}", f"{tag.lift:.4f}", tag.impressions, tag.clicks])
    return path


def export_json(tags: Sequence[PreferenceTag], path: str | Path, *, experiment_id: str | None = None, prior: PriorFit | None = None) -> Path:
    """{"experiment", "users": {user: [{"tag": "attr=value", ...}]}}: one object per user."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    users = {u: [{"tag": t.label, **{k: v for k, v in asdict(t).items() if k != "user"}} for t in ts] for u, ts in tags_by_user(tags).items()}
    payload = {"experiment": experiment_id, "prior": None if prior is None else asdict(prior), "tag_count": len(tags), "users": users}
    path.write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")
    return path


def export_tags(result: TagResult, path: str | Path, *, fmt: str | None = None, experiment_id: str | None = None) -> Path:
    """Write tags; the format follows `fmt` or the file's suffix (.csv or .json)."""
    from experiments.errors import ExperimentError

    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".") or "csv").lower()
    if fmt not in ("csv", "json"):
        raise ExperimentError(f"cannot export tags as {fmt!r}; use an --out FILE ending in .csv or .json, or --format csv|json")
    if fmt == "csv":
        return export_csv(result.tags, path)
    return export_json(result.tags, path, experiment_id=experiment_id, prior=result.prior)


def precision_recall(tags: Sequence[PreferenceTag], planted: Mapping[str, tuple[str, AttributeValue]]) -> tuple[float, float]:
    """Share of tags that match a planted preference, and share of planted preferences tagged."""
    if not tags:
        return (1.0 if not planted else 0.0), 0.0
    hits = sum(1 for t in tags if planted.get(t.user) == (t.attribute, t.value))
    found = {t.user for t in tags if planted.get(t.user) == (t.attribute, t.value)}
    return hits / len(tags), (len(found) / len(planted) if planted else 1.0)
