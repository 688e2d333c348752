"""Prefect flows: thin recipes over the creative, layouts and experiments libraries.

Importing this package sets Prefect's offline defaults before Prefect itself is imported:
its home under the creative home (whose parent must exist), analytics off, a patient
start-up for the temporary local server that Prefect runs when no PREFECT_API_URL is set,
and run logs at INFO for Prefect's UI while the console stays quiet.
"""

from __future__ import annotations

import os
from pathlib import Path


def _prefect_defaults() -> None:
    creative_home = Path(os.environ.get("CREATIVE_HOME") or Path("~/.creative")).expanduser()
    prefect_home = creative_home / "prefect"
    prefect_home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(prefect_home))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    # What a run ingested and decided goes to the run's log in Prefect's UI at INFO; the console keeps
    # PREFECT_LOGGING_LEVEL (set PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL=INFO to see those lines in a worker too).
    os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL", "INFO")
    os.environ.setdefault("PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL", "INFO")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", os.environ["PREFECT_LOGGING_LEVEL"])
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


_prefect_defaults()
