"""Page posts over HTTP against a real uvicorn server: a gallery's review changes only its own batch's banners;
an element's edit is stored whole or not at all; an upload's brand is checked like an edited one; an
experiment's winners download as a zip."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest
from PIL import Image
from support.web import ADMIN, PASSWORD, LiveServer, login, make_experiment, quick_settings, serve_rounds

from creative.compose import BatchSelection
from creative.db import open_database
from creative.services import Workspace, launch_batch
from creative.services.batches import banner_reviews
from creative.web import create_app
from creative.web.auth import create_user


@pytest.fixture
def server(sample_home):
    create_user(open_database(sample_home.db_url), ADMIN, PASSWORD)
    live = LiveServer(create_app(sample_home, quick_settings())).start()
    yield live
    live.stop()


@pytest.fixture
def admin(server):
    """A logged-in browser-like client whose posts carry the session's CSRF token and ask for JSON answers."""
    with httpx.Client(base_url=server.url, timeout=30, headers={"accept": "application/json"}) as client:
        client.headers["x-csrf-token"] = login(client)
        yield client


def test_a_gallery_reviews_only_its_own_batchs_banners(sample_home, tmp_path, admin):
    ws = Workspace.of(sample_home)
    products = [e.code for e in ws.elements.list("product")][:2]
    first, second = (launch_batch(ws, BatchSelection(products=(p,), templates=("hero",), sizes=("300x250",)), tmp_path / p,
                                  max_n=1, workers=1).batch for p in products)
    own, other = first.creatives[0].creative_id, second.creatives[0].creative_id
    refused = admin.post(f"/batches/{first.batch}/review", data={"decision": "reject", "ids": [own, other]})
    assert refused.status_code == 422 and f"{other!r} is not in batch {first.batch}" in refused.json()["message"]
    assert banner_reviews(ws, [own, other]) == {}  # nothing stored, not even the gallery's own banner
    done = admin.post(f"/batches/{first.batch}/review", data={"decision": "approve", "ids": [own]})
    assert done.status_code == 200, done.text
    assert banner_reviews(ws, [own, other]) == {own: "approved"}


def test_an_element_edit_with_a_refused_brand_keeps_the_old_name_too(sample_home, admin):
    store = Workspace.of(sample_home).elements
    before = store.list("product")[0]
    answer = admin.post(f"/elements/{before.code}/edit", data={"name": "renamed kettle", "brand": "bad\x00brand"}, follow_redirects=True)
    assert "is not usable" in answer.text
    after = store.get(before.code)
    assert (after.name, after.brand) == (before.name, before.brand)
    admin.post(f"/elements/{before.code}/edit", data={"name": "renamed kettle", "brand": "Acme"})
    assert (store.get(before.code).name, store.get(before.code).brand) == ("renamed kettle", "Acme")


def test_an_upload_with_a_brand_the_edit_form_refuses_stores_nothing(sample_home, admin):
    picture = io.BytesIO()
    Image.new("RGB", (320, 240), (20, 120, 60)).save(picture, "PNG")
    store = Workspace.of(sample_home).elements
    before = {e.code for e in store.list()}
    answer = admin.post("/elements/upload", data={"kind": "product", "brand": "bad\x00brand"},
                        files={"files": ("kettle.png", picture.getvalue(), "image/png")})
    assert answer.status_code == 422 and "is not usable" in answer.json()["results"][0]["error"]
    assert {e.code for e in store.list()} == before


def test_the_winners_zip_holds_each_placements_best_banner_and_says_which(sample_home, admin):
    experiment_id = make_experiment(sample_home, sizes=("300x250", "728x90"))
    serve_rounds(sample_home, experiment_id, lambda creative: 0.2 if creative.startswith("c1-") else 0.01, rounds=2)
    answer = admin.get(f"/experiments/{experiment_id}/winners.zip")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    lines = archive.read("winners.csv").decode().splitlines()
    assert lines[0] == "placement,creative_id,file,verdict"
    rows = sorted(line.split(",") for line in lines[1:])
    assert [(r[0], r[1]) for r in rows] == [("300x250", "c1-300x250"), ("728x90", "c1-728x90")]
    assert set(archive.namelist()) == {"winners.csv", *(r[2] for r in rows)}
    assert admin.get("/experiments/exp-nope/winners.zip").status_code == 404


def test_settings_for_an_unknown_experiment_answer_404_whatever_the_form(admin):
    for form in ({"tag_min_impressions": "x"}, {"tag_min_impressions": "50", "tag_min_probability": "0.9"}):
        assert admin.post("/experiments/exp-nope/settings", data=form).status_code == 404


def test_an_experiment_from_an_unknown_batch_says_so_instead_of_redirecting_to_a_missing_page(admin):
    answer = admin.post("/batches/20990101T000000-000000/experiment", data={"name": "ghost"}, follow_redirects=False)
    assert answer.status_code == 404
    assert "batch 20990101T000000-000000 has no banner left to test" in answer.text
