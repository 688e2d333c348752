"""Preference-aware serving: choose a creative for one user from the round's allocation and their tags.

Weights are share_k · boost^(tags of the user the creative matches); arms with share 0 (retired) are
never served. Personalised choices bias the arms' comparison (tagged users are not a random sample of
each arm's traffic), so they run only outside the experiment: on the holdout share of requests, or once
the experiment has concluded (`in_holdout`); those impressions are marked holdout and never counted.
Each choice returns its probability, which a logger can keep for inverse-propensity estimates.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from experiments.errors import InvalidAllocation
from experiments.model import AttributeValue, CreativeArm
from experiments.policies import validate_shares
from experiments.tags import PreferenceTag


def in_holdout(randomised: bool, holdout_share: float, rnd: random.Random) -> bool:
    """Whether a request is served outside the experiment: always once it no longer randomises (concluded),
    else with probability `holdout_share`, drawn independently of the user so the rest stays a random sample."""
    return not randomised or (holdout_share > 0 and rnd.random() < holdout_share)


@dataclass(frozen=True)
class ServeChoice:
    creative_id: str
    probability: float
    matched: tuple[str, ...]


class PreferenceAwareServer:
    """Built once per round (allocation + creatives), asked once per impression."""

    def __init__(self, arms: Sequence[CreativeArm], allocation: Mapping[str, float], boost: float = 2.0) -> None:
        if not boost >= 1.0:
            raise InvalidAllocation(f"boost must be >= 1 (1 = ignore tags), got {boost}")
        shares = validate_shares(allocation)
        self.boost = float(boost)
        self.arms = [a for a in arms if shares.get(a.id, 0.0) > 0]
        if not self.arms:
            raise InvalidAllocation("the allocation gives no share to any of the creatives; pass the experiment's current allocation")
        self.ids = [a.id for a in self.arms]
        self.shares = np.array([shares[a.id] for a in self.arms])
        self._attrs = [a.attributes for a in self.arms]

    def probabilities(self, tags: Iterable[PreferenceTag | tuple[str, AttributeValue]]) -> dict[str, float]:
        wanted = [(t.attribute, t.value) if isinstance(t, PreferenceTag) else tuple(t) for t in tags]
        matches = np.array([sum(1 for k, v in wanted if attrs.get(k) == v) for attrs in self._attrs])
        w = self.shares * self.boost ** matches
        w = w / w.sum()
        return dict(zip(self.ids, (float(x) for x in w)))

    def choose(self, tags: Iterable[PreferenceTag | tuple[str, AttributeValue]], rng: np.random.Generator) -> ServeChoice:
        wanted = [(t.attribute, t.value) if isinstance(t, PreferenceTag) else tuple(t) for t in tags]
        probs = self.probabilities(wanted)
        p = np.fromiter(probs.values(), dtype=float)
        k = int(rng.choice(len(p), p=p))
        attrs = self._attrs[k]
        matched = tuple(f"{a}={v}" for a, v in wanted if attrs.get(a) == v)
        return ServeChoice(self.ids[k], float(p[k]), matched)
