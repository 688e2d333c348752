"""Experiments over registered creatives: create (once), serve, grow a next generation, pause, resume, stop, archive."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy.exc import IntegrityError

from creative.compose import BatchSelection, compose_batch
from creative.creatives import Creative, get_creatives, landing_urls, register
from creative.errors import CreativeError
from creative.services.workspace import Workspace
from experiments import lifecycle
from experiments.effects import fit_effects, thompson_scorer
from experiments.errors import InvalidExperiment
from experiments.lifecycle import StateChange
from experiments.model import CreativeArm, ExperimentConfig, ExperimentStatus
from experiments.policies import DEFAULT_POLICY
from experiments.rounds import round_history
from experiments.summary import PlacementResult, experiment_summary
from experiments.tag_store import latest_tags, refresh_tags

SERVABLE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
SLOT_SELECTION = {"logo": "logos", "title": "titles", "model": "models", "background": "backgrounds"}


@dataclass(frozen=True)
class CreatedExperiment:
    experiment_id: str
    arms: tuple[str, ...]
    excluded: tuple[tuple[str, tuple[str, ...]], ...]  # (creative id, its hard layout violations)
    existing: bool = False  # the same name over the same creatives was created before: this is that experiment


def arm_of(creative: Creative) -> CreativeArm:
    """What the experiment keeps of a creative: its id, placement and the attributes effects are learned on."""
    return CreativeArm(id=creative.creative_id, attributes=dict(creative.attributes), size=creative.size, template=creative.template)


def create_experiment(ws: Workspace, name: str, creatives: Sequence[Creative], policy: str = DEFAULT_POLICY, *,
                      policy_params: Mapping[str, Any] | None = None, config: Mapping[str, Any] | None = None) -> CreatedExperiment:
    """An experiment over the usable creatives (registered first, so serving finds their files and offers).

    Idempotent: the same name over the same usable creatives gives the experiment created first (its id
    is derived from both, so two requests at once cannot both insert it); after it is archived, a new one."""
    register(ws.engine, creatives)
    usable = [c for c in creatives if c.usable]
    ids = tuple(c.creative_id for c in usable)
    excluded = tuple((c.creative_id, c.violations) for c in creatives if not c.usable)
    experiment_id, exists = lifecycle.creation_id(ws.engine, name, ids)
    if not exists:
        try:
            ws.experiments.create_experiment(name, [arm_of(c) for c in usable], policy, policy_params=policy_params,
                                             config=config, experiment_id=experiment_id)
        except IntegrityError:  # the same creation committed first (a double click)
            exists = True
    return CreatedExperiment(experiment_id, ids, excluded, existing=exists)


@dataclass(frozen=True)
class ServedCreative:
    creative_id: str
    size: str | None
    file: Path | None  # None: nothing to show (not registered, moved, or not an image under the home)
    landing_url: str | None


def served_creatives(ws: Workspace, ids: Sequence[str]) -> dict[str, ServedCreative]:
    """What serving needs of each arm, from the registry: the banner file and the offer's landing page."""
    found = get_creatives(ws.engine, ids)
    urls = landing_urls(ws.engine, found.values())
    root = ws.home.root.resolve()
    out = {}
    for cid in ids:
        creative = found.get(cid)
        if creative is None:
            out[cid] = ServedCreative(cid, None, None, None)
            continue
        path = Path(creative.file).resolve()
        servable = path.suffix.lower() in SERVABLE_SUFFIXES and path.is_relative_to(root)
        out[cid] = ServedCreative(cid, creative.size, path if servable else None, urls.get(cid))
    return out


def stop_experiment(ws: Workspace, experiment_id: str) -> StateChange:
    """End an experiment now (running or paused): no more rounds, no winner declared; serving shows its leader, if any."""
    return lifecycle.stop_experiment(ws.engine, experiment_id)


def pause_experiment(ws: Workspace, experiment_id: str) -> StateChange:
    """Hold a running experiment: serving keeps its current allocation, no round closes (schedules report "paused")."""
    return lifecycle.pause_experiment(ws.engine, experiment_id)


def resume_experiment(ws: Workspace, experiment_id: str) -> StateChange:
    """Let a paused experiment close rounds again; its round clock restarts now."""
    return lifecycle.resume_experiment(ws.engine, experiment_id)


def archive_experiment(ws: Workspace, experiment_id: str) -> StateChange:
    """Put an ended (promoted or stopped) experiment away: read-only, hidden from default listings."""
    return lifecycle.archive_experiment(ws.engine, experiment_id)


def list_experiments(ws: Workspace, *, archived: bool = False) -> list[ExperimentStatus]:
    """Experiments oldest first; archived ones only when asked for."""
    return [ws.experiments.status(i) for i in lifecycle.listed_experiment_ids(ws.engine, archived=archived)]


@dataclass(frozen=True)
class NextGeneration:
    added: tuple[str, ...]
    gallery: str
    manifest: str
    scores: tuple[tuple[str, float], ...]
    top_effects: tuple[str, ...] = field(default_factory=tuple)


def selection_from(creatives: Sequence[Creative]) -> BatchSelection:
    """The experiment's own offers, elements, templates and sizes: a new generation recombines what is there.

    Products are named by catalog offer where a creative has one, so an image shared by two catalogs
    (say an English and a Chinese listing) does not pull the other catalog's product in."""
    picked: dict[str, set[str]] = {"products": set(), **{v: set() for v in SLOT_SELECTION.values()}}
    for c in creatives:
        picked["products"].add(c.offer_id or c.elements.get("product", ""))
        for slot, code in c.elements.items():
            if slot in SLOT_SELECTION:
                picked[SLOT_SELECTION[slot]].add(code)
    picked["products"].discard("")
    return BatchSelection(**{k: tuple(sorted(v)) for k, v in picked.items()},
                          templates=tuple(sorted({c.template for c in creatives})), sizes=tuple(sorted({c.size for c in creatives})))


def next_generation(ws: Workspace, experiment_id: str, out_dir: str | Path, *, n: int = 4, pool: int = 120, seed: int = 0,
                    render: Callable[..., list[dict]] | None = None) -> NextGeneration:
    """Learn element effects, render a pool of new combinations, add the `n` the effects favour as arms."""
    arms = ws.experiments.arms(experiment_id)
    counts = {s.creative_id: (s.impressions, s.clicks) for s in ws.experiments.snapshots(experiment_id)}
    effects = fit_effects(arms, counts)
    creatives = list(get_creatives(ws.engine, [a.id for a in arms]).values())
    if not creatives:
        raise CreativeError(f"experiment {experiment_id} has no composed creatives in the library to recombine; "
                            "create it from a batch (`creative experiment create --manifest DIR`)")
    score = thompson_scorer(effects, seed=seed)
    existing = {a.id for a in arms}

    def keep(records: list[dict]) -> list[dict]:
        fresh = [r for r in records if r["id"] not in existing]
        return sorted(fresh, key=lambda r: score(r["attributes"]), reverse=True)[:n]

    batch = compose_batch(ws.home, ws.engine, selection_from(creatives), out_dir, max_n=pool, seed=seed, keep=keep, render=render)
    added = ws.experiments.add_arms(experiment_id, [arm_of(c) for c in batch.creatives if c.usable])
    top = effects.ranked()[:5]
    return NextGeneration(tuple(added), batch.gallery, batch.manifest,
                          tuple((c.creative_id, round(score(c.attributes), 3)) for c in batch.creatives),
                          tuple(f"{e.attribute}={e.value} {e.coef:+.2f}" for e in top))


# Settings a person may change while an experiment runs; the others shape its statistics and are fixed at creation.
SETTABLE = ("tag_min_impressions", "tag_min_probability")


def update_settings(ws: Workspace, experiment_id: str, **changes: Any) -> ExperimentConfig:
    """Change settings (checked by ExperimentConfig). New tag thresholds re-fit the last closed round's stored tags,
    so the tags page, exports and serving follow at once instead of after the next round."""
    fixed = sorted(set(changes) - set(SETTABLE))
    if fixed:
        raise InvalidExperiment(f"setting(s) {', '.join(fixed)} are fixed when the experiment is created (they change its statistics); "
                                f"settable now: {', '.join(SETTABLE)}")
    config = ws.experiments.update_config(experiment_id, changes)
    stored = latest_tags(ws.engine, experiment_id)
    if stored.round_no:
        refresh_tags(ws.engine, experiment_id, stored.round_no)
    return config


def placement_winners(ws: Workspace, experiment_id: str) -> list[tuple[str, str, str]]:
    """(placement, creative id, verdict kind) of each placement's best banner: the winner once called, else the leader."""
    status = ws.experiments.status(experiment_id)
    summary = experiment_summary(status, ws.experiments.arms(experiment_id), round_history(ws.engine, experiment_id))
    groups = summary.placements or (PlacementResult("all sizes", summary.verdict, summary.lines),)
    return [(g.placement, g.lines[0].creative_id, g.verdict.kind) for g in groups if g.lines]
