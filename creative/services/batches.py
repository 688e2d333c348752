"""launch_batch: a marketer's selection becomes banners in the registry and, if asked, an experiment over them.

Before anything is published a quality gate checks each banner: its titles against the catalog as it is
now (the copy guardrails), and its quality score (layout findings less copy findings) against a threshold.
Banners under it are refused, each with its reasons, and never reach the registry or an experiment.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import delete, func, insert, select

from creative.brands import find_kit
from creative.catalog import get_product
from creative.compose import BatchResult, BatchSelection, compose_batch, enumerate_specs, resolve_selection
from creative.copy.guardrails import Guardrails
from creative.creatives import MANIFEST, Creative, batch_creatives, get_creatives
from creative.errors import CreativeError
from creative.services.experiments import CreatedExperiment, create_experiment
from creative.services.workspace import Workspace
from creative.tables import creative_reviews as creative_reviews_table
from creative.tables import creatives as creatives_table
from experiments.policies import DEFAULT_POLICY
from experiments.tables import arms as arms_table
from layouts.metrics import penalised

DEFAULT_MIN_QUALITY = 0.5  # a clean banner scores 1; one copy failure (0.6) or a hard layout violation sinks it
MIN_QUALITY_ENV = "CREATIVE_MIN_QUALITY"


@dataclass(frozen=True)
class ExperimentPlan:
    """An experiment to start over the batch's usable banners."""

    name: str
    policy: str = DEFAULT_POLICY
    policy_params: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Refused:
    """A banner the quality gate kept out of the launch, and why."""

    creative_id: str
    quality: float
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.creative_id, "quality": self.quality, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class BatchLaunched:
    batch: BatchResult
    experiment: CreatedExperiment | None
    refused: tuple[Refused, ...] = ()
    min_quality: float = DEFAULT_MIN_QUALITY


def min_quality_setting(value: float | None = None) -> float:
    """The gate's threshold: `value` when given, else $CREATIVE_MIN_QUALITY, else DEFAULT_MIN_QUALITY."""
    raw: Any = value if value is not None else os.environ.get(MIN_QUALITY_ENV, "").strip() or DEFAULT_MIN_QUALITY
    try:
        threshold = float(raw)
    except (TypeError, ValueError):
        threshold = -1.0
    if not 0.0 <= threshold <= 1.0:
        raise CreativeError(f"the minimum quality must be a number from 0 to 1, got {raw!r}; "
                            f"pass 0..1 or unset {MIN_QUALITY_ENV} for the default {DEFAULT_MIN_QUALITY}")
    return threshold


class QualityGate:
    """The `keep` step of a launch: copy checks into each record's warnings and score, then the threshold.

    Titles were checked when written, but the catalog may have changed since (a price, a discount) and a
    hand-added title was never checked: each (title, product) pair is checked once per launch."""

    def __init__(self, ws: Workspace, min_quality: float):
        self.ws = ws
        self.min_quality = min_quality
        self.refused: list[Refused] = []
        self._guards: dict[str, Guardrails] = {}
        self._copy: dict[tuple[str, str], list[str]] = {}

    def _guard(self, offer: str) -> Guardrails:
        """A product's guardrails with its brand kit's banned words: the product and its kit read once per launch."""
        if offer not in self._guards:
            product = get_product(self.ws.engine, offer)
            kit = find_kit(self.ws.engine, product.brand)
            self._guards[offer] = Guardrails.for_product(product, brand_banned=kit.banned if kit else ())
        return self._guards[offer]

    def copy_reasons(self, title: str | None, offer: str | None) -> list[str]:
        if not title or not offer:
            return []  # the catalog name itself, or no catalog product to check against
        key = (title, offer)
        if key not in self._copy:
            self._copy[key] = self._guard(offer).check_title(self.ws.elements.get(title).text or "")
        return self._copy[key]

    def __call__(self, records: list[dict]) -> list[dict]:
        kept = []
        for record in records:
            metrics = record.setdefault("metrics", {})
            reasons = self.copy_reasons(record.get("elements", {}).get("title"), record.get("offer"))
            quality = float(metrics.get("quality", 1.0))
            if reasons:
                record["warnings"] = list(record.get("warnings") or ()) + [f"title: {r}" for r in reasons]
                quality = metrics["quality"] = penalised(quality, ["copy"])
            if quality < self.min_quality:
                why = tuple(record.get("warnings") or ()) + (f"quality {quality:.2f} is under the launch threshold {self.min_quality:.2f}",)
                self.refused.append(Refused(record["id"], quality, why))
            else:
                kept.append(record)
        if records and not kept:
            first = self.refused[0]
            raise CreativeError(f"the quality gate refused all {len(records)} banners (e.g. {first.creative_id}: {'; '.join(first.reasons)}); "
                                f"change the selection, or lower the threshold with {MIN_QUALITY_ENV}")
        return kept


def launch_batch(ws: Workspace, selection: BatchSelection, out_dir: str | Path, *, experiment: ExperimentPlan | None = None,
                 formats: Sequence[str] = ("jpeg",), max_n: int | None = None, seed: int = 0, workers: int | None = None,
                 progress: Callable[[int, int], None] | None = None, render: Callable[..., list[dict]] | None = None,
                 min_quality: float | None = None) -> BatchLaunched:
    """Compose the selection (registered as one batch) through the quality gate, then start the experiment if
    one is planned. Banners scoring under `min_quality` (see min_quality_setting) are refused, with reasons."""
    gate = QualityGate(ws, min_quality_setting(min_quality))
    batch = compose_batch(ws.home, ws.engine, selection, out_dir, formats=formats, max_n=max_n, seed=seed, workers=workers,
                          progress=progress, render=render, keep=gate)
    created = None
    if experiment is not None:
        created = create_experiment(ws, experiment.name, batch.creatives, experiment.policy,
                                    policy_params=experiment.policy_params, config=experiment.config)
    return BatchLaunched(batch, created, tuple(gate.refused), gate.min_quality)


class BatchNotFound(CreativeError):
    """No registered creative carries the batch id."""


@dataclass(frozen=True)
class BatchSummary:
    """A composed batch as the registry knows it: its size, where its files are and which experiments use it."""

    batch: str
    created_at: datetime
    creatives: int
    templates: tuple[str, ...]
    sizes: tuple[str, ...]
    folder: str
    experiments: tuple[str, ...]

    @property
    def manifest(self) -> str:
        return str(Path(self.folder) / MANIFEST)

    @property
    def gallery(self) -> str:
        return str(Path(self.folder) / "index.html")

    def to_json(self) -> dict[str, Any]:
        return {"batch": self.batch, "created_at": self.created_at.isoformat(), "creatives": self.creatives,
                "templates": list(self.templates), "sizes": list(self.sizes), "folder": self.folder, "manifest": self.manifest,
                "gallery": self.gallery, "experiments": list(self.experiments)}


@dataclass(frozen=True)
class BatchDetail:
    summary: BatchSummary
    creatives: tuple[Creative, ...]


def _summaries(ws: Workspace, batch: str | None = None) -> list[BatchSummary]:
    c = creatives_table.c

    def query(*columns, distinct: bool = False):
        q = select(*columns)
        q = q.distinct() if distinct else q.group_by(c.batch)
        return q.where(c.batch == batch) if batch is not None else q

    with ws.engine.connect() as conn:
        heads = conn.execute(query(c.batch, func.count(), func.min(c.created_at), func.min(c.file))).all()
        templates = conn.execute(query(c.batch, c.template, distinct=True)).all()
        sizes = conn.execute(query(c.batch, c.size, distinct=True)).all()
        used = conn.execute(query(c.batch, arms_table.c.experiment_id, distinct=True)
                            .join(arms_table, arms_table.c.creative_id == c.creative_id)).all()

    def by_batch(pairs) -> dict[str, tuple[str, ...]]:
        grouped: dict[str, list[str]] = defaultdict(list)
        for name, value in pairs:
            grouped[name].append(value)
        return {name: tuple(sorted(values)) for name, values in grouped.items()}

    templates_of, sizes_of, used_by = by_batch(templates), by_batch(sizes), by_batch(used)
    out = [BatchSummary(name, created, count, templates_of.get(name, ()), sizes_of.get(name, ()), str(Path(file).parent),
                        used_by.get(name, ())) for name, count, created, file in heads]
    return sorted(out, key=lambda s: (s.created_at, s.batch), reverse=True)


def list_batches(ws: Workspace) -> list[BatchSummary]:
    """Every batch in the creatives registry, newest first."""
    return _summaries(ws)


def show_batch(ws: Workspace, batch: str) -> BatchDetail:
    """One batch and its creatives."""
    found = _summaries(ws, batch)
    if not found:
        raise BatchNotFound(f"no batch {batch!r} in the library; list them with `creative batches list`")
    return BatchDetail(found[0], tuple(batch_creatives(ws.engine, batch)))


def batch_folder(ws: Workspace, batch: str) -> Path | None:
    """Where a batch's files are (one row read: a gallery asks for every banner file); None when no banner is registered."""
    with ws.engine.connect() as conn:
        file = conn.execute(select(creatives_table.c.file).where(creatives_table.c.batch == batch).limit(1)).scalar()
    return Path(file).parent if file else None


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


def review_banners(ws: Workspace, creative_ids: Sequence[str], decision: str | None, reviewer: str, *, batch: str | None = None) -> int:
    """A reviewer approves or rejects composed banners (None clears the decision); returns how many were reviewed.
    With `batch`, every banner must be one of that batch's (a gallery reviews only its own banners)."""
    if decision is not None and decision not in BANNER_DECISIONS:
        raise CreativeError(f"a banner is {' or '.join(BANNER_DECISIONS)}, not {decision!r}")
    ids = list(dict.fromkeys(creative_ids))
    known = get_creatives(ws.engine, ids)
    if missing := [i for i in ids if i not in known]:
        raise CreativeError(f"no banner {missing[0]!r} in the library; reload the gallery")
    if batch is not None and (strays := [i for i in ids if known[i].batch != batch]):
        raise CreativeError(f"banner {strays[0]!r} is not in batch {batch}; review it in its own batch's gallery")
    table = creative_reviews_table
    with ws.engine.begin() as conn:
        conn.execute(delete(table).where(table.c.creative_id.in_(ids)))
        if decision is not None and ids:
            now = datetime.now(timezone.utc)
            conn.execute(insert(table), [{"creative_id": i, "decision": decision, "reviewer": reviewer, "reviewed_at": now} for i in ids])
    return len(ids)


def experiment_from_batch(ws: Workspace, batch: str, name: str, policy: str) -> tuple[str, int]:
    """An experiment over a batch's registered banners, leaving out those a reviewer rejected (and, as every
    experiment does, those with layout violations); returns its id and how many rejected banners were left out."""
    creatives = batch_creatives(ws.engine, batch)
    reviews = banner_reviews(ws, [c.creative_id for c in creatives])
    kept = [c for c in creatives if reviews.get(c.creative_id) != "rejected"]
    if not kept:
        raise CreativeError(f"batch {batch} has no banner left to test (none registered, or every one rejected)")
    return create_experiment(ws, name, kept, policy).experiment_id, len(creatives) - len(kept)


def banner_reviews(ws: Workspace, creative_ids: Sequence[str]) -> dict[str, str]:
    """The reviewed banners among `creative_ids`: id -> approved | rejected."""
    table, ids, out = creative_reviews_table, list(dict.fromkeys(creative_ids)), {}
    with ws.engine.connect() as conn:
        for i in range(0, len(ids), 500):
            rows = conn.execute(select(table.c.creative_id, table.c.decision).where(table.c.creative_id.in_(ids[i : i + 500])))
            out.update((r.creative_id, r.decision) for r in rows)
    return out
