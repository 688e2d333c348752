"""Templates are data: the shipped ones load, and broken ones are refused with a reason."""

import copy
import json

import pytest

from layouts import ALL_SIZES, TemplateError, builtin_templates, load_template, parse_template, parse_templates
from layouts.sizes import SizeError, aspect_class, parse_size, parse_sizes
from layouts.template import TEMPLATE_DIR


def _hero() -> dict:
    return json.loads((TEMPLATE_DIR / "hero.json").read_text())


def test_at_least_eight_templates_cover_the_required_designs():
    templates = builtin_templates()
    assert len(templates) >= 8
    assert {"hero", "split", "overlay", "promo", "brand", "model", "minimal", "ribbon"} <= set(templates)
    assert templates["model"].requires("model")
    assert templates["promo"].requires("badge")
    assert templates["overlay"].slots["title"].scrim == "always"
    assert "strip" in templates["ribbon"].best_for and "skyscraper" in templates["ribbon"].best_for


def test_every_template_has_a_layout_for_every_standard_size():
    for template in builtin_templates().values():
        for size in ALL_SIZES:
            placements = template.placements(size)
            assert any(p.slot.kind == "title" for p in placements), (template.name, size)


def test_unknown_slot_in_a_layout_is_refused():
    data = _hero()
    data["layouts"]["square"]["headline"] = [0.1, 0.1, 0.2, 0.2]
    with pytest.raises(TemplateError, match="unknown slot 'headline'"):
        parse_template(data)


def test_unknown_slot_kind_is_refused():
    data = _hero()
    data["slots"]["sticker"] = {"kind": "sticker", "z": 3}
    with pytest.raises(TemplateError, match="unknown kind 'sticker'"):
        parse_template(data)


def test_misspelt_slot_key_is_refused():
    data = _hero()
    data["slots"]["title"]["max_line"] = 3
    with pytest.raises(TemplateError, match="unknown keys"):
        parse_template(data)


def test_hard_slots_that_overlap_are_refused():
    data = _hero()
    data["layouts"]["square"]["title"] = [0.3, 0.3, 0.4, 0.2]  # right over the product
    with pytest.raises(TemplateError, match="hard slots 'product' and 'title' overlap in the 'square' layout"):
        parse_template(data)


def test_overlap_is_allowed_only_when_declared():
    data = _hero()
    data["layouts"]["square"]["badge"] = [0.6, 0.1, 0.3, 0.3]  # badge corner over the product
    with pytest.raises(TemplateError, match="overlap"):
        parse_template(copy.deepcopy(data))
    data["may_overlap"] = [["badge", "product"]]
    assert parse_template(data).name == "hero"


def test_box_outside_the_canvas_is_refused():
    data = _hero()
    data["layouts"]["wide"]["product"] = [0.8, 0.1, 0.4, 0.8]
    with pytest.raises(TemplateError, match="outside the canvas"):
        parse_template(data)


def test_required_slot_missing_from_a_layout_is_refused():
    data = _hero()
    del data["layouts"]["tall"]["title"]
    with pytest.raises(TemplateError, match="required slot 'title' is missing from the 'tall' layout"):
        parse_template(data)


def test_file_name_must_match_template_name(tmp_path):
    data = _hero()
    path = tmp_path / "other.json"
    path.write_text(json.dumps(data))
    with pytest.raises(TemplateError, match="name the file hero.json"):
        load_template(path)


def test_template_selection_by_name_and_all():
    assert [t.name for t in parse_templates("hero,split")] == ["hero", "split"]
    assert len(parse_templates(["all"])) == len(builtin_templates())
    with pytest.raises(TemplateError, match="unknown template 'nope'"):
        parse_templates("hero,nope")


@pytest.mark.parametrize("bad", ["0x0", "99999x1", "abc", "300x", "300x250x2", "1x600", "4000x100"])
def test_bad_sizes_are_refused_with_the_allowed_range(bad):
    with pytest.raises(SizeError):
        parse_size(bad)


def test_size_lists_parse_groups_and_keep_order():
    assert len(parse_sizes("all")) == 11
    assert [s.name for s in parse_sizes(["728x90", "300x250,728x90"])] == ["728x90", "300x250"]
    assert len(parse_sizes("iab")) == 8 and len(parse_sizes("social")) == 3


def test_aspect_classes_of_the_standard_sizes():
    classes = {s.name: aspect_class(s) for s in ALL_SIZES}
    assert classes["728x90"] == classes["320x50"] == "strip"
    assert classes["970x250"] == classes["320x100"] == "banner"
    assert classes["1200x628"] == "wide"
    assert classes["300x250"] == classes["1080x1080"] == "square"
    assert classes["300x600"] == classes["1080x1920"] == "tall"
    assert classes["160x600"] == "skyscraper"
