"""What every flow shares: parameter validation, opening the home, run names, logs and artifacts."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import httpx
from prefect import get_client, get_run_logger
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.context import FlowRunContext, TaskRunContext
from prefect.runtime import flow_run
from pydantic import BaseModel, ConfigDict, ValidationError

from creative.elements.store import ElementStore
from creative.errors import CreativeError
from creative.home import Home
from creative.outage import Outage
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


def _connection_error(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, (httpx.TransportError, ConnectionError)) or "exceeded error threshold" in str(exc):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


class QuietWhileDown(logging.Filter):
    """Prefect's tracebacks about an unreachable server become the outage's one line (in every flow process:
    a run the outage cut off says so in a line). Where a ServerWatch follows the server's health (`watched`,
    a runner serving a schedule), the rest of Prefect's chatter is held back too until the server is back."""

    NOISY = ("prefect", "asyncio", "httpx", "httpcore")

    def __init__(self, outage: Outage) -> None:
        super().__init__()
        self.outage = outage
        self.watched = False

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.NOISY):
            return True
        if record.exc_info and _connection_error(record.exc_info[1]):
            self.outage.failed(record.exc_info[1])
            return False
        return not (self.watched and self.outage.down)


PREFECT_SERVER = Outage(logging.getLogger("flows.schedule"), "the Prefect server", 5.0,
                        meanwhile="this run stops here and ends crashed; the next scheduled look retries")


QUIET = QuietWhileDown(PREFECT_SERVER)
for _handler in logging.getLogger().handlers:  # Prefect's console handler, configured when prefect was imported
    _handler.addFilter(QUIET)
