"""Shared fixtures: a fresh home with a real SQLite file per test, the sample library, PostgreSQL.

Fast default run (skips the real language model and long runs):
    .venv/bin/python -m pytest -m "not slow"
Everything:
    .venv/bin/python -m pytest
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Prefect's own state for the test session: never the user's ~/.prefect.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="prefect-test-")
os.environ.pop("PREFECT_API_URL", None)
# A maintainer's own home or database must never receive test data.
os.environ.pop("CREATIVE_HOME", None)
os.environ.pop("CREATIVE_DB_URL", None)

from support.postgres import throwaway_database  # noqa: E402
from support.processes import PATIENCE_S  # noqa: E402

from creative.db import open_database  # noqa: E402
from creative.elements.store import ElementStore  # noqa: E402
from creative.home import Home, resolve_home  # noqa: E402


def pytest_collection_modifyitems(items) -> None:
    """Count as slow, for the fast run to skip: browser tests (Chromium, a minute each) and flow tests on the
    Prefect harness (a server start, then flows through it); the library code under them has fast tests of its own."""
    for item in items:
        if item.get_closest_marker("browser") or "prefect_harness" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """Where the embedded model is converted once for the whole run (CREATIVE_TEST_MODEL_CACHE keeps it between runs)."""
    keep = os.environ.get("CREATIVE_TEST_MODEL_CACHE")
    return Path(keep) if keep else tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def real_model(model_cache):
    """The embedded SmolLM2, loaded once per run for every slow test that needs the real model."""
    from creative.copy.loading import load_model

    return load_model(None, cache_dir=model_cache)


def _sqlite_home(root: Path) -> Home:
    """A home whose database is the SQLite file inside it, whatever the environment says."""
    return resolve_home(root, f"sqlite:///{root / 'creative.db'}")


@pytest.fixture
def home(tmp_path) -> Home:
    return _sqlite_home(tmp_path / "home")


@pytest.fixture
def engine(request, home):
    if "sample_home" in request.fixturenames:
        # the sample copy must land before the database file is opened, whatever order a test names them in
        request.getfixturevalue("sample_home")
    return open_database(home.db_url)


@pytest.fixture
def store(home, engine) -> ElementStore:
    return ElementStore(home, engine)


@pytest.fixture
def experiment_store(engine):
    """An experiments.store.ExperimentStore over this test's database."""
    from experiments.store import ExperimentStore

    return ExperimentStore(engine)


@pytest.fixture(scope="session")
def sample_template(tmp_path_factory) -> Home:
    """The sample library imported once per session; tests get copies of it, never this one."""
    from assets.samples import load_sample_library

    template = _sqlite_home(tmp_path_factory.mktemp("sample-template") / "home")
    load_sample_library(template)
    engine = open_database(template.db_url)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # every row in the main file before copying
    engine.dispose()
    return template


@pytest.fixture
def sample_home(home, sample_template) -> Home:
    """A home with every sample element and both sample catalogs loaded (a copy of the session's template)."""
    shutil.copytree(sample_template.root, home.root, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("creative.db-wal", "creative.db-shm"))
    return home


@pytest.fixture
def pg_url() -> str:
    """The SQLAlchemy URL of a fresh, empty PostgreSQL database, dropped after the test; skips where no server answers."""
    with throwaway_database() as url:
        yield url
    open_database.cache_clear()  # forget engines bound to the dropped database


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect server for the whole session; flow tests request it."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=PATIENCE_S):
        yield


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """(home, server) for a browser test module: a seeded home behind a real uvicorn server, no scheduler."""
    from support.web import LiveServer, quick_settings, seeded_home

    from creative.web import create_app

    home = seeded_home(tmp_path_factory.mktemp("live") / "home")
    server = LiveServer(create_app(home, quick_settings())).start()
    yield home, server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through Playwright, one per browser test module."""
    from playwright.sync_api import expect, sync_playwright
    from support.browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, live):
    """A desktop-sized page on the live server (see support.browser.open_page)."""
    from support.browser import open_page

    context, pg = open_page(browser, live[1].url)
    yield pg
    context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where browser tests put screenshots: $WEB_SCREENSHOTS, else a temporary directory."""
    out = Path(os.environ.get("WEB_SCREENSHOTS") or tmp_path_factory.mktemp("screens"))
    out.mkdir(parents=True, exist_ok=True)
    return out
