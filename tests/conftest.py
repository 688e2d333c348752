"""Shared fixtures: a fresh home with a real SQLite file per test, and the sample library."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from creative.db import open_database  # noqa: E402
from creative.elements.store import ElementStore  # noqa: E402
from creative.home import Home, resolve_home  # noqa: E402


@pytest.fixture
def home(tmp_path) -> Home:
    return resolve_home(tmp_path / "home")


@pytest.fixture
def engine(home):
    return open_database(home.db_url)


@pytest.fixture
def store(home, engine) -> ElementStore:
    return ElementStore(home, engine)


@pytest.fixture
def sample_home(home):
    """A home with every sample element and both sample catalogs loaded."""
    from assets.samples import load_sample_library

    load_sample_library(home)
    return home
