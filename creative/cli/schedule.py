"""`creative schedule rounds EXPERIMENT --every 15m`: serve experiment_round on an interval.

Each look closes a round only when enough new impressions came (or the experiment's max_round_minutes
passed); when the experiment concludes, the flow pauses this deployment and later looks exit cleanly.

Prefect runs schedules only with a real server: the command uses PREFECT_API_URL when set, else a
server already listening on 127.0.0.1:4200, else starts `prefect server start` there, and says which.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import click
import httpx

from creative.cli.common import json_option, print_json
from creative.errors import CreativeError

DEFAULT_API = "http://127.0.0.1:4200/api"
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class ScheduleError(CreativeError):
    """The schedule cannot be set up."""


def parse_every(text: str) -> timedelta:
    """'15m', '1h', '90s', '2d' -> timedelta; at least 10 seconds."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd])\s*", text or "")
    if not match:
        raise ScheduleError(f"--every {text!r} is not an interval; write a number and a unit, e.g. 15m, 1h, 90s, 2d")
    every = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if every < timedelta(seconds=10):
        raise ScheduleError(f"--every {text} is too short; rounds need at least 10s between them")
    return every


def _healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def find_or_start_server(log_dir: Path, timeout: float = 120) -> tuple[str, str]:
    """Return (api_url, how) where how says whether the server was configured, found or started."""
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        if not _healthy(configured):
            raise ScheduleError(f"PREFECT_API_URL={configured} does not answer; start that server or unset PREFECT_API_URL")
        return configured, f"using the Prefect server at PREFECT_API_URL={configured}"
    if _healthy(DEFAULT_API):
        return DEFAULT_API, f"found a Prefect server at {DEFAULT_API}"
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / "prefect-server.log", "ab")
    subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", "4200"],
                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _healthy(DEFAULT_API):
            return DEFAULT_API, f"started a Prefect server at {DEFAULT_API} (log: {log_dir / 'prefect-server.log'}; it keeps running after this command)"
        time.sleep(1)
    raise ScheduleError(f"the Prefect server did not start within {timeout:.0f}s; see {log_dir / 'prefect-server.log'}")


@click.group("schedule")
def schedule_group() -> None:
    """Scheduled work: experiment rounds on an interval (needs a Prefect server)."""


@schedule_group.command("rounds")
@click.argument("experiment_id")
@click.option("--every", default="15m", show_default=True, help="Interval between rounds: 90s, 15m, 1h, 1d.")
@json_option
@click.pass_context
def rounds(ctx, experiment_id, every, as_json):
    """Serve a deployment that runs experiment_round for EXPERIMENT_ID every interval (blocks; Ctrl-C stops).

    With --json, one object saying which server and deployment is printed before serving starts."""
    interval = parse_every(every)
    from creative.db import open_database
    from experiments.store import ExperimentStore

    ExperimentStore(open_database(ctx.obj.db_url)).status(experiment_id)  # fails early for an unknown id
    api_url, how = find_or_start_server(ctx.obj.root / "prefect")
    os.environ["PREFECT_API_URL"] = api_url
    import flows  # noqa: F401 - Prefect defaults before Prefect loads
    from flows.rounds import RoundParams, experiment_round
    from flows.runners import serve_rounds

    params = RoundParams(home=str(ctx.obj.root), db_url=ctx.obj.db_url, experiment_id=experiment_id)
    deployment = f"rounds-{experiment_id}"
    if as_json:
        print_json({"experiment_id": experiment_id, "api_url": api_url, "server": how, "deployment": f"experiment_round/{deployment}",
                    "every_seconds": interval.total_seconds()})
        sys.stdout.flush()
    else:
        click.echo(how)
        click.echo(f"serving deployment experiment_round/{deployment} every {interval}; a round closes once enough data came; "
                   "the schedule pauses itself when the experiment concludes; Ctrl-C to stop")
    serve_rounds(experiment_round, deployment, interval, {"params": params.model_dump()}, api_url)  # survives server outages
