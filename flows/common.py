"""What every flow shares: parameter validation, opening the home, and run artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.context import FlowRunContext
from pydantic import BaseModel, ConfigDict

from creative.elements.store import ElementStore
from creative.home import Home
from creative.services import Workspace


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
        link = target if isinstance(target, str) else Path(target).resolve().as_uri()
        create_link_artifact(link=link, link_text=label, key=_key(f"{key}-{label}"))
