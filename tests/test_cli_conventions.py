"""What every `creative` command does alike: --json output and errors, global options anywhere, words for empty lists."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from support.cli import all_commands, run_creative

from assets.samples import sample_files
from creative.cli import cli, hoist_global_options
from experiments.simulator import make_creatives

# A long-running server: its --json would have nothing to print (`creative --json serve` still gives JSON errors).
NO_JSON_OUTPUT = {("serve",)}


def invoke(*args: str, ok: bool = True):
    result = CliRunner().invoke(cli, list(args))
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_global_options_after_the_subcommand(tmp_path):
    home = tmp_path / "home"
    run_creative(None, "elements", "add", *map(str, sample_files("logos")), "--kind", "logo", "--home", str(home))
    listed = json.loads(run_creative(None, "elements", "list", "--home", str(home), "--json").stdout)
    assert len(listed) == 3 and {e["kind"] for e in listed} == {"logo"}
    assert json.loads(run_creative(None, "--json", "catalog", "list", f"--home={home}").stdout) == []
    assert (home / "creative.db").is_file() and not (tmp_path / ".creative").exists()


def test_global_options_stop_at_double_dash():
    assert hoist_global_options(["elements", "list", "--json", "--home", "h"]) == ["--json", "--home", "h", "elements", "list"]
    assert hoist_global_options(["copy", "--", "--json"]) == ["copy", "--", "--json"]


def test_an_error_under_json_is_json_on_stderr(tmp_path):
    done = run_creative(tmp_path / "home", "elements", "show", "L-nothing", "--json", check=False)
    assert done.returncode != 0 and done.stdout == ""
    error = json.loads(done.stderr)
    assert "L-nothing" in error["error"] and "creative elements list" in error["hint"]

    usage = run_creative(tmp_path / "home", "--json", "elements", "add", "--kind", "logo", check=False)
    assert usage.returncode == 2
    error = json.loads(usage.stderr)
    assert "PATHS" in error["error"] and error["hint"] == "see `creative elements add --help`"


def test_an_error_without_json_stays_one_plain_line(tmp_path):
    done = run_creative(tmp_path / "home", "batches", "show", "nope", check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == "Error: no batch 'nope' in the library; list them with `creative batches list`"


def test_every_command_takes_json():
    import click

    leaves = [(path, cmd) for path, cmd in all_commands() if path and not isinstance(cmd, click.Group)]
    assert len(leaves) > 30
    missing = [" ".join(path) for path, cmd in leaves
               if tuple(path) not in NO_JSON_OUTPUT and "--json" not in {o for p in cmd.params for o in p.opts}]
    assert missing == []


def test_empty_lists_say_what_to_do(tmp_path):
    home = str(tmp_path / "home")
    for args, hint in ((["elements", "list"], "creative elements add"), (["catalog", "list"], "creative catalog import"),
                       (["batches", "list"], "creative compose"), (["experiment", "status", "--all"], "creative experiment create"),
                       (["users", "list"], "creative users create")):
        out = invoke("--home", home, *args).output
        assert hint in out, args
        assert json.loads(invoke("--home", home, *args, "--json").output) == []


def test_batches_list_and_show(sample_home, tmp_path):
    home = str(sample_home.root)
    composed = json.loads(invoke("--home", home, "compose", "--products", "SKU-1001", "--templates", "hero,promo", "--sizes", "300x250",
                                 "--out", str(tmp_path / "batch"), "--workers", "1", "--experiment", "spring", "--json").output)
    listed = json.loads(invoke("batches", "list", "--home", home, "--json").output)
    mine = next(b for b in listed if b["batch"] == composed["batch"])
    assert mine["creatives"] == composed["rendered"] and mine["templates"] == ["hero", "promo"] and mine["sizes"] == ["300x250"]
    assert mine["experiments"] == [composed["experiment_id"]] and mine["manifest"] == composed["manifest"]

    shown = json.loads(invoke("batches", "show", composed["batch"], "--home", home, "--json").output)
    assert sorted(c["id"] for c in shown["items"]) == sorted(c["id"] for c in composed["creatives"])
    text = invoke("batches", "show", composed["batch"], "--home", home).output
    assert all(c["id"] in text for c in composed["creatives"]) and composed["gallery"] in text
    assert composed["batch"] in invoke("batches", "list", "--home", home).output


@pytest.fixture
def experiment_with_traffic(tmp_path):
    home = str(tmp_path / "home")
    creatives = [{"id": a.id, "file": f"{a.id}.png", "size": "300x250", "template": a.template, "elements": {"title": "T001"},
                  "attributes": dict(a.attributes), "metrics": {}, "violations": []} for a in make_creatives(6, seed=2)]
    manifest = tmp_path / "batch" / "manifest.json"
    manifest.parent.mkdir()
    manifest.write_text(json.dumps({"creatives": creatives}))
    exp = json.loads(invoke("--home", home, "experiment", "create", "--manifest", str(manifest), "--json").output)["experiment_id"]
    events = tmp_path / "events.jsonl"
    invoke("--home", home, "experiment", "simulate", exp, "--out", str(events), "--impressions", "5000", "--users", "300")
    invoke("--home", home, "experiment", "ingest", exp, str(events))
    return home, exp


def test_effects_print_a_table_not_python_dicts(experiment_with_traffic):
    home, exp = experiment_with_traffic
    out = invoke("--home", home, "experiment", "effects", exp, "--propose", "2").output
    assert "{" not in out and "'" not in out
    lines = out.splitlines()
    header = next(line for line in lines if line.strip().startswith("element "))
    assert "95% interval" in header and "odds" in header
    assert any(line.strip().startswith("template=") for line in lines)
    assert "1. " in out and "2. " in out and "proposed for the next batch" in out
