"""A running experiment over three simulated banners and its audience's events (no tests here)."""

from __future__ import annotations

import numpy as np

from creative.db import open_database
from creative.home import Home
from experiments.simulator import Audience, make_creatives
from experiments.store import ExperimentStore


def simulated_experiment(home: Home, name: str, *, seed: int, impressions: int) -> tuple[str, list[dict]]:
    """(experiment id, events): a Thompson experiment (rounds close from 10 impressions) and `impressions` served
    evenly to 100 users at a 5% click rate, with their clicks; the caller drops or ingests the events."""
    arms = make_creatives(3, seed=seed)
    experiment_id = ExperimentStore(open_database(home.db_url)).create_experiment(name, arms, "thompson", config={"min_round_impressions": 10})
    events = Audience(100, base_ctr=0.05, seed=seed).events(experiment_id, arms, {a.id: 1 / 3 for a in arms}, impressions,
                                                            rng=np.random.default_rng(seed))
    return experiment_id, list(events)
