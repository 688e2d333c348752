"""launch_batch: a marketer's selection becomes banners in the registry and, if asked, an experiment over them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from creative.compose import BatchResult, BatchSelection, compose_batch
from creative.services.experiments import CreatedExperiment, create_experiment
from creative.services.workspace import Workspace
from experiments.policies import DEFAULT_POLICY


@dataclass(frozen=True)
class ExperimentPlan:
    """An experiment to start over the batch's usable banners."""

    name: str
    policy: str = DEFAULT_POLICY
    policy_params: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchLaunched:
    batch: BatchResult
    experiment: CreatedExperiment | None


def launch_batch(ws: Workspace, selection: BatchSelection, out_dir: str | Path, *, experiment: ExperimentPlan | None = None,
                 formats: Sequence[str] = ("jpeg",), max_n: int | None = None, seed: int = 0, workers: int | None = None,
                 progress: Callable[[int, int], None] | None = None, render: Callable[..., list[dict]] | None = None) -> BatchLaunched:
    """Compose the selection (registered as one batch), then start the experiment if one is planned."""
    batch = compose_batch(ws.home, ws.engine, selection, out_dir, formats=formats, max_n=max_n, seed=seed, workers=workers,
                          progress=progress, render=render)
    created = None
    if experiment is not None:
        created = create_experiment(ws, experiment.name, batch.creatives, experiment.policy,
                                    policy_params=experiment.policy_params, config=experiment.config)
    return BatchLaunched(batch, created)
