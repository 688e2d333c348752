"""The end-to-end demo: samples -> copy -> banners -> experiment -> simulated rounds -> next generation.

The audience is synthetic with planted truth (DEMO_TRUTH), so the demo can show that the engine
finds what was planted. Everything else is the real pipeline, run as Prefect flows.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from assets.samples import LOGO_BRANDS, SAMPLES_DIR
from creative.catalog import list_products
from creative.services.rounds import experiment_report
from experiments.inbox import drop_file
from experiments.simulator import Audience
from experiments.store import ExperimentStore
from experiments.tag_store import latest_tags
from experiments.tags import export_tags, precision_recall
from flows.campaign import CampaignParams, launch_campaign
from flows.compose import ComposeParams, compose_batch_flow
from flows.generation import NextGenerationParams, next_generation
from flows.ingest import IngestParams, ingest_elements
from flows.rounds import RoundParams, experiment_round

# Log-odds effects the synthetic audience responds to; the experiment does not know them.
DEMO_TRUTH = {
    ("template", "promo"): 0.40,
    ("title_style", "promotion"): 0.30,
    ("has_model", True): 0.20,
    ("colour_family", "warm"): 0.10,
    ("template", "minimal"): -0.25,
}
# The arm that is best under DEMO_TRUTH also gets this much more, so one creative clearly wins.
PLANTED_WINNER_BOOST = 0.6
# Users' planted tastes are about title styles: four values, all present in the campaign. Half the users
# have one, and click banners with their style this many times as often as the population does.
PREFERENCE_ATTRIBUTES = ("title_style",)
PREFERENCE_MULTIPLIER = 5.0


@dataclass(frozen=True)
class DemoConfig:
    """Traffic and duration are sized so the tags recover the planted tastes before the experiment concludes
    (measured on seeds 1, 2, 3 and 7, README "The demo"): each user is seen often, the campaign has enough
    banners that title style is not tied to one template or badge, and most traffic is spread evenly, so a
    user's taste for a style is not mistaken for a trait of the few banners the policy favours."""

    out: Path = Path("demo-out")
    rounds: int = 30
    impressions_per_round: int = 5000
    next_generation_after: int = 1
    users: int = 60
    max_creatives: int = 100
    min_exploration: float = 0.9  # top-two Thompson sampling allocates the rest
    tag_min_probability: float = 0.97  # stricter than the default 0.9: lifts that ride on a correlated trait stay untagged
    engine: str = "lm"
    model: str | None = None
    seed: int = 7


Step = Callable[[str], None]


def planted_audience(arms, config: DemoConfig) -> Audience:
    """Users who respond to DEMO_TRUTH, plus a boost for the arm DEMO_TRUTH already favours most."""
    scout = Audience(1, base_ctr=0.015, element_effects=DEMO_TRUTH, seed=config.seed)
    favourite = max(arms, key=scout.base_ctr_of).id
    return Audience(config.users, base_ctr=0.015, element_effects=DEMO_TRUTH, seed=config.seed,
                    creative_effects={favourite: PLANTED_WINNER_BOOST}, preference_attributes=PREFERENCE_ATTRIBUTES,
                    preference_multiplier=PREFERENCE_MULTIPLIER,
                    space={"title_style": tuple(sorted({str(a.attributes.get("title_style")) for a in arms}))})


def _serve_round(audience: Audience, experiments: ExperimentStore, experiment_id: str, round_no: int, config: DemoConfig, home_root: Path) -> int:
    """Traffic for one round under the experiment's current allocation, dropped into its inbox."""
    status = experiments.status(experiment_id)
    arms = experiments.arms(experiment_id)
    rng = np.random.default_rng(config.seed * 1000 + round_no)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(hours=round_no)
    events = list(audience.events(experiment_id, arms, status.allocation, config.impressions_per_round, rng=rng,
                                  start=start, seconds=3000, id_prefix=f"r{round_no}-"))
    drop_file(home_root, experiment_id, f"round-{round_no:03d}.jsonl", [json.dumps(e) for e in events])
    return len(events)


def run_demo(home_dir: str | None, db_url: str | None, config: DemoConfig, step: Step) -> dict:
    shared = {"home": home_dir, "db_url": db_url}
    out = config.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    step("loading the sample library")
    ingest_elements(IngestParams(folder=str(SAMPLES_DIR), brands=LOGO_BRANDS, **shared))
    home, store = IngestParams(folder=str(SAMPLES_DIR), **shared).open()
    products = list_products(store.engine)
    english = [p for p in products if p.language == "en"]
    chinese = [p for p in products if p.language == "zh"]
    logos = [e.code for e in store.list("logo")]
    models = [e.code for e in store.list("model")]
    backgrounds = [e.code for e in store.list("background")]

    step("generating copy and launching the campaign (embedded language model)")
    campaign = launch_campaign(CampaignParams(
        **shared, name="demo campaign", products=[p.product_id for p in english], logos=logos, models=models,
        sizes=["300x250"], engine=config.engine, model=config.model, max_creatives=config.max_creatives,
        experiment_config={"max_rounds": config.rounds, "tag_min_probability": config.tag_min_probability},
        policy="top-two", policy_params={"min_exploration": config.min_exploration},
        out=str(out / "campaign"), seed=config.seed))
    experiment_id = campaign["experiment_id"]

    step("composing the showcase: every template at every size")
    showcase = [e for p in (english[:1] + chinese[:1]) for e in p.images]
    compose_batch_flow(ComposeParams(**shared, products=showcase, logos=logos, models=models[:1],
                                     backgrounds=backgrounds[:1], out=str(out / "gallery"), seed=config.seed))

    experiments = ExperimentStore(store.engine)
    audience = planted_audience(experiments.arms(experiment_id), config)
    rounds: list[dict] = []
    generation = None
    for round_no in range(1, config.rounds + 1):
        step(f"round {round_no}/{config.rounds}: serving simulated traffic and closing the round")
        _serve_round(audience, experiments, experiment_id, round_no, config, home.root)
        result = experiment_round(RoundParams(**shared, experiment_id=experiment_id, report_dir=str(out / "report"),
                                              write_report=False))
        rounds.append(result)
        if round_no == config.next_generation_after and result["decision"] in ("continue", "retire"):
            step("next generation: proposing and rendering banners from the winning elements")
            generation = next_generation(NextGenerationParams(**shared, experiment_id=experiment_id, n=4,
                                                              out=str(out / "next-generation"), seed=config.seed))
        if result["decision"] in ("promote", "stop"):
            break

    step("writing the experiment report and user tags")
    ws = IngestParams(folder=str(SAMPLES_DIR), **shared).workspace()
    report = experiment_report(ws, experiment_id, out / "report")
    tags = latest_tags(ws.engine, experiment_id).result
    export_tags(tags, out / "tags.csv", experiment_id=experiment_id)
    export_tags(tags, out / "tags.json", experiment_id=experiment_id)
    planted = audience.planted_tags()
    precision, recall = precision_recall(tags.tags, planted)
    summary = {
        "experiment_id": experiment_id,
        "rounds": len(rounds),
        "final_decision": rounds[-1]["decision"],
        "winner": rounds[-1]["winner"],
        "best": rounds[-1]["best"],
        "confidence": rounds[-1]["confidence"],
        "decisions": [r["decision"] for r in rounds],
        "next_generation": generation,
        "tags": len(tags.tags),
        "tagged_users": len({t.user for t in tags.tags}),
        "planted_users": len(planted),
        "tag_precision": precision,
        "tag_recall": recall,
        "gallery": str(out / "gallery" / "index.html"),
        "campaign_gallery": str(out / "campaign" / "index.html"),
        "report": str(report),
        "tags_csv": str(out / "tags.csv"),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary
