"""A synthetic audience with known ground truth, for demos, tests and benchmarks.

Each user has a click propensity (log-normal around 1) and, for a share of users, one planted
preference: an attribute value whose creatives they click `preference_multiplier` times more often.
A creative's base CTR follows from its attributes through `element_effects` (log-odds), around
`base_ctr`. P(click | user u, creative k) = min(0.5, base_k · propensity_u · multiplier if u prefers k).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np

from experiments.model import AttributeValue, CreativeArm

ATTRIBUTE_SPACE: dict[str, tuple[AttributeValue, ...]] = {
    "template": ("hero", "split", "grid"),
    "title_style": ("bold", "light", "serif"),
    "colour_family": ("warm", "cool", "neutral"),
    "has_model": (True, False),
    "has_price_badge": (True, False),
    "logo_position": ("top-left", "top-right", "bottom"),
    "background_kind": ("photo", "flat", "gradient"),
}

DEFAULT_EFFECTS: dict[tuple[str, AttributeValue], float] = {
    ("template", "hero"): 0.20,
    ("title_style", "bold"): 0.10,
    ("colour_family", "warm"): 0.15,
    ("has_model", True): 0.25,
    ("has_price_badge", True): 0.12,
    ("logo_position", "bottom"): -0.10,
    ("background_kind", "flat"): -0.15,
}

# attributes a planted user preference can be about (few values each, so users see every value)
PREFERENCE_ATTRIBUTES = ("colour_family", "template", "has_model", "background_kind")


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def make_creatives(n: int, *, seed: int = 0, space: Mapping[str, Sequence[AttributeValue]] = ATTRIBUTE_SPACE,
                   prefix: str = "c", size: str = "300x250") -> list[CreativeArm]:
    """`n` creatives whose attributes are balanced (each value equally often) and shuffled independently,
    so attributes are nearly uncorrelated and effects and tags can be told apart."""
    rng = np.random.default_rng(seed)
    columns = {k: rng.permutation([vals[i % len(vals)] for i in range(n)]) for k, vals in space.items()}
    out = []
    for i in range(n):
        attrs = {k: (col[i].item() if hasattr(col[i], "item") else col[i]) for k, col in columns.items()}
        out.append(CreativeArm(id=f"{prefix}{i:04d}", attributes=attrs, size=size, template=str(attrs.get("template", "t"))))
    return out


@dataclass(frozen=True)
class PlantedPreference:
    attribute: str
    value: AttributeValue
    multiplier: float


class Audience:
    """Users who answer impressions with clicks; the truth behind every validation figure."""

    def __init__(self, n_users: int = 1000, *, base_ctr: float = 0.015, element_effects: Mapping[tuple[str, AttributeValue], float] | None = None,
                 preference_share: float = 0.5, preference_multiplier: float = 3.0, propensity_sd: float = 0.3,
                 space: Mapping[str, Sequence[AttributeValue]] = ATTRIBUTE_SPACE,
                 preference_attributes: Sequence[str] = PREFERENCE_ATTRIBUTES, seed: int = 0,
                 creative_effects: Mapping[str, float] | None = None) -> None:
        if n_users < 1:
            raise ValueError("an audience needs at least one user")
        if not 0 < base_ctr < 0.5:
            raise ValueError(f"base_ctr must be in (0, 0.5), got {base_ctr}")
        self.rng = np.random.default_rng(seed)
        self.base_ctr = base_ctr
        self.effects = dict(DEFAULT_EFFECTS if element_effects is None else element_effects)
        # log-odds for particular creatives beyond their attributes: a planted winner
        self.creative_effects = dict(creative_effects or {})
        self.space = {k: tuple(v) for k, v in space.items()}
        self.users = tuple(f"u{i:06d}" for i in range(n_users))
        self.propensity = np.exp(self.rng.normal(-propensity_sd**2 / 2, propensity_sd, n_users))
        prefs: list[PlantedPreference | None] = []
        attrs = [a for a in preference_attributes if a in self.space]
        for _ in range(n_users):
            if attrs and self.rng.random() < preference_share:
                a = attrs[int(self.rng.integers(len(attrs)))]
                v = self.space[a][int(self.rng.integers(len(self.space[a])))]
                prefs.append(PlantedPreference(a, v, preference_multiplier))
            else:
                prefs.append(None)
        self.preferences = tuple(prefs)

    # -- ground truth -----------------------------------------------------------------------------
    def base_ctr_of(self, arm: CreativeArm) -> float:
        """CTR of a creative for a user with propensity 1 and no matching preference."""
        z = _logit(self.base_ctr) + sum(self.effects.get((k, v), 0.0) for k, v in arm.attributes.items())
        return float(_sigmoid(z + self.creative_effects.get(arm.id, 0.0)))

    def ctr_matrix(self, arms: Sequence[CreativeArm]) -> np.ndarray:
        """(users, arms) click probabilities."""
        base = np.array([self.base_ctr_of(a) for a in arms])
        p = self.propensity[:, None] * base[None, :]
        for u, pref in enumerate(self.preferences):
            if pref is not None:
                match = np.array([a.attributes.get(pref.attribute) == pref.value for a in arms])
                p[u, match] *= pref.multiplier
        return np.minimum(p, 0.5)

    def true_ctr(self, arms: Sequence[CreativeArm]) -> dict[str, float]:
        """Population CTR of each creative when shown to a uniformly random user."""
        m = self.ctr_matrix(arms).mean(axis=0)
        return {a.id: float(x) for a, x in zip(arms, m)}

    def planted_tags(self) -> dict[str, tuple[str, AttributeValue]]:
        return {u: (p.attribute, p.value) for u, p in zip(self.users, self.preferences) if p is not None}

    # -- traffic ------------------------------------------------------------------------------------
    def exposures(self, arms: Sequence[CreativeArm], impressions_per_user: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Aggregate (users, arms) impressions and clicks under a uniform random split: fast tag validation."""
        rng = rng or self.rng
        k = len(arms)
        imps = rng.multinomial(impressions_per_user, np.full(k, 1.0 / k), size=len(self.users))
        clicks = rng.binomial(imps, self.ctr_matrix(arms))
        return imps, clicks

    def events(self, experiment_id: str, arms: Sequence[CreativeArm], allocation: Mapping[str, float], n_impressions: int, *,
               start: datetime | None = None, seconds: float = 3600.0, rng: np.random.Generator | None = None,
               chooser: Callable[[str, np.random.Generator], str] | None = None, id_prefix: str = "e",
               with_features: bool = False) -> Iterator[dict]:
        """Wire-format impressions (and their clicks) for `n_impressions` served by `allocation`.

        `chooser(user_id, rng) -> creative_id` replaces the allocation, e.g. a preference-aware server.
        Clicks follow their impression by 1-600 s, inside the default attribution window.
        """
        rng = rng or self.rng
        start = start or datetime(2025, 1, 1, tzinfo=timezone.utc)
        by_id = {a.id: i for i, a in enumerate(arms)}
        ids = [a.id for a in arms]
        shares = np.array([allocation.get(i, 0.0) for i in ids], dtype=float)
        shares = shares / shares.sum()
        ctr = self.ctr_matrix(arms)
        user_idx = rng.integers(len(self.users), size=n_impressions)
        offsets = np.sort(rng.uniform(0, seconds, n_impressions))
        arm_idx = rng.choice(len(ids), size=n_impressions, p=shares) if chooser is None else None
        coins = rng.random(n_impressions)
        delays = rng.uniform(1, 600, n_impressions)
        for j in range(n_impressions):
            u = int(user_idx[j])
            user = self.users[u]
            k = int(arm_idx[j]) if arm_idx is not None else by_id[chooser(user, rng)]
            ts = start + timedelta(seconds=float(offsets[j]))
            eid = f"{id_prefix}{j}"
            imp = {"event_id": eid, "type": "impression", "ts": ts.isoformat().replace("+00:00", "Z"), "experiment": experiment_id,
                   "creative": ids[k], "user": user, "size": arms[k].size or "300x250"}
            if with_features:
                imp["user_features"] = {"segment": f"s{u % 4}"}
            yield imp
            if coins[j] < ctr[u, k]:
                cts = ts + timedelta(seconds=float(delays[j]))
                yield {"event_id": f"{eid}c", "type": "click", "ts": cts.isoformat().replace("+00:00", "Z"), "experiment": experiment_id,
                       "creative": ids[k], "user": user, "size": arms[k].size or "300x250", "impression_id": eid}
