"""Brand kits: checked before anything is stored, and followed by the copy guardrails and by composition."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from creative.brands import BrandKit, find_kit, get_kit, import_kits, list_kits, remove_kit, set_kit
from creative.catalog import get_product
from creative.cli import cli
from creative.compose import BatchSelection, enumerate_specs, resolve_selection
from creative.compose.render import Renderer
from creative.copy.guardrails import Guardrails
from creative.copy.pipeline import Candidate
from creative.errors import BrandKitRejected
from creative.services import Workspace
from creative.services.copy import copy_pipeline, edit_title

BAD_KITS = [
    ({"name": "Acme", "primary": "red"}, "primary colour 'red' is not a #rrggbb"),
    ({"name": "Acme", "accent": "#12345g"}, "accent colour"),
    ({"name": "Acme", "font": "Comic Sans"}, "not an installed font; use one of"),
    ({"name": "Acme", "tone": [f"word{i}" for i in range(13)]}, "tone has 13 words, over 12"),
    ({"name": "Acme", "banned": ["x" * 61]}, "over 60"),
    ({"name": "Acme", "banned": ["ok", "sneaky\u202eword"]}, "bidirectional control U+202E"),
    ({"name": "Acme", "banned": "line\nbreak"}, "control character U+000A"),
    ({"name": "Acme", "primay": "#0a3d62"}, "unknown field(s) 'primay'"),
    ({"name": "  "}, "needs the brand's name"),
    ({"name": "Acme", "tone": 5}, "tone must be a list"),
]


@pytest.mark.parametrize("data, says", BAD_KITS)
def test_a_bad_kit_is_one_line_and_stores_nothing(engine, data, says):
    changes = {k: v for k, v in data.items() if k != "name"}
    with pytest.raises(BrandKitRejected) as caught:
        set_kit(engine, data["name"], **changes)
    message = str(caught.value)
    assert says in message and "\n" not in message and "nothing was stored" in message
    assert list_kits(engine) == []


def test_a_bad_change_keeps_the_kit_as_it_was(engine):
    kit = set_kit(engine, "Acme", primary="#0A3D62", tone="calm, precise, calm", banned=["cheap", "best ever"])
    assert kit == BrandKit("Acme", primary="#0a3d62", tone=("calm", "precise"), banned=("cheap", "best ever"))
    with pytest.raises(BrandKitRejected):
        set_kit(engine, "acme", accent="orange")
    assert get_kit(engine, " ACME ") == kit
    assert set_kit(engine, "acme", primary="").primary is None  # '' clears one field, the others stay
    assert get_kit(engine, "Acme").banned == ("cheap", "best ever")


def test_an_import_with_one_bad_kit_stores_none(engine, tmp_path):
    path = tmp_path / "kits.json"
    path.write_text(json.dumps([{"name": "Good", "primary": "#112233"}, {"name": "Bad", "font": "nope"}]))
    with pytest.raises(BrandKitRejected) as caught:
        import_kits(engine, path)
    assert "kit 2:" in str(caught.value) and "\n" not in str(caught.value)
    assert list_kits(engine) == []
    path.write_text(json.dumps({"brands": [{"name": "Good"}, {"name": "good"}]}))
    with pytest.raises(BrandKitRejected, match="appears twice"):
        import_kits(engine, path)
    path.write_text("{not json")
    with pytest.raises(BrandKitRejected, match="not a UTF-8 JSON file"):
        import_kits(engine, path)
    assert list_kits(engine) == []


def test_the_sample_library_gives_every_sample_brand_a_kit(sample_home):
    ws = Workspace.of(sample_home)
    brands = {get_product(ws.engine, pid).brand for pid in ("SKU-1001", "SKU-1003", "SKU-1005", "SKU-2001", "SKU-2002", "SKU-2003")}
    for brand in brands:
        kit = find_kit(ws.engine, brand)
        assert kit is not None and kit.primary and kit.font and kit.banned, brand


def test_a_brand_banned_word_rejects_a_title_the_generic_guardrails_accept(sample_home):
    ws = Workspace.of(sample_home)
    runner = get_product(ws.engine, "SKU-1001")  # Northwind
    text = "Stride Runner: foam midsole"
    assert Guardrails.for_product(runner).check_title(text) == []
    candidate = Candidate(text, "benefit", "en", "lm", runner.product_id)
    assert edit_title(ws, candidate, text).status == "accepted"

    set_kit(ws.engine, "Aurora", banned="Foam")  # another brand's ban does not touch Northwind's titles
    assert edit_title(ws, candidate, text).status == "accepted"

    set_kit(ws.engine, "northwind", banned="cheap,FOAM")
    edited = edit_title(ws, candidate, text)
    assert edited.status == "rejected" and "banned by the brand kit: 'FOAM'" in edited.reasons
    generated = copy_pipeline(ws).titles(runner, styles=("benefit",), engine="grammar", fill=False)
    assert all("foam" not in c.text.casefold() for c in generated if c.status == "accepted")
    assert any("foam" in c.text.casefold() and "banned by the brand kit: 'FOAM'" in c.reasons for c in generated)


def _kit_pixels(home, engine, rgb) -> dict[str, int]:
    """Per template, how many pixels of the SKU-1001 banner at 300x250 are exactly `rgb`."""
    resolved = resolve_selection(home, engine, BatchSelection(products=("SKU-1001",), templates=("all",), sizes=("300x250",)))
    specs, _, _ = enumerate_specs(resolved)
    renderer = Renderer(resolved.pack)
    counts = {}
    for spec in specs:
        image = renderer.render(spec).image
        assert image is not None, spec
        counts[spec.template] = int((np.asarray(image.convert("RGB")) == np.array(rgb)).all(axis=-1).sum())
    return counts


def test_a_banner_of_a_brand_with_a_kit_uses_its_primary_colour(sample_home, engine):
    green = (10, 125, 62)
    set_kit(engine, "Northwind", primary="#0a7d3e")
    with_kit = _kit_pixels(sample_home, engine, green)
    remove_kit(engine, "Northwind")
    without = _kit_pixels(sample_home, engine, green)
    assert set(without.values()) == {0}
    painted = [t for t, n in with_kit.items() if n > 1000]  # buttons, panels and bands in the kit's colour
    assert len(painted) >= len(with_kit) // 2, with_kit


def _title_weights(home, engine, product: str) -> dict[str, str]:
    """Per template, the weight the title of `product`'s banner at 300x250 is set in."""
    resolved = resolve_selection(home, engine, BatchSelection(products=(product,), templates=("all",), sizes=("300x250",)))
    renderer = Renderer(resolved.pack)
    weights = {}
    for spec in enumerate_specs(resolved)[0]:
        layout = renderer.render(spec).layout
        weights[spec.template] = next(p.text.font.weight for p in layout.slots if p.role == "title")
    return weights


def test_a_brand_kit_font_sets_the_title_face(sample_home, engine):
    set_kit(engine, "Northwind", font="SourceSansPro-Regular")
    assert set(_title_weights(sample_home, engine, "SKU-1001").values()) == {"regular"}
    set_kit(engine, "Northwind", font="SourceSansPro-Bold")
    assert set(_title_weights(sample_home, engine, "SKU-1001").values()) == {"bold"}
    # a Latin face says nothing about a Chinese title: the template's weight stays
    chinese = get_product(engine, "SKU-2001")
    set_kit(engine, chinese.brand, font="")
    templates_choice = _title_weights(sample_home, engine, "SKU-2001")
    set_kit(engine, chinese.brand, font="SourceSansPro-Regular")
    assert _title_weights(sample_home, engine, "SKU-2001") == templates_choice
    set_kit(engine, chinese.brand, font="wqy-microhei")
    assert set(_title_weights(sample_home, engine, "SKU-2001").values()) == {"regular"}


def test_a_kit_colour_and_font_are_part_of_the_pack_fingerprint(sample_home, engine):
    selection = BatchSelection(products=("SKU-1001",), templates=("hero",), sizes=("300x250",))
    before = resolve_selection(sample_home, engine, selection).pack.fingerprint()
    set_kit(engine, "Northwind", primary="#0a7d3e")
    coloured = resolve_selection(sample_home, engine, selection).pack.fingerprint()
    assert coloured != before  # no stale banners from a cache
    set_kit(engine, "Northwind", font="SourceSansPro-Regular")  # the sample kit sets Bold
    assert resolve_selection(sample_home, engine, selection).pack.fingerprint() not in (before, coloured)


def _run(*args: str, ok: bool = True):
    result = CliRunner().invoke(cli, list(args))
    assert (result.exit_code == 0) == ok, (result.output, result.exception)
    return result


def test_cli_round_trip_with_json(tmp_path):
    home = ("--home", str(tmp_path / "home"))
    assert json.loads(_run(*home, "brands", "list", "--json").output) == []
    assert "creative brands set" in _run(*home, "brands", "list").output
    made = json.loads(_run(*home, "brands", "set", "Northwind", "--primary", "#0A3D62", "--accent", "#f6b93b",
                           "--font", "SourceSansPro-Bold", "--tone", "calm,precise", "--banned", "cheap,best ever", "--json").output)
    assert made == {"name": "Northwind", "primary": "#0a3d62", "accent": "#f6b93b", "font": "SourceSansPro-Bold",
                    "tone": ["calm", "precise"], "banned": ["cheap", "best ever"]}
    assert json.loads(_run(*home, "brands", "show", "northwind", "--json").output) == made

    kits = tmp_path / "kits.json"
    kits.write_text(json.dumps([{"name": "Lu", "primary": "#b8391a", "banned": ["trendy"]}]), encoding="utf-8")
    assert [k["name"] for k in json.loads(_run(*home, "brands", "import", str(kits), "--json").output)["kits"]] == ["Lu"]
    assert [k["name"] for k in json.loads(_run(*home, "--json", "brands", "list").output)] == ["Lu", "Northwind"]

    failed = _run(*home, "brands", "set", "Lu", "--primary", "orange", "--json", ok=False)
    assert failed.exit_code == 1
    error = json.loads(failed.stderr)  # one JSON line on stderr, nothing on stdout
    assert failed.stdout == "" and "'orange' is not a #rrggbb" in error["error"] and "nothing was stored" in error["hint"]
    assert json.loads(_run(*home, "brands", "show", "Lu", "--json").output)["primary"] == "#b8391a"

    assert json.loads(_run(*home, "brands", "remove", "Lu", "--json").output) == {"removed": "Lu"}
    missing = _run(*home, "brands", "show", "Lu", "--json", ok=False)
    assert json.loads(missing.stderr) == {"error": "no brand kit for 'Lu'", "hint": "list them with `creative brands list`"}
