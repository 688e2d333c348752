"""The `creative experiment` and `creative tags` commands, end to end on a temp home, with --json."""

import json

import pytest
from click.testing import CliRunner

from creative.cli.experiment import experiment_group, tags_group
from creative.errors import USER_ERRORS
from creative.home import resolve_home
from experiments.simulator import make_creatives


@pytest.fixture
def home(tmp_path):
    return resolve_home(tmp_path / "home")


@pytest.fixture
def manifest(tmp_path):
    creatives = [{"id": a.id, "file": f"{a.id}.png", "size": "300x250", "template": a.template, "elements": {"title": "T001"},
                  "attributes": dict(a.attributes), "metrics": {"overlap": 0.0}, "violations": []} for a in make_creatives(6, seed=2)]
    creatives.append({"id": "broken", "file": "broken.png", "size": "300x250", "template": "hero", "elements": {}, "attributes": {},
                      "metrics": {}, "violations": ["title overflows its slot"]})
    path = tmp_path / "batch1" / "manifest.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"creatives": creatives}))
    return path


def run(group, home, *args):
    result = CliRunner().invoke(group, list(args), obj=home, catch_exceptions=True)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def test_create_ingest_round_status_report_and_export_tags(home, manifest, tmp_path):
    created = json.loads(run(experiment_group, home, "create", "--manifest", str(manifest), "--policy", "top-two",
                             "--set", "tag_min_impressions=5", "--json"))
    exp = created["experiment_id"]
    assert created["name"] == "batch1" and len(created["arms"]) == 6
    assert created["excluded"] == [{"id": "broken", "violations": ["title overflows its slot"]}]
    again = run(experiment_group, home, "create", "--manifest", str(manifest))
    assert again.splitlines()[0] == exp and "exists already" in again  # the same batch and name: one experiment

    events = tmp_path / "events.jsonl"
    sim = json.loads(run(experiment_group, home, "simulate", exp, "--out", str(events), "--impressions", "20000", "--users", "400", "--json"))
    with events.open("a") as handle:
        handle.write("{not json\n")
    ingested = json.loads(run(experiment_group, home, "ingest", exp, str(events), "--json"))
    assert ingested["accepted"] == sim["events"] and ingested["rejected"] == {"malformed": 1}
    text = run(experiment_group, home, "ingest", exp, str(events))
    assert f"duplicates {sim['events']}" in text and "malformed: 1" in text

    first = json.loads(run(experiment_group, home, "round", exp, "--json"))
    assert first["round_no"] == 1 and first["decision"]["kind"] in ("continue", "retire", "promote")
    assert abs(sum(first["allocation_next"].values()) - 1) < 1e-9
    assert len(first["arms"]) == 6
    assert first["tags"] >= 0 and first["ingested"]["files"] == 0
    text = run(experiment_group, home, "round", exp, "--expected-round", "1")
    assert "round 1" in text and "already closed" in text

    status = json.loads(run(experiment_group, home, "status", exp, "--json"))
    assert status["current_round"] == 2 and status["rounds_closed"] == 1
    listing = json.loads(run(experiment_group, home, "status", "--all", "--json"))
    assert exp in [x["experiment_id"] for x in listing]

    effects = json.loads(run(experiment_group, home, "effects", exp, "--json"))
    assert effects["effects"] and len(effects["proposals"]) == 6

    report = json.loads(run(experiment_group, home, "report", exp, "--out", str(tmp_path / "report"), "--json"))
    page = (tmp_path / "report" / "index.html").read_text()
    assert report["report"].endswith("index.html")
    for needle in ('id="verdict"', "Click-through rate over rounds", "Share of impressions over rounds", "What the creative choices do",
                   "User preference tags", "ctr.png"):
        assert needle in page
    assert (tmp_path / "report" / "ctr.png").stat().st_size > 1000

    out = json.loads(run(tags_group, home, "export", exp, "--out", str(tmp_path / "tags.csv"), "--json"))
    lines = (tmp_path / "tags.csv").read_text().splitlines()
    assert lines[0] == "user,attribute,value,probability,lift,impressions,clicks"
    assert out["file"].endswith("tags.csv") and out["round"] == 1
    assert out["tags"] == first["tags"] == len(lines) - 1  # the export is what the round stored
    run(tags_group, home, "export", exp, "--out", str(tmp_path / "tags.json"))
    assert "users" in json.loads((tmp_path / "tags.json").read_text())


def test_every_command_has_help_and_a_json_flag(home):
    for group in (experiment_group, tags_group):
        for name, command in group.commands.items():
            text = run(group, home, name, "--help")
            assert "--json" in text, name


def test_command_errors_are_user_errors_with_a_next_step(home, tmp_path):
    with pytest.raises(USER_ERRORS, match="creative experiment create"):
        run(experiment_group, home, "round", "exp-nope")
    with pytest.raises(USER_ERRORS, match="manifest.json"):
        run(experiment_group, home, "create", "--manifest", str(tmp_path / "none" / "manifest.json"))
    (tmp_path / "one.json").write_text(json.dumps([{"id": "only", "template": "hero", "size": "300x250", "file": "only.png"}]))
    with pytest.raises(USER_ERRORS, match="at least 2"):
        run(experiment_group, home, "create", "--manifest", str(tmp_path / "one.json"))
    with pytest.raises(USER_ERRORS, match="KEY=VALUE"):
        run(experiment_group, home, "create", "--manifest", str(tmp_path / "one.json"), "--set", "alpha")


def test_a_manifest_naming_a_file_outside_its_batch_folder_is_refused(home, manifest, tmp_path):
    """A crafted manifest must not turn the public creative route into a download of the database."""
    raw = json.loads(manifest.read_text())
    raw["creatives"][0]["file"] = "../../home/creative.db"
    manifest.write_text(json.dumps(raw))
    with pytest.raises(USER_ERRORS, match=r"outside the batch folder"):
        run(experiment_group, home, "create", "--manifest", str(manifest))
    assert run(experiment_group, home, "status", "--all", "--json").strip() == "[]"  # nothing half-created


def test_pause_resume_stop_archive_from_the_command_line(home, manifest, tmp_path):
    from experiments.errors import ExperimentArchived, ExperimentPaused, LifecycleRefused

    exp = json.loads(run(experiment_group, home, "create", "--manifest", str(manifest), "--set", "min_round_impressions=50", "--json"))["experiment_id"]
    events = tmp_path / "events.jsonl"
    run(experiment_group, home, "simulate", exp, "--out", str(events), "--impressions", "40", "--json")
    run(experiment_group, home, "ingest", exp, str(events))
    waiting = json.loads(run(experiment_group, home, "round", exp, "--json"))
    assert waiting["closed"] is False and waiting["needed"] == 50 and "waiting for data (40 of 50 impressions)" in waiting["message"]

    paused = json.loads(run(experiment_group, home, "pause", exp, "--json"))
    assert (paused["previous"], paused["status"]) == ("running", "paused")
    with pytest.raises(ExperimentPaused, match="resume it with"):
        run(experiment_group, home, "round", exp, "--force")
    assert "resumed" in run(experiment_group, home, "resume", exp)
    forced = json.loads(run(experiment_group, home, "round", exp, "--force", "--json"))
    assert forced["closed"] is True and forced["round_no"] == 1 and forced["impressions"] == 40

    with pytest.raises(LifecycleRefused, match="stop it first"):
        run(experiment_group, home, "archive", exp)
    assert json.loads(run(experiment_group, home, "stop", exp, "--json"))["status"] == "stopped"
    assert "archived" in run(experiment_group, home, "archive", exp)
    assert exp not in run(experiment_group, home, "status", "--all")
    listing = json.loads(run(experiment_group, home, "status", "--all", "--archived", "--json"))
    assert [x["status"] for x in listing if x["experiment_id"] == exp] == ["archived"]
    with pytest.raises(ExperimentArchived, match="can be read"):
        run(experiment_group, home, "pause", exp)
