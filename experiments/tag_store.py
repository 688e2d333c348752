"""Preference tags kept per (experiment, round): written once when a round closes, read by everyone.

Serving, the tags page and exports read the stored tags, so they agree with each other and with
what the round decided, and nobody refits the model on a page view.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from sqlalchemy import Connection, Engine, delete, func, insert, select

from experiments import tables as t
from experiments.store import ExperimentStore
from experiments.tags import PreferenceTag, PriorFit, TagConfig, TagResult, estimate_tags


@dataclass(frozen=True)
class StoredTags:
    """The tags computed after `round_no` closed (round_no 0: none computed yet)."""

    experiment_id: str
    round_no: int
    result: TagResult
    config: TagConfig
    computed_at: datetime | None

    @property
    def users(self) -> int:
        return len({tag.user for tag in self.result.tags})


def save_tags(conn: Connection, experiment_id: str, round_no: int, result: TagResult, config: TagConfig) -> None:
    """Store the tags of one round inside the caller's transaction (replacing a previous fit of it)."""
    for table in (t.user_tags, t.tag_fits):
        conn.execute(delete(table).where(table.c.experiment_id == experiment_id, table.c.round_no == round_no))
    conn.execute(insert(t.tag_fits).values(
        experiment_id=experiment_id, round_no=round_no, null_share=result.prior.null_share, prior_mean=result.prior.mean,
        prior_sd=result.prior.sd, users_considered=result.users_considered, cells_considered=result.cells_considered,
        config=_config_json(config), computed_at=datetime.now(timezone.utc)))
    if result.tags:
        conn.execute(insert(t.user_tags), [
            {"experiment_id": experiment_id, "round_no": round_no, "user_id": tag.user, "attribute": tag.attribute,
             "value": json.dumps(tag.value), "probability": tag.probability, "lift": tag.lift,
             "impressions": tag.impressions, "clicks": tag.clicks} for tag in result.tags])


def _config_json(config: TagConfig) -> dict:
    raw = asdict(config)
    raw["attributes"] = None if config.attributes is None else list(config.attributes)
    return raw


def latest_tags(engine: Engine, experiment_id: str) -> StoredTags:
    """The newest stored tags of an experiment; an empty result at round 0 before any round computed them."""
    with engine.connect() as conn:
        fit = conn.execute(select(t.tag_fits).where(t.tag_fits.c.experiment_id == experiment_id)
                           .order_by(t.tag_fits.c.round_no.desc()).limit(1)).first()
        if fit is None:
            return StoredTags(experiment_id, 0, TagResult((), PriorFit(1.0, 0.0, 0.0), 0, 0), TagConfig(), None)
        rows = conn.execute(select(t.user_tags).where(t.user_tags.c.experiment_id == experiment_id, t.user_tags.c.round_no == fit.round_no)
                            .order_by(t.user_tags.c.user_id, t.user_tags.c.probability.desc())).all()
    tags = tuple(PreferenceTag(r.user_id, r.attribute, json.loads(r.value), r.probability, r.lift, r.impressions, r.clicks) for r in rows)
    raw = dict(fit.config)
    raw["attributes"] = None if raw.get("attributes") is None else tuple(raw["attributes"])
    result = TagResult(tags, PriorFit(fit.null_share, fit.prior_mean, fit.prior_sd), fit.users_considered, fit.cells_considered)
    return StoredTags(experiment_id, fit.round_no, result, TagConfig(**raw), fit.computed_at)


def tag_round(engine: Engine, experiment_id: str) -> int:
    """The round of the newest stored tags (0: none yet): a cheap check for readers that cache them."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(t.tag_fits.c.round_no), 0))
                                .where(t.tag_fits.c.experiment_id == experiment_id)).scalar_one())


def refresh_tags(engine: Engine, experiment_id: str, round_no: int) -> StoredTags:
    """Fit tags on the aggregates as they stand after `round_no` closed, with the experiment's settings, and store them."""
    store = ExperimentStore(engine)
    config = TagConfig.for_experiment(store.config(experiment_id))
    result = estimate_tags(store.user_exposures(experiment_id), store.arms(experiment_id), config)
    with engine.begin() as conn:
        save_tags(conn, experiment_id, round_no, result, config)
    return StoredTags(experiment_id, round_no, result, config, datetime.now(timezone.utc))
