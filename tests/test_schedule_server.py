"""Scheduled rounds against a real Prefect server: `creative schedule rounds` closes rounds on data and stops itself at the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import numpy as np
import pytest
from support.processes import free_port, stop_process_group, wait_until

from creative.db import open_database
from experiments.inbox import drop_file
from experiments.simulator import Audience, make_creatives
from experiments.store import ExperimentStore


@pytest.fixture
def prefect_server(tmp_path):
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-server"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    (tmp_path / "prefect-server").mkdir()
    log = open(tmp_path / "server.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"

    def healthy():
        try:
            return httpx.get(f"{api}/health", timeout=30).status_code == 200
        except httpx.HTTPError:
            return server.poll() is not None and pytest.fail((tmp_path / "server.log").read_text()[-2000:])
    wait_until(healthy, "the Prefect server to answer")
    yield api
    stop_process_group(server)


def _drop(home, experiment_id, arms, name, seed):
    events = list(Audience(100, base_ctr=0.05, seed=seed).events(experiment_id, arms, {a.id: 1 / 3 for a in arms}, 500,
                                                                 rng=np.random.default_rng(seed), id_prefix=f"{name}-"))
    drop_file(home.root, experiment_id, f"{name}.jsonl", [json.dumps(e) for e in events])
    return sum(e["type"] == "impression" for e in events)


@pytest.mark.slow
def test_schedule_rounds_closes_rounds_on_data_and_stops_itself_on_a_real_server(prefect_server, home, tmp_path):
    engine = open_database(home.db_url)
    arms = make_creatives(3, seed=2)
    store = ExperimentStore(engine)
    experiment_id = store.create_experiment("scheduled", arms, "thompson", config={"max_rounds": 2, "min_round_impressions": 50})
    impressions = _drop(home, experiment_id, arms, "batch1", 2)
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "CREATIVE_HOME": str(home.root),
           "PREFECT_HOME": str(tmp_path / "prefect-client")}
    log = open(tmp_path / "schedule.log", "wb")
    command = subprocess.Popen([sys.executable, "-c", "from creative.cli import main; main()", "schedule", "rounds", experiment_id, "--every", "10s"],
                               env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def runs(state: str) -> int:
        if command.poll() is not None:
            pytest.fail((tmp_path / "schedule.log").read_text()[-3000:])
        try:
            return len(httpx.post(f"{prefect_server}/flow_runs/filter", json={"flow_runs": {"state": {"type": {"any_": [state]}}}}, timeout=60).json())
        except httpx.HTTPError:  # a loaded server answering slowly: ask again
            return 0

    def deployment() -> dict:
        return httpx.get(f"{prefect_server}/deployments/name/experiment_round/rounds-{experiment_id}", timeout=60).json()

    try:
        wait_until(lambda: runs("COMPLETED") >= 2, "two completed scheduled looks")
        assert store.status(experiment_id).rounds_closed == 1  # the look after round 1 found no new data and closed nothing
        impressions += _drop(home, experiment_id, arms, "batch2", 3)
        wait_until(lambda: runs("COMPLETED") and deployment().get("paused") is True, "the schedule to pause itself at the round limit")
        assert runs("FAILED") == 0
    finally:
        stop_process_group(command)
    output = (tmp_path / "schedule.log").read_text()
    assert f"using the Prefect server at PREFECT_API_URL={prefect_server}" in output
    status = store.status(experiment_id)
    assert sum(a.impressions for a in status.arms) == impressions  # counted once
    assert (status.status, status.rounds_closed, status.last_decision) == ("stopped", 2, "stop")
