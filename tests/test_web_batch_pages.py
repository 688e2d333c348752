"""Batch pages over HTTP against a real uvicorn server: a gallery's review changes only its own batch's banners."""

from __future__ import annotations

import httpx
import pytest
from support.web import ADMIN, PASSWORD, LiveServer, login, quick_settings

from creative.compose import BatchSelection
from creative.db import open_database
from creative.services import Workspace, launch_batch
from creative.services.batches import banner_reviews
from creative.web import create_app
from creative.web.auth import create_user


@pytest.fixture
def two_batches(sample_home, tmp_path):
    ws = Workspace.of(sample_home)
    products = [e.code for e in ws.elements.list("product")]
    batches = [launch_batch(ws, BatchSelection(products=(p,), templates=("hero",), sizes=("300x250",)), tmp_path / p, max_n=1, workers=1).batch
               for p in products[:2]]
    create_user(open_database(sample_home.db_url), ADMIN, PASSWORD)
    server = LiveServer(create_app(sample_home, quick_settings())).start()
    yield ws, server, batches
    server.stop()


def test_a_gallery_reviews_only_its_own_batchs_banners(two_batches):
    ws, server, (first, second) = two_batches
    own, other = first.creatives[0].creative_id, second.creatives[0].creative_id
    with httpx.Client(base_url=server.url, timeout=30, headers={"accept": "application/json"}) as client:
        client.headers["x-csrf-token"] = login(client)
        refused = client.post(f"/batches/{first.batch}/review", data={"decision": "reject", "ids": [own, other]})
        assert refused.status_code == 422 and f"{other!r} is not in batch {first.batch}" in refused.json()["message"]
        assert banner_reviews(ws, [own, other]) == {}  # nothing stored, not even the gallery's own banner
        done = client.post(f"/batches/{first.batch}/review", data={"decision": "approve", "ids": [own]})
        assert done.status_code == 200, done.text
    assert banner_reviews(ws, [own, other]) == {own: "approved"}
