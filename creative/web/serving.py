"""What /v1/serve shows: the experiment's current allocation, bent by preference tags for tagged users.

An `ExperimentView` is read from the database at most once per `refresh_seconds` per experiment and
then answers every request from memory (a bisect over cumulative shares), which keeps serving off
the database. Tags are recomputed in the background when a round closes, since they change only
with new aggregates and cost a model fit.
"""

from __future__ import annotations

import bisect
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from sqlalchemy import Engine, select

from creative.home import Home
from creative.tables import products as products_table
from experiments import tables as xt
from experiments.errors import ExperimentNotFound
from experiments.model import CreativeArm, ExperimentConfig

log = logging.getLogger("creative.web.serving")

ANY_SIZE = "*"


@dataclass(frozen=True)
class ServedArm:
    creative_id: str
    size: str | None
    file: Path | None
    landing_url: str | None


@dataclass
class _SizeTable:
    ids: list[str]
    cumulative: list[float]
    preference: Any = None  # experiments.serving.PreferenceAwareServer for these arms, if tags exist

    def pick(self, rnd: random.Random) -> str:
        x = rnd.random() * self.cumulative[-1]
        return self.ids[min(bisect.bisect_right(self.cumulative, x), len(self.ids) - 1)]


@dataclass
class ExperimentView:
    experiment_id: str
    status: str
    current_round: int
    config: ExperimentConfig
    arms: dict[str, ServedArm]
    allocation: dict[str, float]
    tables: dict[str, _SizeTable]
    loaded_at: float
    tags: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)

    def choose(self, user: str, size: str | None, rnd: random.Random, np_rng: np.random.Generator) -> tuple[str, tuple[str, ...]] | None:
        """(creative id, tags that steered the choice), or None when no creative has that size."""
        table = self.tables.get(size or ANY_SIZE)
        if table is None:
            return None
        user_tags = self.tags.get(user)
        if user_tags and table.preference is not None:
            choice = table.preference.choose(user_tags, np_rng)
            return choice.creative_id, choice.matched
        return table.pick(rnd), ()


def _resolve_file(home: Home, raw: str | None) -> Path | None:
    """Arm files live under the home; anything resolving outside it is never served."""
    if not raw:
        return None
    path = Path(raw)
    if not path.is_absolute():
        path = home.root / path
        if not path.exists():
            path = home.output_dir / raw
    path = path.resolve()
    return path if path.is_relative_to(home.root) else None


def _landing_urls(engine: Engine, arms: list[CreativeArm]) -> dict[str, str | None]:
    """Each creative's landing page: its own attribute, else the catalog product it shows."""
    with engine.connect() as conn:
        rows = conn.execute(select(products_table.c.product_id, products_table.c.landing_url, products_table.c.images)).all()
    by_id = {r.product_id: r.landing_url for r in rows}
    by_image: dict[str, str] = {}
    for r in rows:
        for code in r.images or ():
            by_image.setdefault(code, r.landing_url)
    out: dict[str, str | None] = {}
    for arm in arms:
        attrs, elements = arm.attributes, arm.elements
        url = attrs.get("landing_url") if isinstance(attrs.get("landing_url"), str) else None
        for key in ("product_id", "product"):
            url = url or by_id.get(str(attrs.get(key, ""))) or by_id.get(str(elements.get(key, "")))
        if url is None:
            url = next((by_image[c] for c in elements.values() if isinstance(c, str) and c in by_image), None)
        out[arm.id] = url
    return out


def _tables(arms: dict[str, ServedArm], arm_list: list[CreativeArm], allocation: Mapping[str, float], with_preference: bool) -> dict[str, _SizeTable]:
    from experiments.serving import PreferenceAwareServer

    groups: dict[str, list[str]] = {ANY_SIZE: []}
    for cid, arm in arms.items():
        if allocation.get(cid, 0.0) > 0:
            groups[ANY_SIZE].append(cid)
            if arm.size:
                groups.setdefault(arm.size, []).append(cid)
    by_id = {a.id: a for a in arm_list}
    out: dict[str, _SizeTable] = {}
    for size, ids in groups.items():
        if not ids:
            continue
        total = sum(allocation[i] for i in ids)
        cumulative = list(np.cumsum([allocation[i] / total for i in ids]))
        table = _SizeTable(ids, cumulative)
        if with_preference:
            table.preference = PreferenceAwareServer([by_id[i] for i in ids], {i: allocation[i] / total for i in ids})
        out[size] = table
    return out


class ServingCache:
    def __init__(self, home: Home, engine: Engine, refresh_seconds: float = 1.0) -> None:
        self.home = home
        self.engine = engine
        self.refresh_seconds = refresh_seconds
        self._views: dict[str, ExperimentView] = {}
        self._tags: dict[tuple[str, int], dict[str, list[tuple[str, Any]]]] = {}
        self._tagging: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self.rnd = random.Random()
        self.np_rng = np.random.default_rng()

    def view(self, experiment_id: str) -> ExperimentView:
        view = self._views.get(experiment_id)
        if view is None or time.monotonic() - view.loaded_at > self.refresh_seconds:
            view = self._load(experiment_id)
            self._views[experiment_id] = view
        return view

    def invalidate(self, experiment_id: str | None = None) -> None:
        if experiment_id is None:
            self._views.clear()
        else:
            self._views.pop(experiment_id, None)

    def _load(self, experiment_id: str) -> ExperimentView:
        with self.engine.connect() as conn:
            exp = conn.execute(select(xt.experiments.c.status, xt.experiments.c.current_round, xt.experiments.c.allocation,
                                      xt.experiments.c.winner, xt.experiments.c.config)
                               .where(xt.experiments.c.experiment_id == experiment_id)).first()
            if exp is None:
                raise ExperimentNotFound(f"no experiment {experiment_id!r}")
            rows = conn.execute(select(xt.arms).where(xt.arms.c.experiment_id == experiment_id)).all()
        arm_list = [CreativeArm(id=r.creative_id, attributes=r.attributes, size=r.size, template=r.template, file=r.file, elements=r.elements) for r in rows]
        urls = _landing_urls(self.engine, arm_list)
        arms = {a.id: ServedArm(a.id, a.size, _resolve_file(self.home, a.file), urls.get(a.id)) for a in arm_list}
        allocation = {k: float(v) for k, v in (exp.allocation or {}).items() if k in arms}
        if exp.status != "running" and exp.winner in arms:
            allocation = {exp.winner: 1.0}  # a concluded experiment shows its winner
        key = (experiment_id, exp.current_round)
        tags = self._tags.get(key)
        if tags is None:
            self._start_tagging(key)
        table = _tables(arms, arm_list, allocation, with_preference=bool(tags))
        return ExperimentView(experiment_id, exp.status, exp.current_round, ExperimentConfig.from_dict(exp.config), arms,
                              allocation, table, time.monotonic(), tags or {})

    def _start_tagging(self, key: tuple[str, int]) -> None:
        """Preference tags change only when a round closes: compute once per round, off the request path."""
        with self._lock:
            if key in self._tagging:
                return
            self._tagging.add(key)
        threading.Thread(target=self._compute_tags, args=(key,), name=f"tags-{key[0]}", daemon=True).start()

    def _compute_tags(self, key: tuple[str, int]) -> None:
        from experiments.tags import compute_tags, tags_by_user

        try:
            result = compute_tags(self.engine, key[0]) if key[1] > 1 else None
            by_user = {u: [(t.attribute, t.value) for t in ts] for u, ts in tags_by_user(result.tags).items()} if result else {}
        except Exception:  # noqa: BLE001 - no tags is a safe answer: serve the plain allocation
            log.exception("computing preference tags of %s failed; serving the plain allocation", key[0])
            by_user = {}
        self._tags[key] = by_user
        self._views.pop(key[0], None)
