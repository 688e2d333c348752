"""A home and its database, opened once and handed to every use case."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from creative.db import open_database
from creative.elements.store import ElementStore
from creative.home import Home, resolve_home
from experiments.store import ExperimentStore


@dataclass(frozen=True)
class Workspace:
    home: Home
    engine: Engine

    @classmethod
    def open(cls, home: str | None = None, db_url: str | None = None) -> "Workspace":
        resolved = resolve_home(home, db_url)
        return cls(resolved, open_database(resolved.db_url))

    @classmethod
    def of(cls, home: Home) -> "Workspace":
        return cls(home, open_database(home.db_url))

    @property
    def elements(self) -> ElementStore:
        return ElementStore(self.home, self.engine)

    @property
    def experiments(self) -> ExperimentStore:
        return ExperimentStore(self.engine)
