"""Round reports over HTTP: a stable, logged-in URL per experiment and round; nothing outside the round's folder is reachable."""

from __future__ import annotations

import json
import os

import httpx
import pytest
from support.simulated import simulated_experiment
from support.web import ADMIN, PASSWORD, LiveServer, login

from creative.db import open_database
from creative.services import Workspace, close_round
from creative.services.reports import ReportNotFound, report_file, report_link, round_report_dir
from creative.web import WebSettings, create_app
from creative.web.auth import create_user
from experiments.inbox import drop_file
from experiments.store import ExperimentStore


@pytest.fixture
def reported(home):
    """An experiment whose round 1 closed with its report kept in the home, and a secret file beside the reports."""
    experiment_id, events = simulated_experiment(home, "spring", seed=4, impressions=600)
    drop_file(home.root, experiment_id, "served.jsonl", [json.dumps(e) for e in events])
    closed = close_round(Workspace.of(home), experiment_id, keep_report=True)
    (home.reports_dir / "secret.txt").write_text("not for the web")
    return experiment_id, closed


@pytest.fixture
def server(home, reported):
    create_user(open_database(home.db_url), ADMIN, PASSWORD)
    live = LiveServer(create_app(home, WebSettings(run_scheduler=False))).start()
    yield live
    live.stop()


def test_a_closed_round_report_is_served_at_its_stable_url_to_logged_in_users(server, reported):
    experiment_id, closed = reported
    url = f"/experiments/{experiment_id}/rounds/1/report"
    with httpx.Client(base_url=server.url) as client:
        assert client.get(url + "/").status_code == 303  # anonymous: to the login page, like every page
        login(client)
        moved = client.get(url)
        assert moved.status_code == 308 and moved.headers["location"] == url + "/"
        page = client.get(url + "/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html") and "spring" in page.text
        assert 'src="ctr.png"' in page.text  # relative: resolved inside the round's folder
        plot = client.get(url + "/ctr.png")
        assert plot.status_code == 200 and plot.headers["content-type"] == "image/png" and plot.content[:4] == b"\x89PNG"
        assert client.get(f"/experiments/{experiment_id}/rounds/2/report/").status_code == 404  # no round 2 yet


@pytest.mark.parametrize("path", [
    "/experiments/{e}/rounds/1/report/..%2F..%2Fsecret.txt",
    "/experiments/{e}/rounds/1/report/%2e%2e/%2e%2e/secret.txt",
    "/experiments/..%2F{e}/rounds/1/report/",
    "/experiments/%2e%2e/rounds/1/report/secret.txt",
    "/experiments/{e}/rounds/0/report/",
    "/experiments/{e}/rounds/1/report/..%5C..%5Csecret.txt",
    "/experiments/{e}/rounds/1/report/link.txt",
])
def test_no_path_reaches_outside_the_rounds_folder(server, reported, home, path):
    experiment_id, _ = reported
    os.symlink(home.reports_dir / "secret.txt", round_report_dir(home, experiment_id, 1) / "link.txt")
    with httpx.Client(base_url=server.url) as client:
        login(client)
        answer = client.get(path.format(e=experiment_id))
    assert answer.status_code == 404 and "not for the web" not in answer.text


def test_report_files_are_confined_and_links_prefer_the_web_url(home, reported, monkeypatch):
    experiment_id, closed = reported
    assert report_file(home, experiment_id, 1) == closed.report.resolve()
    for bad in ("../secret.txt", "../../creative.db", "/etc/passwd", "thumbs/../../round-1/../../secret.txt", ""):
        with pytest.raises(ReportNotFound):
            report_file(home, experiment_id, 1, bad)
    for bad_id in ("../x", "exp/1", "", ".hidden"):
        with pytest.raises(ReportNotFound):
            report_file(home, bad_id, 1)
    monkeypatch.delenv("CREATIVE_WEB_URL", raising=False)
    assert report_link(closed.report, experiment_id, 1, home=home) == str(closed.report)
    assert report_link(closed.report, experiment_id, 1, "http://h:8000/", home) == f"http://h:8000/experiments/{experiment_id}/rounds/1/report/"
    elsewhere = home.root / "out" / "index.html"  # a report written to a folder of the user's choice has no URL
    assert report_link(elsewhere, experiment_id, 1, "http://h:8000", home) == str(elsewhere)


def test_the_cli_round_keeps_its_report_and_prints_its_web_address(home, monkeypatch):
    from click.testing import CliRunner

    from creative.cli import cli

    experiment_id, events = simulated_experiment(home, "autumn", seed=6, impressions=600)
    ExperimentStore(open_database(home.db_url)).ingest(experiment_id, events, source="web")  # served, not from a file
    monkeypatch.setenv("CREATIVE_WEB_URL", "http://127.0.0.1:8000")
    result = CliRunner().invoke(cli, ["--home", str(home.root), "--db", home.db_url, "experiment", "round", experiment_id])
    assert result.exit_code == 0, result.output
    assert f"report http://127.0.0.1:8000/experiments/{experiment_id}/rounds/1/report/" in result.output
    assert "served by the web app" in result.output and (round_report_dir(home, experiment_id, 1) / "index.html").is_file()
