"""launch_campaign: copy for the products, a composed batch, and an experiment over its banners."""


from prefect import flow
from pydantic import Field

from experiments.policies import DEFAULT_POLICY
from flows.common import FlowParams, publish, run_logger, run_name
from flows.compose import POLICIES, ComposeParams, compose_batch_flow
from flows.copy import CopyParams, generate_copy


class CampaignParams(FlowParams):
    name: str = Field(min_length=1, max_length=200)
    products: list[str] = Field(min_length=1, description="catalog product ids")
    logos: list[str] = []
    models: list[str] = []
    backgrounds: list[str] = []
    templates: list[str] = ["all"]
    sizes: list[str] = ["300x250"]
    styles: list[str] = ["descriptive", "promotion", "benefit", "poetic"]
    titles_per_style: int = Field(default=1, ge=1, le=10)
    engine: str = Field(default="lm", pattern="^(lm|grammar)$")
    model: str | None = None
    max_creatives: int | None = Field(default=24, ge=2)
    policy: str = Field(default=DEFAULT_POLICY, pattern=POLICIES)
    policy_params: dict = {}  # e.g. {"min_exploration": 0.2}
    experiment_config: dict = {}  # experiments.model.ExperimentConfig fields, e.g. {"max_rounds": 20}
    out: str
    seed: int = 0


@flow(name="launch_campaign", flow_run_name=run_name(CampaignParams, lambda p: f"campaign · {p.name} · {len(p.products)} products", "campaign"))
def launch_campaign(params: CampaignParams) -> dict:
    """Marketer's batch launch: titles per style, banners from them, an experiment over the banners."""
    shared = params.model_dump(include={"home", "db_url"})
    copy = generate_copy(CopyParams(**shared, products=params.products, styles=params.styles, n=params.titles_per_style,
                                    engine=params.engine, model=params.model, seed=params.seed))
    titles = [code for r in copy for code in r["titles"]]
    # Products by catalog id: an image shared with another catalog's listing does not pull that listing in.
    batch = compose_batch_flow(ComposeParams(
        **shared, products=params.products, logos=params.logos, titles=titles, models=params.models, backgrounds=params.backgrounds,
        templates=params.templates, sizes=params.sizes, max_n=params.max_creatives, seed=params.seed, out=params.out,
        experiment_name=params.name, policy=params.policy, policy_params=params.policy_params, experiment_config=params.experiment_config))
    run_logger().info("campaign %s: %d titles, %d banners, experiment %s", params.name, len(titles), batch["creatives"], batch["experiment_id"])
    publish("launch-campaign", f"# Campaign {params.name}\n\nExperiment `{batch['experiment_id']}` over {batch['creatives']} banners "
            f"({len(titles)} titles from {len(params.products)} products).", links={"gallery": batch["gallery"]})
    return {"titles": titles, **batch}
