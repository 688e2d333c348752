"""Every template at every size: titles set at a legible size for the format, faces kept whole and clear,
and product plus title covering a share of the canvas."""

import pytest
from support.measure import FakeMeasurer

from layouts import ALL_SIZES, ImageContent, TextContent, builtin_templates, evaluate, get_template, hard_violations, parse_template, solve
from layouts.legibility import min_text_px
from layouts.sizes import Size
from layouts.solver import FACE_REGION

M = FakeMeasurer()
CONTENT = {
    "product": ImageContent(1.0),
    "model": ImageContent(0.31, FACE_REGION),  # a standing person's alpha box, as the sample models
    "logo": ImageContent(3.0),
    "title": TextContent("Stride Runner, now $69"),
    "price": TextContent("$69"),
    "discount": TextContent("-22%"),
    "cta": TextContent("Shop now"),
}


def test_the_floors_hold_at_banner_sizes_and_grow_with_the_short_side():
    assert min_text_px("title", Size(728, 90)) == min_text_px("title", Size(320, 50)) == 14
    assert min_text_px("cta", Size(300, 250)) == 11
    assert min_text_px("title", Size(1080, 1920)) == min_text_px("title", Size(1080, 1080)) > 3 * 12
    assert min_text_px("title", Size(1200, 628)) > 14


@pytest.mark.parametrize("template", sorted(builtin_templates()))
def test_every_text_of_every_template_is_legible_at_every_size(template):
    for size in ALL_SIZES:
        layout = solve(get_template(template), size, CONTENT, M)
        for p in layout.slots:
            if p.text is not None:
                assert p.text.size >= min_text_px(p.kind, size), (template, size.name, p.name, p.text.size)
        title = layout.get("title")
        assert title is not None and title.text.size >= 14
        metrics, violations = evaluate(layout)
        assert not any(v.code == "small_text" for v in violations)


@pytest.mark.parametrize("size", ALL_SIZES, ids=str)
def test_a_person_is_never_cropped_through_the_face_nor_covered_there(size):
    layout = solve(get_template("model"), size, CONTENT, M)
    model = layout.get("model")
    assert model.salient_cut <= 0.01
    face = model.salient
    for p in layout.slots:
        if p is not model and not p.slot.is_underlay:
            assert p.content_box.intersection_area(face) < 0.02 * face.area, (size.name, p.name)
    _, violations = evaluate(layout)
    assert not hard_violations(violations)


def test_a_layout_covering_the_face_or_cropping_through_it_is_rejected():
    template = parse_template({
        "name": "bad-model", "slots": {
            "model": {"kind": "model", "z": 1, "required": True, "fit": "cover", "anchor": "bottom", "padding": 0},
            "product": {"kind": "product", "z": 2, "required": True},
            "title": {"kind": "title", "z": 3, "required": True}},
        "may_overlap": [["model", "product"], ["model", "title"]],
        "layouts": {"square": {"model": [0, 0, 1, 1], "product": [0.3, 0.0, 0.4, 0.3], "title": [0.05, 0.8, 0.9, 0.15]}}})
    layout = solve(template, Size(300, 250), dict(CONTENT, model=ImageContent(0.9, FACE_REGION)), M)
    _, violations = evaluate(layout)
    assert "face_covered" in {v.code for v in hard_violations(violations)}
    # a photo whose face sits where a bottom-anchored crop would cut it is shown whole instead
    assert layout.get("model").salient_cut <= 0.01


@pytest.mark.parametrize("size", [Size(300, 250), Size(1080, 1080), Size(1080, 1920), Size(300, 600)], ids=str)
def test_product_and_title_cover_a_share_of_the_canvas_like_a_poster(size):
    shares = [evaluate(solve(t, size, CONTENT, M))[0].occupancy for t in builtin_templates().values()]
    assert sum(shares) / len(shares) >= 0.25, shares


def test_a_cover_crop_centres_on_an_off_centre_subject():
    template = parse_template({
        "name": "cover-crop", "slots": {
            "model": {"kind": "model", "z": 1, "required": True, "fit": "cover", "padding": 0},
            "title": {"kind": "title", "z": 2, "required": True}},
        "layouts": {"square": {"model": [0, 0, 0.5, 1], "title": [0.55, 0.3, 0.4, 0.4]}}})
    subject = (0.7, 0.1, 0.9, 0.4)  # a wide photo whose person stands at the right
    layout = solve(template, Size(300, 250), dict(CONTENT, model=ImageContent(2.0, subject)), M)
    model = layout.get("model")
    left, _, right, _ = model.crop
    assert left <= subject[0] and subject[2] <= right and left > 0.3  # the crop moved right to keep the subject
    assert model.salient_cut == 0
