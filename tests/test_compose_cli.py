"""`creative compose` from the command line, as a marketer runs it."""

import json

from click.testing import CliRunner

from creative.cli import cli
from creative.db import open_database
from creative.elements.store import ElementStore


def test_compose_command_with_comma_separated_and_repeated_codes(sample_home, tmp_path):
    store = ElementStore(sample_home, open_database(sample_home.db_url))
    products = [e.code for e in store.list("product")][:2]
    logos = [e.code for e in store.list("logo")][:2]
    out = tmp_path / "batch"
    result = CliRunner().invoke(cli, [
        "--home", str(sample_home.root), "compose", "--products", ",".join(products), "--logos", logos[0], "--logos", logos[1],
        "--templates", "hero,minimal", "--sizes", "300x250", "--sizes", "728x90", "--format", "png", "--workers", "2", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["creatives"] and all(c["file"].endswith(".png") for c in manifest["creatives"])
    assert {c["template"] for c in manifest["creatives"]} == {"hero", "minimal"}
    assert (out / "index.html").is_file() and "gallery:" in result.output


def test_compose_command_sample_with_max(sample_home, tmp_path):
    store = ElementStore(sample_home, open_database(sample_home.db_url))
    products = ",".join(e.code for e in store.list("product"))
    out = tmp_path / "sample"
    result = CliRunner().invoke(cli, ["--home", str(sample_home.root), "compose", "--products", products, "--max", "12",
                                      "--seed", "3", "--format", "webp", "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["creatives"]) + len(manifest["rejected"]) == 12 and manifest["sampled"]


def test_compose_command_bad_size_is_one_clear_line_and_writes_nothing(sample_home, tmp_path):
    store = ElementStore(sample_home, open_database(sample_home.db_url))
    product = store.list("product")[0].code
    dest = tmp_path / "dest"
    dest.mkdir()
    out = dest / "never"
    result = CliRunner().invoke(cli, ["--home", str(sample_home.root), "compose", "--products", product, "--sizes", "99999x1", "--out", str(out)])
    assert result.exit_code != 0
    assert "99999x1" in result.output and "Traceback" not in result.output
    assert list(dest.iterdir()) == []


def test_compose_command_min_quality_refuses_banners_and_says_why(sample_home, tmp_path):
    out = tmp_path / "gated"
    result = CliRunner().invoke(cli, ["--home", str(sample_home.root), "compose", "--products", "SKU-1001", "--templates", "hero",
                                      "--sizes", "300x250,320x50", "--min-quality", "1", "--workers", "1", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["min_quality"] == 1.0 and answer["refused"]
    assert all("320x50" in r["id"] and r["quality"] < 1 and "under the launch threshold" in r["reasons"][-1] for r in answer["refused"])
    assert {c["size"] for c in json.loads((out / "manifest.json").read_text())["creatives"]} == {"300x250"}
    bad = CliRunner().invoke(cli, ["--home", str(sample_home.root), "compose", "--products", "SKU-1001", "--min-quality", "2",
                                   "--out", str(tmp_path / "never")])
    assert bad.exit_code != 0 and not (tmp_path / "never").exists()
