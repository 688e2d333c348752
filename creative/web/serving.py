"""What /v1/serve shows: the requested placement's allocation; preference tags only outside the experiment.

Each size is a placement with its own shares. A request is randomised by them, unless it falls in the
experiment's holdout (`holdout_share` of requests, drawn independently of the user) or the experiment
has concluded: then tagged users get preference-aware choices and the impression is marked holdout,
so it never counts in the arms' statistics (experiments.serving.in_holdout).

An `ExperimentView` answers every request from memory (a bisect over cumulative shares), which keeps
serving off the database. Only the first request (or the first after `invalidate`) waits for a read,
done in a worker thread, never on the event loop, and once for every request waiting on it; once a
view is older than `refresh_seconds`, one background thread reads it again while requests keep using
the current one. A refresh reads the experiment's status and the round of its stored tags; the arms'
files and landing pages (`services.served_creatives`: the arms' own catalog offers, by primary key,
never the whole catalog) and the tags themselves are read again only when the arms or the tags' round
changed. Tags are computed once per round by `services.close_round`, never here.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
from starlette.concurrency import run_in_threadpool

from creative.services import Workspace, served_creatives
from creative.services.experiments import ServedCreative
from experiments.errors import ExperimentNotFound
from experiments.model import ArmState, AttributeValue, CreativeArm, ExperimentConfig, ExperimentState, ExperimentStatus
from experiments.rounds import load_round
from experiments.serving import PreferenceAwareServer, in_holdout
from experiments.tag_store import latest_tags, tag_round
from experiments.tags import tags_by_user

log = logging.getLogger("creative.web.serving")

ANY_SIZE = "*"
UserTags = dict[str, list[tuple[str, AttributeValue]]]  # user -> (attribute, value) they prefer


@dataclass
class _SizeTable:
    ids: list[str]
    cumulative: list[float]
    preference: PreferenceAwareServer | None = None  # for tagged users, when the experiment has tags

    def pick(self, rnd: random.Random) -> str:
        x = rnd.random() * self.cumulative[-1]
        return self.ids[min(bisect.bisect_right(self.cumulative, x), len(self.ids) - 1)]


@dataclass(frozen=True)
class _Arms:
    """The slow-changing part of a view: the experiment's arms and what serving shows of each."""

    arms: tuple[CreativeArm, ...]
    served: dict[str, ServedCreative]


@dataclass(frozen=True)
class _Tags:
    round_no: int  # the round after which they were computed; 0: none yet
    by_user: UserTags


@dataclass(frozen=True)
class Served:
    creative_id: str
    matched: tuple[str, ...]  # the user's tags that steered the choice (holdout only)
    holdout: bool  # outside the experiment's randomised traffic: recorded, never counted


@dataclass
class ExperimentView:
    experiment_id: str
    status: str
    current_round: int
    config: ExperimentConfig
    arms: dict[str, ServedCreative]
    allocation: dict[str, float]
    tables: dict[str, _SizeTable]
    loaded_at: float
    tags: UserTags = field(default_factory=dict)
    loaded_arms: _Arms | None = None  # kept for the next refresh, which reuses them while the arms are the same
    loaded_tags: _Tags | None = None  # likewise while the stored tags' round is the same

    def choose(self, user: str, size: str | None, rnd: random.Random, np_rng: np.random.Generator) -> Served | None:
        """The creative for one request, or None when no creative has that size."""
        table = self.tables.get(size or ANY_SIZE)
        if table is None:
            return None
        if not in_holdout(not ExperimentState(self.status).concluded, self.config.holdout_share, rnd):
            return Served(table.pick(rnd), (), False)
        user_tags = self.tags.get(user)
        if user_tags and table.preference is not None:
            choice = table.preference.choose(user_tags, np_rng)
            return Served(choice.creative_id, choice.matched, True)
        return Served(table.pick(rnd), (), True)


def _tables(arms: _Arms, allocation: Mapping[str, float], with_preference: bool) -> dict[str, _SizeTable]:
    groups: dict[str, list[CreativeArm]] = {ANY_SIZE: []}
    for arm in arms.arms:
        if allocation.get(arm.id, 0.0) > 0:
            groups[ANY_SIZE].append(arm)
            if arm.size:
                groups.setdefault(arm.size, []).append(arm)
    out: dict[str, _SizeTable] = {}
    for size, members in groups.items():
        if not members:
            continue
        total = sum(allocation[a.id] for a in members)
        shares = {a.id: allocation[a.id] / total for a in members}
        table = _SizeTable(list(shares), list(np.cumsum(list(shares.values()))))
        if with_preference:
            table.preference = PreferenceAwareServer(members, shares)
        out[size] = table
    return out


class ServingCache:
    def __init__(self, ws: Workspace, refresh_seconds: float = 1.0) -> None:
        self.ws = ws
        self.refresh_seconds = refresh_seconds
        self._views: dict[str, ExperimentView] = {}
        self._refreshing: set[str] = set()
        self._loading: dict[tuple[str, int], asyncio.Future[ExperimentView]] = {}  # touched on the event loop only
        self._generation = 0  # counts invalidations
        self._lock = threading.Lock()
        self._refresher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="serving-refresh")
        self.rnd = random.Random()
        self.np_rng = np.random.default_rng()

    def view(self, experiment_id: str) -> ExperimentView:
        """The experiment's view now, read here if it is not in memory; ExperimentNotFound when there is no such experiment."""
        view = self._kept(experiment_id)
        if view is None:
            view = self._views[experiment_id] = self._load(experiment_id, None)
        return view

    async def view_off_loop(self, experiment_id: str) -> ExperimentView:
        """view() for request handlers: a view not in memory is read in a worker thread, never on the event loop,
        and once for all the requests that wait for it (a burst after `invalidate` makes one read, not one each)."""
        view = self._kept(experiment_id)
        if view is not None:
            return view
        key = (experiment_id, self._generation)
        loading = self._loading.get(key)
        if loading is None:
            loading = self._loading[key] = asyncio.ensure_future(self._load_and_keep(*key))
            loading.add_done_callback(functools.partial(self._forget, key))
        return await asyncio.shield(loading)  # a request that goes away does not cancel the read the others wait for

    def _forget(self, key: tuple[str, int], loading: asyncio.Future[ExperimentView]) -> None:
        del self._loading[key]
        if not loading.cancelled():
            loading.exception()  # seen, even when every request that waited for it went away

    async def _load_and_keep(self, experiment_id: str, generation: int) -> ExperimentView:
        view = await run_in_threadpool(self._load, experiment_id, None)
        if generation == self._generation:  # not invalidated while it was read
            self._views[experiment_id] = view
        return view

    def _kept(self, experiment_id: str) -> ExperimentView | None:
        """The view in memory (a stale one is refreshed in the background meanwhile), or None."""
        view = self._views.get(experiment_id)
        if view is not None and time.monotonic() - view.loaded_at > self.refresh_seconds:
            self._refresh_later(experiment_id)
        return view

    def _refresh_later(self, experiment_id: str) -> None:
        with self._lock:
            if experiment_id in self._refreshing:
                return
            self._refreshing.add(experiment_id)
        self._refresher.submit(self._refresh, experiment_id)

    def _refresh(self, experiment_id: str) -> None:
        previous = self._views.get(experiment_id)
        try:
            view = self._load(experiment_id, previous)
            if self._views.get(experiment_id) is previous:  # not invalidated (and reloaded) meanwhile
                self._views[experiment_id] = view
        except ExperimentNotFound:
            self._views.pop(experiment_id, None)  # deleted: the next request says so
        except Exception:  # noqa: BLE001 - keep serving the view we have; try again after the interval
            log.exception("refreshing the serving view of %s failed; serving the previous one", experiment_id)
            if previous is not None:
                previous.loaded_at = time.monotonic()
        finally:
            with self._lock:
                self._refreshing.discard(experiment_id)

    def close(self) -> None:
        self._refresher.shutdown(wait=True, cancel_futures=True)

    def invalidate(self, experiment_id: str | None = None) -> None:
        """Forget cached views; the next request reads everything again (arms, files, landing pages, tags)."""
        with self._lock:
            self._generation += 1  # a read that started before this is not kept
        if experiment_id is None:
            self._views.clear()
        else:
            self._views.pop(experiment_id, None)

    def _load(self, experiment_id: str, previous: ExperimentView | None) -> ExperimentView:
        store = self.ws.experiments
        status = store.status(experiment_id)  # ExperimentNotFound when it is gone
        ids = {s.creative_id for s in status.arms}
        arms = previous.loaded_arms if previous is not None else None
        if arms is None or {a.id for a in arms.arms} != ids:
            arm_list = tuple(store.arms(experiment_id))
            arms = _Arms(arm_list, served_creatives(self.ws, [a.id for a in arm_list]))
        tags = previous.loaded_tags if previous is not None else None
        stored_round = tag_round(self.ws.engine, experiment_id)
        if tags is None or tags.round_no != stored_round:
            stored = latest_tags(self.ws.engine, experiment_id)
            tags = _Tags(stored.round_no, {u: [(t.attribute, t.value) for t in ts] for u, ts in tags_by_user(stored.result.tags).items()})
        allocation = {k: float(v) for k, v in (status.allocation or {}).items() if k in arms.served}
        if ExperimentState(status.status).concluded:  # paused: allocation as is
            placement = {a.id: a.placement for a in arms.arms}
            for p, leader in self._leaders(status, placement).items():
                allocation.update({cid: float(cid == leader) for cid in allocation if placement.get(cid) == p})
        return ExperimentView(experiment_id, status.status, status.current_round, ExperimentConfig.from_dict(status.config),
                              arms.served, allocation, _tables(arms, allocation, with_preference=bool(tags.by_user)),
                              time.monotonic(), tags.by_user, arms, tags)

    def _leaders(self, status: ExperimentStatus, placement: Mapping[str, str]) -> dict[str, str]:
        """What a concluded experiment shows per placement: its winner, else (stopped) the last closed round's best arm.
        A placement with neither keeps its allocation."""
        leaders = {placement[s.creative_id]: s.creative_id for s in status.arms if s.state == ArmState.WINNER and s.creative_id in placement}
        if status.winner in placement:
            leaders.setdefault(placement[status.winner], status.winner)
        if status.rounds_closed:
            last = load_round(self.ws.engine, status.experiment_id, status.current_round - 1)
            bests = [d.best for d in last.placements.values()] or [last.decision.best]
            for best in bests:
                if best in placement:
                    leaders.setdefault(placement[best], best)
        return leaders
