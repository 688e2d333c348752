"""The layout engine in pure geometry: text fitting, solving, colour and quality metrics."""

import numpy as np
import pytest
from support.measure import FakeMeasurer

from layouts import (
    ALL_SIZES,
    Box,
    ImageContent,
    LayoutError,
    Readability,
    TextContent,
    TextDoesNotFit,
    builtin_templates,
    evaluate,
    fit_text,
    get_template,
    hard_violations,
    solve,
)
from layouts.colour import choose_text_colour, colour_family, contrast, required_contrast
from layouts.metrics import penalised
from layouts.sizes import Size
from layouts.solver import FACE_REGION, PlacedSlot, SolvedLayout
from layouts.text import NO_LINE_END, NO_LINE_START, break_units

M = FakeMeasurer()
CONTENT = {
    "background": ImageContent(1.5),
    "product": ImageContent(0.8, (0.1, 0.05, 0.9, 0.95)),
    "model": ImageContent(0.7, FACE_REGION),
    "logo": ImageContent(3.0),
    "title": TextContent("Trail runner shoes with grip"),
    "subtitle": TextContent("Lightweight mesh upper"),
    "price": TextContent("$59.99"),
    "discount": TextContent("-30%"),
    "cta": TextContent("Shop now"),
}


def test_latin_wraps_by_words_and_never_splits_or_drops_one():
    text = "Lightweight trail running shoes for wet rock"
    fit = fit_text(text, 120, 200, M, min_size=10, max_size=14, max_lines=6)
    assert " ".join(fit.lines) == text
    assert all(w <= 120 for w in fit.line_widths)
    assert len(fit.lines) > 1


def test_cjk_breaks_per_character_with_kinsoku():
    text = "夏季新品「限时」特惠，全场五折！立即抢购。"
    fit = fit_text(text, 64, 400, M, min_size=10, max_size=16, max_lines=10, balance=False)
    assert "".join(fit.lines) == text
    for line in fit.lines:
        assert line[0] not in NO_LINE_START, fit.lines
        assert line[-1] not in NO_LINE_END, fit.lines
    assert max(len(line) for line in fit.lines) <= 5


def test_kinsoku_keeps_punctuation_with_its_neighbour():
    units = [u.text for u in break_units("特惠，「五折」。")]
    assert "惠，" in units and "「五" in units and "折」。" in units


def test_shrinks_to_fit_longer_text():
    short = fit_text("Big sale", 200, 40, M, min_size=8, max_size=40, max_lines=1)
    long = fit_text("Big sale on every running shoe", 200, 40, M, min_size=8, max_size=40, max_lines=1)
    assert long.size < short.size
    assert long.width <= 200 and long.height <= 40


def test_text_that_cannot_fit_is_rejected_with_a_reason_not_truncated():
    with pytest.raises(TextDoesNotFit, match="needs 5 lines at the minimum 10 px, at most 2 allowed"):
        fit_text("one two three four five six seven eight", 60, 100, M, min_size=10, max_size=20, max_lines=2)
    with pytest.raises(TextDoesNotFit, match="alone is wider"):
        fit_text("Supercalifragilistic", 40, 100, M, min_size=10, max_size=20, max_lines=3)


@pytest.mark.parametrize("template", sorted(builtin_templates()))
def test_every_template_solves_at_every_size_without_hard_violations(template):
    for size in ALL_SIZES:
        layout = solve(get_template(template), size, CONTENT, M)
        metrics, violations = evaluate(layout)
        assert not hard_violations(violations), (template, size.name, violations)
        assert metrics.out_of_bounds == 0
        for p in layout.slots:
            assert layout.canvas.contains(p.content_box), (template, size.name, p.name)
            if p.text is not None:
                assert p.box.contains(p.text_box) or p.content_box.contains(p.text_box)


def test_optional_slots_drop_out_at_tiny_sizes_with_a_note():
    layout = solve(get_template("hero"), Size(320, 50), CONTENT, M)
    names = {p.name for p in layout.slots}
    assert {"product", "title"} <= names and "logo" not in names
    assert any("logo" in note for note in layout.notes)
    metrics, violations = evaluate(layout)
    absent = [v for v in violations if v.code == "slot_absent"]  # left out of the strip layout by design: noted, free
    assert any("logo" in v.message for v in absent) and not any(v.hard for v in absent)
    assert metrics.quality == penalised(1.0, [v.code for v in violations]) and penalised(1.0, ["slot_absent"]) == 1.0


def test_a_slot_that_did_not_fit_costs_quality_and_one_the_layout_leaves_out_does_not():
    layout = solve(get_template("promo"), Size(320, 100), CONTENT, M)
    assert layout.absent and set(layout.absent) < set(layout.notes)
    metrics, violations = evaluate(layout)
    codes = {v.message.split(" ")[0]: v.code for v in violations if v.code in ("slot_dropped", "slot_absent")}
    assert codes == {"cta": "slot_dropped", "discount": "slot_absent"}
    assert metrics.quality == penalised(1.0, [v.code for v in violations]) < 1.0


def test_required_content_missing_is_a_layout_error():
    content = {k: v for k, v in CONTENT.items() if k != "model"}
    with pytest.raises(LayoutError, match="required slot 'model' has no model"):
        solve(get_template("model"), Size(300, 250), content, M)


def test_required_title_too_long_rejects_the_creative():
    content = dict(CONTENT, title=TextContent("An extraordinarily verbose headline " * 6))
    with pytest.raises(TextDoesNotFit, match="template 'hero' at 320x50"):
        solve(get_template("hero"), Size(320, 50), content, M)


def test_images_keep_their_aspect_and_cover_fills_its_box():
    layout = solve(get_template("model"), Size(1080, 1080), CONTENT, M)
    product = layout.get("product")
    assert abs(product.content_box.w / product.content_box.h - 0.8) < 0.02
    model = layout.get("model")
    assert model.content_box == model.box and model.crop is not None


def test_solving_is_deterministic():
    t = get_template("promo")
    assert solve(t, Size(300, 600), CONTENT, M) == solve(t, Size(300, 600), CONTENT, M)


def _slot(name, kind, box, text=False, salient=None, z=3):
    from layouts.template import Slot
    from layouts.text import FontSpec, TextFit

    fit = TextFit(("x",), FontSpec("latin", "bold", 14), 16, 11, 3, (box.w,), box.w, box.h) if text else None
    return PlacedSlot(Slot(name, kind, z), kind, box, box, fit, box if text else None, salient=salient)


def test_text_over_text_and_text_over_product_are_hard_violations():
    product = _slot("product", "product", Box(50, 50, 100, 100), salient=Box(60, 60, 80, 80), z=2)
    title = _slot("title", "title", Box(70, 120, 100, 30), text=True)
    cta = _slot("cta", "cta", Box(150, 130, 60, 30), text=True)
    layout = SolvedLayout("t", Size(300, 250), "square", (product, title, cta))
    _, violations = evaluate(layout)
    codes = {v.code for v in hard_violations(violations)}
    assert {"text_overlap", "text_on_product"} <= codes


def test_out_of_bounds_and_hidden_product_are_hard():
    product = _slot("product", "product", Box(10, 10, 50, 50), salient=Box(10, 10, 50, 50), z=2)
    logo = _slot("logo", "logo", Box(0, 0, 80, 80), z=3)
    stray = _slot("badge_img", "logo", Box(280, 230, 40, 40), z=4)
    metrics, violations = evaluate(SolvedLayout("t", Size(300, 250), "square", (product, logo, stray)))
    codes = {v.code for v in hard_violations(violations)}
    assert {"out_of_bounds", "product_hidden"} <= codes
    assert metrics.occlusion == 1.0 and metrics.out_of_bounds > 0


def test_low_contrast_is_hard_and_busy_background_is_soft():
    title = _slot("title", "title", Box(10, 10, 100, 30), text=True)
    layout = SolvedLayout("t", Size(300, 250), "square", (title,))
    _, violations = evaluate(layout, [Readability("title", 2.1, 4.5, 0.3)])
    assert [v.code for v in hard_violations(violations)] == ["low_contrast"]
    assert any(v.code == "busy_background" and not v.hard for v in violations)


def test_wcag_contrast_values_and_thresholds():
    assert contrast((255, 255, 255), (0, 0, 0)) == pytest.approx(21.0)
    assert contrast((118, 118, 118), (255, 255, 255)) >= 4.5 > contrast((119, 119, 119), (255, 255, 255))
    assert required_contrast(16, bold=False) == 4.5
    assert required_contrast(19, bold=True) == 3.0 and required_contrast(24, bold=False) == 3.0


def test_text_colour_meets_contrast_on_a_noisy_photo_by_adding_a_scrim():
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(60, 200, 3), dtype=np.uint8)
    choice = choose_text_colour(pixels, [(200, 30, 30)], 4.5)
    assert choice.scrim is not None and choice.contrast >= 4.5


def test_text_colour_prefers_a_brand_colour_when_it_reads():
    pixels = np.full((40, 100, 3), 245, dtype=np.uint8)
    choice = choose_text_colour(pixels, [(20, 40, 150)], 4.5)
    assert choice.text == (20, 40, 150) and choice.scrim is None


def test_colour_families():
    assert colour_family((200, 30, 30)) == "red"
    assert colour_family((30, 60, 200)) == "blue"
    assert colour_family((250, 250, 250)) == "white"
    assert colour_family((10, 10, 10)) == "black"
