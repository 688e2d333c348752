"""Experiments: CTR tracking, statistics valid under peeking, winners, element effects, preference tags.

Knows creatives only as ids and attributes (no Pillow, transformers or Prefect). Public API, the one
flows, the CLI (creative/cli/experiment.py) and the web front call; everything crossing it is a dataclass:

Store and ingestion (experiments.store)
    store = ExperimentStore(engine)                       # engine from creative.db.open_database(url)
    exp_id = store.create_experiment(name, creatives, policy="thompson" | "top-two" | "fixed",
                                     policy_params={...}, config=ExperimentConfig(...) or {...}) -> str
    store.add_arms(exp_id, creatives) -> list[str]
    store.ingest(exp_id, events_iterable) -> IngestReport  # dicts in the wire format, or events.Event
    store.ingest_file(exp_id, path) -> IngestReport       # .jsonl / .ndjson / .json / .csv (optionally .gz)
    store.status(exp_id) -> ExperimentStatus; store.arms(exp_id) -> list[CreativeArm]

Rounds (experiments.rounds; creative.services.close_round is the one caller outside tests)
    run_round(engine, exp_id, wait=0.0, expected_round=None, when_ready=False) -> RoundResult
    experiments.readiness: when a round may close (min_round_impressions per placement, or max_round_minutes)

Lifecycle (experiments.lifecycle): pause / resume / stop / archive_experiment(engine, exp_id) -> StateChange;
    listed_experiment_ids(engine, archived=False); creation_id(engine, name, creative_ids) for idempotent creation

Stored tags (experiments.tag_store)
    refresh_tags(engine, exp_id, round_no) -> StoredTags;  latest_tags(engine, exp_id) -> StoredTags
    load_round(engine, exp_id, round_no) -> RoundResult;  round_history(engine, exp_id)

Pure pieces
    experiments.stats.{bayesian, frequentist, sequential, srm}   statistics (ProportionStatistic in, results out)
    experiments.policies.make_policy(name, **params) -> AllocationPolicy.allocate(arms, rng)
    experiments.decisions.evaluate_round(arms, round_no, config, policy, allocation_used) -> RoundOutcome
    experiments.effects.fit_effects(arms, counts) -> EffectsResult;  propose_combinations(result, space, n)
    experiments.tags.estimate_tags(exposures, arms, config) -> TagResult; export_tags(result, path) / export_csv / export_json
    experiments.serving.PreferenceAwareServer(arms, allocation, boost).choose(user_tags, rng) -> ServeChoice
    experiments.simulator.Audience(n_users, ...).events(exp_id, arms, allocation, n) -> wire-format dicts
    experiments.validation.run_validation() -> ValidationSummary

Reports (experiments.report)
    write_report(engine, exp_id, out_dir) -> Path          # index.html + PNGs beside it
    write_validation_report(summary, out_dir) -> Path

Errors are experiments.errors.* (subclasses of creative.errors.CreativeError) with actionable messages.
The default decision rule is the mSPRT (experiments.stats.sequential; tuning parameter tau, the mixing
scale, by default 0.2 × pooled CTR), so a scheduler may look every round.
"""

from experiments.model import (
    ArmRoundStats,
    ArmSnapshot,
    CreativeArm,
    Decision,
    ExperimentConfig,
    ExperimentStatus,
    IngestReport,
    RoundResult,
)

__all__ = [
    "ArmRoundStats",
    "ArmSnapshot",
    "CreativeArm",
    "Decision",
    "ExperimentConfig",
    "ExperimentStatus",
    "IngestReport",
    "RoundResult",
]
