"""Product cut-outs and smart crops: GrabCut separates a product from a gradient, striped or noisy backdrop;
photos it cannot trust stay photos (drawn as cards) with the box of their subject, and banners crop them
around that subject; plain light backdrops keep the exact flood fill."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import httpx
import numpy as np
import pytest
from PIL import Image
from support.cli import run_creative
from support.pictures import is_body, product_photo
from support.web import ADMIN, PASSWORD, LiveServer, login, quick_settings

from creative.compose import BatchSelection, Renderer, enumerate_specs, resolve_selection
from creative.compose.spec import ElementPack
from creative.db import open_database
from creative.home import resolve_home
from creative.services import Workspace
from creative.web import create_app
from creative.web.auth import create_user


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def _add(store, tmp_path, name: str, photo: Image.Image):
    path = tmp_path / f"{name}.png"
    photo.save(path)
    return store.add_images([path], "product")[0].element


@pytest.mark.parametrize("backdrop", ["gradient", "textured", "noisy"])
@pytest.mark.parametrize("centre", [(0.5, 0.5), (0.32, 0.6)])
def test_grabcut_cuts_a_product_out_of_a_busy_backdrop(store, tmp_path, backdrop, centre):
    photo, truth = product_photo(backdrop, centre=centre)
    element = _add(store, tmp_path, f"{backdrop}-{centre[0]}", photo)
    assert element.attributes["has_cutout"] and element.cutout_method == "grabcut"
    assert store.image_path(element) == store.derived_path(element, "cutout")  # banners use the cut-out
    with Image.open(store.derived_path(element, "cutout")) as cut:
        assert cut.size == photo.size
        alpha = np.asarray(cut.getchannel("A"))
    assert _iou(alpha > 127, truth) >= 0.97
    assert (alpha[~truth] > 127).mean() < 0.01 and (alpha[truth] > 127).mean() > 0.98
    left, top, right, bottom = element.attributes["bbox"]  # the trimmed box is the product's, not the photo's
    rows, cols = np.flatnonzero(truth.any(axis=1)), np.flatnonzero(truth.any(axis=0))
    assert abs(left - cols[0]) <= 4 and abs(right - cols[-1] - 1) <= 4 and abs(top - rows[0]) <= 4 and abs(bottom - rows[-1] - 1) <= 4
    assert element.attributes["subject"] is None


def test_a_large_photo_is_cut_out_at_full_size_from_a_small_working_copy(store, tmp_path):
    photo, truth = product_photo("textured", size=(800, 800))
    big = photo.resize((2400, 2400), Image.Resampling.BICUBIC)
    element = _add(store, tmp_path, "big", big)
    assert element.cutout_method == "grabcut"
    with Image.open(store.derived_path(element, "cutout")) as cut:
        alpha = np.asarray(cut.getchannel("A").resize((800, 800), Image.Resampling.BOX))
    assert _iou(alpha > 127, truth) >= 0.97
    edge = np.asarray(Image.open(store.derived_path(element, "cutout")).getchannel("A"))[1200, :]
    assert ((edge > 0) & (edge < 255)).sum() <= 16  # a soft edge a few pixels wide on each side, not a blurred halo


@pytest.mark.parametrize("case", ["pure noise", "product fills the frame", "product runs into the frame"])
def test_photos_grabcut_cannot_trust_stay_photos(store, tmp_path, case):
    if case == "pure noise":
        photo, _ = product_photo("noise", scale=0.0)
    elif case == "product fills the frame":
        photo, _ = product_photo("textured", scale=2.6)
    else:
        photo, _ = product_photo("textured", centre=(0.3, 0.8))
    element = _add(store, tmp_path, case.replace(" ", "-"), photo)
    assert not element.attributes["has_cutout"] and element.cutout_method is None
    assert store.image_path(element) == store.derived_path(element, "rgba")  # drawn as the photo it is
    assert list(element.attributes["bbox"]) == [0, 0, 800, 800]


def test_plain_light_backdrops_keep_the_flood_fill(store, tmp_path):
    photo, truth = product_photo("white", centre=(0.45, 0.55))
    element = _add(store, tmp_path, "on-white", photo)
    assert element.cutout_method == "flood fill"
    with Image.open(store.derived_path(element, "cutout")) as cut:
        alpha = np.asarray(cut.getchannel("A"))
    assert _iou(alpha > 127, truth) >= 0.99


def test_the_subject_box_of_a_photo_that_is_not_cut_out_holds_its_product(store, tmp_path):
    photo, truth = product_photo("textured", centre=(0.3, 0.8))  # runs into the bottom edge: no cut-out
    element = _add(store, tmp_path, "tight", photo)
    left, top, right, bottom = element.attributes["subject"]
    rows, cols = np.flatnonzero(truth.any(axis=1)) / 800, np.flatnonzero(truth.any(axis=0)) / 800
    assert left <= cols[0] + 0.01 and right >= cols[-1] - 0.01 and top <= rows[0] + 0.01 and bottom >= rows[-1]
    assert (right - left) * (bottom - top) < 1.5 * (cols[-1] - cols[0]) * (rows[-1] - rows[0])  # tight, not the whole frame


def test_the_cli_says_how_each_product_was_cut_out(home, tmp_path):
    paths = []
    for name, photo in (("grab", product_photo("gradient")[0]), ("white", product_photo("white")[0]),
                        ("tight", product_photo("textured", centre=(0.3, 0.8))[0])):
        photo.save(tmp_path / f"{name}.png")
        paths.append(str(tmp_path / f"{name}.png"))
    out = run_creative(home.root, "elements", "add", "--kind", "product", *paths).stdout.splitlines()
    assert [line.split(" 800x800")[1] for line in out] == [" cut-out (grabcut)", " cut-out (flood fill)", ""]
    shown = json.loads(run_creative(home.root, "elements", "show", out[2].split()[1], "--json").stdout)
    assert shown["attributes"]["cutout_method"] is None and len(shown["attributes"]["subject"]) == 4
    assert "cutout" not in shown["files"]


def _crop_case(sample_home, tmp_path):
    """A wide photo whose product stands at the left and runs into the bottom edge, in a sample home."""
    photo, truth = product_photo("textured", size=(1600, 800), centre=(0.16, 0.8))
    path = tmp_path / "wide.png"
    photo.save(path)
    ws = Workspace.of(sample_home)
    element = ws.elements.add_images([path], "product")[0].element
    assert element.cutout_method is None and element.attributes["subject"]
    resolved = resolve_selection(sample_home, open_database(sample_home.db_url),
                                 BatchSelection(products=(element.code,), templates=("minimal",), sizes=("1080x1920", "300x250")))
    return element, photo, truth, resolved


def test_a_banner_crops_an_off_centre_photo_around_its_subject(sample_home, tmp_path):
    element, photo, truth, resolved = _crop_case(sample_home, tmp_path)
    true_body = (truth & is_body(np.asarray(photo))).sum()
    whole = ElementPack({**resolved.pack.elements, element.code: replace(resolved.pack.elements[element.code], subject=None)},
                        resolved.pack.offers)
    specs = enumerate_specs(resolved)[0]
    assert {s.size for s in specs} == {"1080x1920", "300x250"}
    for spec in specs:
        cropped, uncropped = Renderer(resolved.pack).render(spec), Renderer(whole).render(spec)
        assert cropped.accepted and uncropped.accepted
        placed = cropped.layout.get("product")
        l, t, r, b = placed.content_box.ltrb()
        # the card fills more of its slot than the whole 2:1 photo would
        assert (r - l) * (b - t) > 1.3 * uncropped.layout.get("product").content_box.area
        x0, y0, x1, y1 = placed.crop
        columns = np.arange(truth.shape[1]) / truth.shape[1]
        centred = (columns >= 0.5 - (x1 - x0) / 2) & (columns < 0.5 + (x1 - x0) / 2)
        assert truth[:, centred].sum() < 0.5 * truth.sum()  # a centre crop of this shape would lose most of the product
        card = np.asarray(cropped.image)[t:b, l:r]
        body = is_body(card)
        scale = (r - l) / ((x1 - x0) * truth.shape[1])
        assert body.sum() >= 0.9 * true_body * scale**2  # the whole product is in the banner
        cols = np.flatnonzero(body.any(axis=0))
        assert cols[0] > 0 and cols[-1] < r - l - 1  # clear of the card's left and right edges


def test_the_element_page_says_how_a_product_was_cut_out(tmp_path):
    home = resolve_home(tmp_path / "home")
    create_user(open_database(home.db_url), ADMIN, PASSWORD)
    server = LiveServer(create_app(home, quick_settings())).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as admin:
            admin.headers["x-csrf-token"] = login(admin)
            pages = {}
            for name, photo in (("grab", product_photo("gradient")[0]), ("tight", product_photo("textured", centre=(0.3, 0.8))[0])):
                body = io.BytesIO()
                photo.save(body, "PNG")
                r = admin.post("/elements/upload", data={"kind": "product"}, files={"files": (f"{name}.png", body.getvalue(), "image/png")})
                assert r.status_code == 200, r.text
                pages[name] = admin.get(f"/elements/{r.json()['results'][0]['code']}").text
    finally:
        server.stop()
    assert "cut out by grabcut" in pages["grab"] and 'id="cutout"' in pages["grab"]
    assert "none: shown as a photo card, cropped around its subject" in pages["tight"] and 'id="cutout"' not in pages["tight"]
