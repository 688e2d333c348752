"""launch_batch: a marketer's selection becomes banners in the registry and, if asked, an experiment over them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import delete, insert, select

from creative.compose import BatchResult, BatchSelection, compose_batch, enumerate_specs, resolve_selection
from creative.creatives import get_creatives
from creative.errors import CreativeError
from creative.services.experiments import CreatedExperiment, create_experiment
from creative.services.workspace import Workspace
from creative.tables import creative_reviews as creative_reviews_table
from experiments.policies import DEFAULT_POLICY


@dataclass(frozen=True)
class ExperimentPlan:
    """An experiment to start over the batch's usable banners."""

    name: str
    policy: str = DEFAULT_POLICY
    policy_params: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchLaunched:
    batch: BatchResult
    experiment: CreatedExperiment | None


def launch_batch(ws: Workspace, selection: BatchSelection, out_dir: str | Path, *, experiment: ExperimentPlan | None = None,
                 formats: Sequence[str] = ("jpeg",), max_n: int | None = None, seed: int = 0, workers: int | None = None,
                 progress: Callable[[int, int], None] | None = None, render: Callable[..., list[dict]] | None = None) -> BatchLaunched:
    """Compose the selection (registered as one batch), then start the experiment if one is planned."""
    batch = compose_batch(ws.home, ws.engine, selection, out_dir, formats=formats, max_n=max_n, seed=seed, workers=workers,
                          progress=progress, render=render)
    created = None
    if experiment is not None:
        created = create_experiment(ws, experiment.name, batch.creatives, experiment.policy,
                                    policy_params=experiment.policy_params, config=experiment.config)
    return BatchLaunched(batch, created)


@dataclass(frozen=True)
class BannerCount:
    """What a selection makes: `banners` to render (all combinations, or a seeded sample of max_n) of `combinations`."""

    banners: int
    combinations: int
    skipped: tuple[str, ...]  # templates that cannot be made and selected elements that fit nothing


def count_banners(ws: Workspace, selection: BatchSelection, max_n: int | None = None, seed: int = 0) -> BannerCount:
    """How many banners `launch_batch` would render for this selection: its own resolution and enumeration, nothing drawn."""
    resolved = resolve_selection(ws.home, ws.engine, selection)
    specs, total, skipped = enumerate_specs(resolved, max_n, seed)
    return BannerCount(len(specs), total, tuple(resolved.notes + skipped))


BANNER_DECISIONS = ("approved", "rejected")


def review_banners(ws: Workspace, creative_ids: Sequence[str], decision: str | None, reviewer: str) -> int:
    """A reviewer approves or rejects composed banners (None clears the decision); returns how many were reviewed."""
    if decision is not None and decision not in BANNER_DECISIONS:
        raise CreativeError(f"a banner is {' or '.join(BANNER_DECISIONS)}, not {decision!r}")
    ids = list(dict.fromkeys(creative_ids))
    known = set(get_creatives(ws.engine, ids))
    if missing := [i for i in ids if i not in known]:
        raise CreativeError(f"no banner {missing[0]!r} in the library; reload the gallery")
    table = creative_reviews_table
    with ws.engine.begin() as conn:
        conn.execute(delete(table).where(table.c.creative_id.in_(ids)))
        if decision is not None and ids:
            now = datetime.now(timezone.utc)
            conn.execute(insert(table), [{"creative_id": i, "decision": decision, "reviewer": reviewer, "reviewed_at": now} for i in ids])
    return len(ids)


def banner_reviews(ws: Workspace, creative_ids: Sequence[str]) -> dict[str, str]:
    """The reviewed banners among `creative_ids`: id -> approved | rejected."""
    table, ids, out = creative_reviews_table, list(dict.fromkeys(creative_ids)), {}
    with ws.engine.connect() as conn:
        for i in range(0, len(ids), 500):
            rows = conn.execute(select(table.c.creative_id, table.c.decision).where(table.c.creative_id.in_(ids[i : i + 500])))
            out.update((r.creative_id, r.decision) for r in rows)
    return out
