"""Prefect flows: thin recipes over the creative, layouts and experiments libraries.

Importing this package sets Prefect's offline defaults before Prefect itself is imported:
its home under the creative home (whose parent must exist), analytics off, a patient
start-up for the temporary local server that Prefect runs when no PREFECT_API_URL is set.
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
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


_prefect_defaults()
