"""What people typed is printed as typed: names that look like rich markup neither crash nor restyle the CLI."""

from __future__ import annotations

from click.testing import CliRunner
from PIL import Image

from creative.cli import cli


def _invoke(home, *args):
    result = CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_markup_like_names_are_listed_verbatim(tmp_path):
    home = tmp_path / "home"
    picture = tmp_path / "[bold]boot.png"
    Image.new("RGB", (64, 64), (200, 30, 30)).save(picture)
    _invoke(home, "elements", "add", str(picture), "--kind", "logo", "--brand", "[/x]")
    listing = _invoke(home, "elements", "list")
    assert "[bold]boot" in listing and "[/x]" in listing

    feed = tmp_path / "feed.csv"
    feed.write_text("product_id,name,brand,category,price,language,landing_url\n"
                    "[/x],[red]Runner[/red],[/b],shoes,89,en,https://shop.example.com/a1\n", encoding="utf-8")
    _invoke(home, "catalog", "import", str(feed))
    listing = _invoke(home, "catalog", "list")
    assert "[red]Runner[/red]" in listing and "[/x]" in listing
    titles = _invoke(home, "copy", "titles", "--product", "[/x]", "--engine", "grammar", "--n", "1", "--no-store")
    assert "[red]Runner[/red]" in titles
