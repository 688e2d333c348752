"""The quality gate before launch: every banner carries a score and its warnings, and a launch refuses
banners under the threshold, saying why for each; real bold CJK and photos shown as cards."""

from __future__ import annotations

import json

import pytest
from PIL import ImageFont
from support.pictures import product_photo

from creative.compose import BatchSelection, Renderer, enumerate_specs, resolve_selection
from creative.creatives import batch_creatives, load_manifest
from creative.db import open_database
from creative.errors import CreativeError
from creative.fonts import find_font
from creative.services import Workspace
from creative.services.batches import DEFAULT_MIN_QUALITY, MIN_QUALITY_ENV, launch_batch, min_quality_setting
from layouts import builtin_templates, parse_size
from layouts.legibility import min_text_px
from layouts.metrics import Violation, penalised


def _codes(home, kind):
    return tuple(e.code for e in Workspace.of(home).elements.list(kind))


def _title(home, text, product_id, language="en"):
    return Workspace.of(home).elements.add_text("title", text, f"{product_id} test title",
                                                {"product_id": product_id, "language": language, "style": "benefit"}).code


def test_every_banner_carries_its_quality_in_the_manifest_and_the_registry(sample_home, tmp_path):
    ws = Workspace.of(sample_home)
    launched = launch_batch(ws, BatchSelection(products=("SKU-1001", "SKU-1003"), templates=("hero", "promo"),
                                               sizes=("300x250", "728x90", "1080x1920")), tmp_path / "out", workers=1)
    records = json.loads((tmp_path / "out" / "manifest.json").read_text())["creatives"]
    assert records and not launched.refused
    for record in records:
        assert 0.0 <= record["metrics"]["quality"] <= 1.0
        assert isinstance(record["warnings"], list)
    registered = {c.creative_id: c for c in batch_creatives(ws.engine, launched.batch.batch)}
    assert {r["id"]: r["metrics"]["quality"] for r in records} == {i: c.quality for i, c in registered.items()}
    assert {c.creative_id for c in load_manifest(tmp_path / "out").creatives} == set(registered)


def test_a_launch_refuses_banners_under_the_threshold_and_says_why(sample_home, tmp_path):
    ws = Workspace.of(sample_home)
    good = _title(sample_home, "Stride Runner, now $69", "SKU-1001")
    wrong = _title(sample_home, "Stride Runner: 60% off", "SKU-1001")  # the catalog says $89 -> $69 (22%)
    launched = launch_batch(ws, BatchSelection(products=("SKU-1001",), titles=(good, wrong), templates=("hero",), sizes=("300x250",)),
                            tmp_path / "out", workers=1)
    kept = {c.elements.get("title") for c in launched.batch.creatives}
    assert kept == {good}
    assert [r.creative_id.endswith(wrong) for r in launched.refused] == [True]
    refused = launched.refused[0]
    assert refused.quality < DEFAULT_MIN_QUALITY
    assert any(r.startswith("title:") and "60" in r for r in refused.reasons), refused.reasons
    assert "under the launch threshold" in refused.reasons[-1]
    registered = {c.elements.get("title") for c in batch_creatives(ws.engine, launched.batch.batch)}
    assert registered == {good}  # the refused banner reaches neither the registry nor the folder
    assert not list((tmp_path / "out").glob(f"*{wrong}*"))


def test_the_threshold_is_a_setting(sample_home, tmp_path, monkeypatch):
    monkeypatch.delenv(MIN_QUALITY_ENV, raising=False)
    assert min_quality_setting() == DEFAULT_MIN_QUALITY
    monkeypatch.setenv(MIN_QUALITY_ENV, "0.8")
    assert min_quality_setting() == 0.8 and min_quality_setting(0.3) == 0.3
    monkeypatch.setenv(MIN_QUALITY_ENV, "high")
    with pytest.raises(CreativeError, match="from 0 to 1.*CREATIVE_MIN_QUALITY"):
        min_quality_setting()
    monkeypatch.delenv(MIN_QUALITY_ENV)
    # at 1.0 a banner with any finding is refused: at 320x50 the strip has some, at 300x250 hero has none
    ws = Workspace.of(sample_home)
    launched = launch_batch(ws, BatchSelection(products=("SKU-1001",), templates=("hero",), sizes=("300x250", "320x50")),
                            tmp_path / "out", workers=1, min_quality=1.0)
    assert {c.size for c in launched.batch.creatives} == {"300x250"}
    assert launched.refused and all("320x50" in r.creative_id and r.quality < 1.0 for r in launched.refused)
    assert all(len(r.reasons) >= 2 for r in launched.refused), [r.reasons for r in launched.refused]  # the findings, then the threshold


def test_a_launch_whose_every_banner_is_refused_publishes_nothing(sample_home, tmp_path):
    ws = Workspace.of(sample_home)
    wrong = _title(sample_home, "Stride Runner: 60% off", "SKU-1001")
    with pytest.raises(CreativeError, match="refused all 1 banners.*60% off"):
        launch_batch(ws, BatchSelection(products=("SKU-1001",), titles=(wrong,), templates=("hero",), sizes=("300x250",)),
                     tmp_path / "out", workers=1)
    assert not (tmp_path / "out").exists()


def test_penalties_add_up_and_a_hard_violation_scores_zero():
    assert penalised(1.0, []) == 1.0
    assert penalised(1.0, ["slot_dropped", "slot_dropped"]) == 0.9
    assert penalised(0.9, ["copy"]) == 0.3
    assert penalised(1.0, ["text_on_product"]) == 0.0
    assert Violation("face_covered", "").hard and Violation("face_cut", "").hard


def test_bold_chinese_is_a_real_bold_face_not_a_stroked_regular():
    bold, regular = find_font("cjk", "bold"), find_font("cjk", "regular")
    assert bold.path != regular.path and bold.language == "zh-Hans"
    assert ImageFont.truetype(str(bold.path), 20, index=bold.index).getname()[1] == "Bold"


@pytest.fixture
def resolved(sample_home):
    engine = open_database(sample_home.db_url)
    selection = BatchSelection(products=_codes(sample_home, "product"), logos=_codes(sample_home, "logo"),
                               models=_codes(sample_home, "model"), sizes=("1080x1920", "300x250", "728x90"))
    return resolve_selection(sample_home, engine, selection)


def test_a_photo_that_is_not_cut_out_is_drawn_as_a_rounded_card(sample_home, tmp_path):
    photo = tmp_path / "tight-shot.png"
    product_photo("textured", centre=(0.3, 0.8))[0].save(photo)  # runs into the frame: no cut-out
    code = Workspace.of(sample_home).elements.add_images([photo], "product")[0].element.code
    selection = BatchSelection(products=_codes(sample_home, "product"), logos=_codes(sample_home, "logo"), sizes=("1080x1920",))
    resolved = resolve_selection(sample_home, open_database(sample_home.db_url), selection)
    renderer = Renderer(resolved.pack)
    names = {e.code: e.name for e in resolved.pack.elements.values()}
    spec = next(s for s in enumerate_specs(resolved)[0] if s.template == "minimal" and s.product == code)
    rendered = renderer.render(spec)
    assert rendered.accepted and renderer.is_photo(spec.product)
    placed = rendered.layout.get("product")
    l, t, r, b = placed.content_box.ltrb()
    photo = renderer.fitted(spec.product, r - l, b - t, placed.crop, "RGB")
    corner, inside = rendered.image.getpixel((l + 1, t + 1)), rendered.image.getpixel((l + (r - l) // 2, t + 3))
    assert corner != photo.getpixel((1, 1))  # the corner is rounded off: background shows through
    assert inside == photo.getpixel(((r - l) // 2, 3))
    cutout = next(c for c in names if "sneaker" in names[c])
    assert not renderer.is_photo(cutout)


def test_drawn_titles_are_legible_and_faces_whole_with_the_real_fonts_and_pictures(resolved):
    renderer = Renderer(resolved.pack)
    first: dict = {}
    for s in enumerate_specs(resolved)[0]:  # every template, size, product and model; one logo each
        first.setdefault((s.template, s.size, s.product, s.offer, s.model), s)
    specs = list(first.values())
    assert {s.template for s in specs} == set(builtin_templates())
    for spec in specs:
        rendered = renderer.render(spec)
        assert rendered.accepted, (spec.creative_id, rendered.reasons)
        floor = min_text_px("title", parse_size(spec.size))
        assert rendered.layout.get("title").text.size >= max(14, floor), spec.creative_id
        assert not {"small_text", "face_cut", "face_covered"} & {v.code for v in rendered.violations}, spec.creative_id
