"""The `creative` command as a user runs it: a real subprocess, JSON output, clean one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli import all_commands
from support.cli import run_creative as run

from assets.samples import SAMPLES_DIR, sample_files


def test_every_subcommand_has_help():
    from click.testing import CliRunner

    from creative.cli import cli

    commands = [path for path, _ in all_commands()]
    assert ["elements", "add"] in commands and ["catalog", "import"] in commands
    for path in commands:
        result = CliRunner().invoke(cli, path + ["--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output


def test_elements_add_list_show_remove_round_trip(tmp_path):
    home = tmp_path / "home"
    added = json.loads(run(home, "elements", "add", *map(str, sample_files("logos")), "--kind", "logo", "--brand", "Lu", "--tag", "season=summer", "--json").stdout)
    assert len(added) == 3 and all(a["created"] for a in added)
    listed = json.loads(run(home, "elements", "list", "--kind", "logo", "--json").stdout)
    assert {e["code"] for e in listed} == {a["code"] for a in added}
    for e in listed:
        assert {"code", "kind", "name", "sha256", "width", "height"} <= e.keys()
        assert e["attributes"]["tags"] == {"season": "summer"}
    shown = json.loads(run(home, "elements", "show", listed[0]["code"], "--json").stdout)
    assert Path(shown["files"]["thumbnail"]).is_file()
    run(home, "elements", "remove", listed[0]["code"])
    assert len(json.loads(run(home, "elements", "list", "--json").stdout)) == 2


def test_bad_upload_exits_nonzero_with_one_line(tmp_path):
    bad = tmp_path / "fake.png"
    bad.write_text("<html>not a picture</html>")
    done = run(tmp_path / "home", "elements", "add", str(bad), "--kind", "product", check=False)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "export it as PNG" in lines[0]
    assert "Traceback" not in done.stderr


def test_catalog_import_and_list(tmp_path):
    home = tmp_path / "home"
    run(home, "elements", "add", *map(str, sample_files("products")), "--kind", "product")
    out = run(home, "catalog", "import", str(SAMPLES_DIR / "catalog_zh.json")).stdout
    assert "3 added" in out
    products = json.loads(run(home, "catalog", "list", "--json").stdout)
    assert [p["product_id"] for p in products] == ["SKU-2001", "SKU-2002", "SKU-2003"]
    assert products[1]["name"] == "紫砂茶壶"


def test_unusable_home_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = run(blocker / "home", "elements", "list", check=False)
    assert done.returncode != 0 and "pass --home DIR" in done.stderr
