"""The use cases: what a designer, a marketer or a scheduler does, as one call each.

The CLI, the web app and the Prefect flows call these and nothing below them for business steps;
each takes a `Workspace` (the home and its database) and returns plain dataclasses.
"""

from creative.services.batches import BatchLaunched, ExperimentPlan, launch_batch
from creative.services.copy import approve_title, copy_pipeline, guardrail_brands
from creative.services.experiments import (
    NextGeneration,
    archive_experiment,
    create_experiment,
    list_experiments,
    next_generation,
    pause_experiment,
    resume_experiment,
    served_creatives,
    stop_experiment,
)
from creative.services.rounds import RoundClosed, RoundWaiting, close_round
from creative.services.workspace import Workspace

__all__ = [
    "BatchLaunched", "ExperimentPlan", "NextGeneration", "RoundClosed", "RoundWaiting", "Workspace", "approve_title",
    "archive_experiment", "close_round", "copy_pipeline", "create_experiment", "guardrail_brands", "launch_batch",
    "list_experiments", "next_generation", "pause_experiment", "resume_experiment", "served_creatives", "stop_experiment",
]
