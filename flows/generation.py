"""next_generation: learn element effects, render a pool of new combinations, add the best as arms."""


from pathlib import Path

from prefect import flow
from pydantic import Field

from creative.services import next_generation as grow
from flows.common import FlowParams, publish, run_logger, run_name
from flows.compose import render_as_tasks


class NextGenerationParams(FlowParams):
    experiment_id: str = Field(min_length=1)
    n: int = Field(default=4, ge=1, le=100)
    pool: int = Field(default=120, ge=1, description="new combinations rendered and scored before choosing n")
    out: str
    seed: int = 0


@flow(name="next_generation", flow_run_name=run_name(
    NextGenerationParams, lambda p: f"next generation · {p.experiment_id} · {p.n} of {p.pool}", "next generation"))
def next_generation(params: NextGenerationParams) -> dict:
    """Recombine the experiment's elements, keep the banners the learned effects favour, add them as arms."""
    grown = grow(params.workspace(), params.experiment_id, params.out, n=params.n, pool=params.pool, seed=params.seed,
                 render=render_as_tasks())
    run_logger().info("%d new arms added to %s from %d rendered combinations; strongest effects: %s", len(grown.added),
                      params.experiment_id, params.pool, "; ".join(grown.top_effects[:3]) or "none yet")
    summary = (f"# Next generation for `{params.experiment_id}`\n\n{len(grown.added)} new arms added.\n\n"
               "Strongest element effects (log-odds):\n\n" + "\n".join(f"- {e}" for e in grown.top_effects))
    publish(f"next-generation-{params.experiment_id}", summary, [{"creative": c, "score": s} for c, s in grown.scores],
            {"gallery": Path(grown.gallery)})
    return {"added": list(grown.added), "gallery": grown.gallery, "manifest": grown.manifest, "top_effects": list(grown.top_effects)}
