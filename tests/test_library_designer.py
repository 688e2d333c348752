"""The designer's library use cases: one upload with duplicates named, search, rename, where-used and guarded removal."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from support.web import make_experiment

from creative.catalog import list_products
from creative.errors import ElementInUse, ElementRejected
from creative.services import Workspace, stop_experiment
from creative.services.library import find_elements, remove_element, upload_image, where_used


def _png(path: Path, colour=(200, 40, 40)) -> Path:
    Image.new("RGB", (64, 48), colour).save(path)
    return path


def test_the_same_bytes_as_another_kind_are_held_back_until_asked_for(home, tmp_path):
    ws = Workspace.of(home)
    first = upload_image(ws, _png(tmp_path / "mark.png"), "product")
    assert first.created and first.same_bytes is None
    again = upload_image(ws, tmp_path / "mark.png", "product")
    assert not again.created and again.element.code == first.element.code
    as_logo = upload_image(ws, tmp_path / "mark.png", "logo")
    assert as_logo.element is None and as_logo.same_bytes.code == first.element.code
    assert [e.kind for e in ws.elements.list()] == ["product"]
    meant = upload_image(ws, tmp_path / "mark.png", "logo", as_another_kind=True)
    assert meant.created and meant.element.code.startswith("L-") and meant.same_bytes.code == first.element.code


def test_search_matches_every_word_in_code_name_brand_or_file_name(home, tmp_path):
    ws = Workspace.of(home)
    kettle = upload_image(ws, _png(tmp_path / "red-kettle.png"), "product", brand="Northwind").element
    upload_image(ws, _png(tmp_path / "blue-lamp.png", (20, 20, 200)), "product", brand="Contoso")
    assert [e.code for e in find_elements(ws, "KETTLE north")] == [kettle.code]
    assert [e.code for e in find_elements(ws, kettle.code.lower())] == [kettle.code]
    assert [e.name for e in find_elements(ws, brand="Contoso")] == ["blue-lamp"]
    assert find_elements(ws, "kettle", kind="logo") == []


def test_rename_keeps_the_code_and_refuses_a_path(home, tmp_path):
    ws = Workspace.of(home)
    code = upload_image(ws, _png(tmp_path / "x.png"), "background").element.code
    assert ws.elements.rename(code, "  Summer beach  ").name == "Summer beach"
    with pytest.raises(ElementRejected, match="contains '..', a slash or a control character; type a plain label"):
        ws.elements.rename(code, "../etc")
    assert ws.elements.get(code).name == "Summer beach"


def test_an_element_of_a_running_experiment_is_not_removed_and_where_used_names_everything(sample_home):
    ws = Workspace.of(sample_home)
    experiment_id = make_experiment(sample_home, n=3, name="guarded")
    product = next(p for p in list_products(ws.engine) if p.images)
    code = product.images[0]
    use = where_used(ws, code)
    assert product.product_id in {p.product_id for p in use.products}
    assert [x.experiment_id for x in use.blocking] == [experiment_id] and use.blocking[0].status == "running"
    assert sum(b.creatives for b in use.batches) >= 1
    with pytest.raises(ElementInUse, match=f"{code} is used by 1 experiment.*'guarded' \\({experiment_id}, running\\).*stop them first"):
        remove_element(ws, code)
    assert ws.elements.get(code).code == code

    stop_experiment(ws, experiment_id)
    removed = remove_element(ws, code)
    assert removed.experiments[0].status == "stopped" and not removed.blocking
    assert code not in {e.code for e in ws.elements.list()}
    # the catalog keeps the code (pages show it as removed)
    assert code in next(p for p in list_products(ws.engine) if p.product_id == product.product_id).images
