"""next_generation: learn element effects, render a pool of new combinations, add the best as arms."""


from pathlib import Path

from prefect import flow, task
from pydantic import Field

from creative.compose import BatchSelection, compose_batch
from experiments.effects import fit_effects, thompson_scorer
from experiments.store import ExperimentStore, load_manifest
from flows.common import FlowParams, publish

SLOT_KINDS = {"product": "products", "logo": "logos", "title": "titles", "model": "models", "background": "backgrounds"}


class NextGenerationParams(FlowParams):
    experiment_id: str = Field(min_length=1)
    n: int = Field(default=4, ge=1, le=100)
    pool: int = Field(default=120, ge=1, description="new combinations rendered and scored before choosing n")
    out: str
    seed: int = 0


def selection_from_arms(arms, elements_kind) -> BatchSelection:
    """The experiment's own elements, offers, templates and sizes: new arms recombine what is there.

    Products are named by catalog offer where the arms have one, so an image shared by two catalogs
    (say an English and a Chinese listing) does not pull the other catalog's product in."""
    picked: dict[str, set[str]] = {v: set() for v in SLOT_KINDS.values()}
    for arm in arms:
        for slot, code in arm.elements.items():
            kind = elements_kind(code)
            if kind == "product" and arm.elements.get("offer"):
                picked["products"].add(arm.elements["offer"])
            elif kind in SLOT_KINDS:
                picked[SLOT_KINDS[kind]].add(code)
    return BatchSelection(**{k: tuple(sorted(v)) for k, v in picked.items()},
                          templates=tuple(sorted({a.template for a in arms if a.template})),
                          sizes=tuple(sorted({a.size for a in arms if a.size})))


@task
def learn_effects(params: NextGenerationParams) -> dict:
    _, store = params.open()
    experiments = ExperimentStore(store.engine)
    counts = {s.creative_id: (s.impressions, s.clicks) for s in experiments.status(params.experiment_id).arms}
    arms = experiments.arms(params.experiment_id)
    return {"arms": arms, "effects": fit_effects(arms, counts)}


@task
def render_best(params: NextGenerationParams, arms, effects) -> dict:
    home, store = params.open()
    score = thompson_scorer(effects, seed=params.seed)
    existing = {a.id for a in arms}

    def keep(records: list[dict]) -> list[dict]:
        fresh = [r for r in records if r["id"] not in existing]
        return sorted(fresh, key=lambda r: score(r["attributes"]), reverse=True)[: params.n]

    kinds = {e.code: e.kind for e in store.list()}  # arms also name catalog offers, which are not elements
    selection = selection_from_arms(arms, kinds.get)
    result = compose_batch(home, store.engine, selection, params.out, max_n=params.pool, seed=params.seed, keep=keep)
    return {"manifest": result.manifest, "gallery": result.gallery,
            "kept": [(c["id"], round(score(c["attributes"]), 3)) for c in result.creatives]}


@task
def add_arms(params: NextGenerationParams, manifest: str) -> list[str]:
    _, store = params.open()
    return ExperimentStore(store.engine).add_arms(params.experiment_id, load_manifest(manifest).arms)


@flow(name="next_generation")
def next_generation(params: NextGenerationParams) -> dict:
    """Recombine the experiment's elements, keep the banners the learned effects favour, add them as arms."""
    learned = learn_effects(params)
    rendered = render_best(params, learned["arms"], learned["effects"])
    added = add_arms(params, rendered["manifest"])
    top = learned["effects"].ranked()[:5]
    summary = (f"# Next generation for `{params.experiment_id}`\n\n{len(added)} new arms added.\n\n"
               "Strongest element effects (log-odds, 95% interval):\n\n" +
               "\n".join(f"- {e.attribute}={e.value}: {e.coef:+.2f} [{e.ci_low:+.2f}, {e.ci_high:+.2f}]" for e in top))
    publish(f"next-generation-{params.experiment_id}", summary, [{"creative": c, "score": s} for c, s in rendered["kept"]],
            {"gallery": Path(rendered["gallery"])})
    return {"added": added, "gallery": rendered["gallery"], "manifest": rendered["manifest"],
            "top_effects": [f"{e.attribute}={e.value} {e.coef:+.2f}" for e in top]}
