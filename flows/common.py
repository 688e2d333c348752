"""What every flow shares: parameter validation, opening the home, run names, logs and artifacts."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from prefect import get_client, get_run_logger
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.context import FlowRunContext, TaskRunContext
from prefect.runtime import flow_run
from pydantic import BaseModel, ConfigDict, ValidationError

from creative.elements.store import ElementStore
from creative.errors import CreativeError
from creative.home import Home
from creative.services import Workspace
from experiments.errors import ExperimentError


class FlowParams(BaseModel):
    """Base of every flow's parameters: the home and database, validated before any work starts."""

    model_config = ConfigDict(extra="forbid")
    home: str | None = None
    db_url: str | None = None

    def open(self) -> tuple[Home, ElementStore]:
        ws = self.workspace()
        return ws.home, ws.elements

    def workspace(self) -> Workspace:
        return Workspace.open(self.home, self.db_url)


P = TypeVar("P", bound=FlowParams)


def run_name(params_type: type[P], describe: Callable[[P], str], fallback: str) -> Callable[[], str]:
    """A `flow_run_name` callable: the run is named by what it does (`describe(params)`), so the Prefect UI
    lists "round 12 · exp-… · spring", not a random pair of words. Naming never fails a run: `fallback`."""
    def name() -> str:
        raw = flow_run.parameters.get("params")
        try:
            params = raw if isinstance(raw, params_type) else params_type.model_validate(raw)
            return describe(params)[:200]
        except (ValidationError, CreativeError, ExperimentError) as exc:
            run_logger().warning("run named %r: %s", fallback, exc)
            return fallback
    return name


def rename_run(name: str) -> None:
    """Rename the current flow run once its outcome is known (the batch id made while it ran, a round's decision)."""
    ctx = FlowRunContext.get()
    if ctx is None:
        return
    with get_client(sync_client=True) as client:
        client.set_flow_run_name(ctx.flow_run.id, name=name[:200])
    ctx.flow_run.name = name[:200]


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """The run's logger inside a flow or task run (shown in Prefect's UI); the module logger under `.fn()`."""
    if FlowRunContext.get() is None and TaskRunContext.get() is None:
        return logging.getLogger("flows")
    return get_run_logger()


def _key(text: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes only."""
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")[:100]


def publish(key: str, summary_md: str, rows: Sequence[dict[str, Any]] = (), links: dict[str, Path | str] | None = None) -> None:
    """A run's artifacts: a markdown summary, a table, and links to what it wrote (inside a flow run only)."""
    if FlowRunContext.get() is None:  # logic called through .fn() in tests or scripts
        return
    create_markdown_artifact(markdown=summary_md, key=_key(f"{key}-summary"))
    if rows:
        create_table_artifact(table=list(rows), key=_key(f"{key}-table"))
    for label, target in (links or {}).items():
        link = str(target) if "://" in str(target) else Path(target).resolve().as_uri()  # a URL, else a file
        create_link_artifact(link=link, link_text=label, key=_key(f"{key}-{label}"))
