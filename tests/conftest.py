"""Shared fixtures: a fresh home with a real SQLite file per test, and the sample library."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Prefect's own state for the test session: never the user's ~/.prefect.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="prefect-test-")
os.environ.pop("PREFECT_API_URL", None)

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


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server for the whole session; flow tests request it."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield
