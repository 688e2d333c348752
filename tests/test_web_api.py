"""The ad-serving API and the app's security, over HTTP against a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select
from support.web import ADMIN, PASSWORD, LiveServer, login, make_experiment, running_world, seeded_home

from creative.db import open_database
from creative.web import WebSettings, create_app
from creative.web.tokens import Impression, ImpressionSigner
from experiments import tables as xt
from experiments.rounds import run_round

UPLOAD_LIMIT = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with running_world(tmp_path_factory.mktemp("web") / "home", upload_limit_bytes=UPLOAD_LIMIT) as w:
        yield w


@pytest.fixture
def client(world):
    with httpx.Client(base_url=world.url, timeout=30) as c:
        yield c


@pytest.fixture
def admin(world):
    with httpx.Client(base_url=world.url, timeout=30) as c:
        c.headers["x-csrf-token"] = login(c)
        yield c


def png_bytes(size=(64, 48), colour=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def wait_stored(client: httpx.Client, rounds: int = 400) -> None:
    """Until the recorder has written everything it was given (bounded by count, not by time)."""
    for _ in range(rounds):
        health = client.get("/healthz").json()
        if health["pending_events"] == 0:
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"events still buffered: {health}")


def event_count(engine, experiment_id: str, kind: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(xt.events).where(
            xt.events.c.experiment_id == experiment_id, xt.events.c.kind == kind)).scalar_one()


# ---- serving and clicks -----------------------------------------------------------------------------
def test_served_impressions_and_clicks_are_counted_by_the_round_exactly_once(world, client):
    experiment_id = make_experiment(world.home, name="counting")
    served = [client.get("/v1/serve", params={"experiment": experiment_id, "user": f"u{i}", "size": "300x250"}) for i in range(40)]
    assert all(r.status_code == 200 for r in served)
    tokens = [r.json()["token"] for r in served[:10]]
    for token in tokens + tokens[:3]:  # three users click twice: one click per impression counts
        r = client.get("/v1/click", params={"token": token})
        assert r.status_code == 302
    wait_stored(client)
    result = run_round(world.engine, experiment_id)
    assert result.impressions == 40
    assert result.clicks == 10
    assert sum(a.round_impressions for a in result.arms) == 40


def test_serve_returns_an_image_of_the_requested_size_and_a_click_token(world, client):
    r = client.get("/v1/serve", params={"experiment": world.experiment_id, "user": "alice", "size": "300x250"})
    assert r.status_code == 200
    body = r.json()
    assert body["size"] == "300x250" and body["token"] and body["impression_id"]
    image = client.get(body["image_url"])
    assert image.status_code == 200
    assert Image.open(io.BytesIO(image.content)).size == (300, 250)
    assert body["click_url"].endswith(body["token"])


def test_click_redirects_to_the_landing_page_of_the_creatives_offer(world, client):
    from creative.catalog import get_product
    from creative.creatives import get_creatives

    body = client.get("/v1/serve", params={"experiment": world.experiment_id, "user": "bob"}).json()
    offer = get_creatives(world.engine, [body["creative"]])[body["creative"]].offer_id
    r = client.get("/v1/click", params={"token": body["token"]})
    assert r.status_code == 302
    assert r.headers["location"] == get_product(world.engine, offer).landing_url
    assert r.headers["x-click-recorded"] == "yes"


def test_a_banner_for_sku_2001_clicks_through_to_sku_2001s_page(world, client):
    """SKU-1001 (English catalog) and SKU-2001 (Chinese catalog) show the same product image: the click goes to the offer's page."""
    from creative.catalog import get_product
    from creative.compose import BatchSelection
    from creative.services import ExperimentPlan, Workspace, launch_batch

    en, zh = get_product(world.engine, "SKU-1001"), get_product(world.engine, "SKU-2001")
    assert set(en.images) & set(zh.images), "the sample catalogs no longer share an image; pick two products that do"
    assert en.landing_url != zh.landing_url
    ws = Workspace.of(world.home)
    launched = launch_batch(ws, BatchSelection(products=("SKU-1001", "SKU-2001"), templates=("hero",), sizes=("300x250",)),
                            world.home.output_dir / "shared-image", workers=1, experiment=ExperimentPlan("shared image"))
    by_offer = {c.offer_id: c.creative_id for c in launched.batch.creatives if c.creative_id in launched.experiment.arms}
    assert set(by_offer) == {"SKU-1001", "SKU-2001"}
    experiment_id = launched.experiment.experiment_id
    served = None
    for i in range(200):  # Thompson starts at an even split: the SKU-2001 banner comes up within a few requests
        body = client.get("/v1/serve", params={"experiment": experiment_id, "user": f"shopper{i}", "size": "300x250"}).json()
        if body["creative"] == by_offer["SKU-2001"]:
            served = body
            break
    assert served is not None, "the SKU-2001 banner was never served"
    assert client.get(served["image_url"]).status_code == 200
    r = client.get(served["click_url"])
    assert r.status_code == 302
    assert r.headers["location"] == zh.landing_url == "https://shop.example.com/zh/p/2001"


def test_forged_or_altered_click_tokens_are_refused_and_not_counted(world, client):
    experiment_id = make_experiment(world.home, name="forgery")
    real = client.get("/v1/serve", params={"experiment": experiment_id, "user": "eve"}).json()
    body, tag = real["token"].split(".")
    other_secret = ImpressionSigner(os.urandom(32)).sign(Impression(experiment_id, real["creative"], "eve", real["impression_id"], 0, None))
    altered_body = ImpressionSigner(b"x").sign(Impression(experiment_id, real["creative"], "mallory", real["impression_id"], 0, None)).split(".")[0]
    for token in ("", "garbage", other_secret, f"{altered_body}.{tag}", f"{body}.{tag[:-2]}AA", f"{body}.{tag}.x", "a" * 5000):
        r = client.get("/v1/click", params={"token": token})
        assert r.status_code == 400, token
        assert "token" in r.json()["error"]
    wait_stored(client)
    assert event_count(world.engine, experiment_id, "c") == 0
    assert event_count(world.engine, experiment_id, "i") == 1


def test_serve_is_rate_limited_per_user_at_the_experiments_own_limit(world, client):
    experiment_id = make_experiment(world.home, name="limited", config={"max_events_per_user_minute": 5})
    codes = [client.get("/v1/serve", params={"experiment": experiment_id, "user": "bot"}).status_code for _ in range(11)]
    assert codes.count(429) >= 1  # 11 requests span at most two clock minutes of 5
    assert client.get("/v1/serve", params={"experiment": experiment_id, "user": "human"}).status_code == 200
    wait_stored(client)
    assert world.server.app.state.recorder.stats.rejected.get("bot_burst", 0) == 0  # nothing served is later dropped


def test_serve_and_click_are_rate_limited_per_address(tmp_path):
    home = seeded_home(tmp_path / "home")
    experiment_id = make_experiment(home)
    server = LiveServer(create_app(home, WebSettings(serve_per_address_per_minute=4, run_scheduler=False))).start()
    try:
        with httpx.Client(base_url=server.url) as c:
            codes = [c.get("/v1/serve", params={"experiment": experiment_id, "user": f"u{i}"}).status_code for i in range(9)]
            assert 429 in codes
            limited = c.get("/v1/serve", params={"experiment": experiment_id, "user": "x"})
            if limited.status_code == 429:
                assert int(limited.headers["retry-after"]) >= 1
    finally:
        server.stop()


def test_unknown_experiment_size_or_bad_parameters_say_what_is_wrong(world, client):
    r = client.get("/v1/serve", params={"experiment": "exp-nope", "user": "u"})
    assert r.status_code == 404 and "exp-nope" in r.json()["error"]
    r = client.get("/v1/serve", params={"experiment": world.experiment_id, "user": "u", "size": "728x90"})
    assert r.status_code == 404 and "300x250" in r.json()["error"]
    r = client.get("/v1/serve", params={"experiment": world.experiment_id, "user": "u", "size": "big"})
    assert r.status_code == 400
    assert client.get("/v1/serve", params={"experiment": world.experiment_id}).status_code == 400


def test_a_concluded_experiment_serves_its_winner(world, client):
    from experiments import tables as t

    experiment_id = make_experiment(world.home, name="concluded")
    with world.engine.begin() as conn:
        conn.execute(t.experiments.update().where(t.experiments.c.experiment_id == experiment_id).values(status="promoted", winner="c2-300x250"))
    world.server.app.state.serving.invalidate(experiment_id)
    picks = {client.get("/v1/serve", params={"experiment": experiment_id, "user": f"u{i}"}).json()["creative"] for i in range(15)}
    assert picks == {"c2-300x250"}


def test_tagged_users_get_preference_aware_choices_only_in_the_holdout_which_no_round_counts(world, client):
    from experiments.tag_store import save_tags
    from experiments.tags import PreferenceTag, PriorFit, TagConfig, TagResult

    experiment_id = make_experiment(world.home, name="tags", config={"holdout_share": 0.5, "max_events_per_user_minute": 1000})
    untagged = client.get("/v1/serve", params={"experiment": experiment_id, "user": "fan"}).json()
    assert untagged["matched_tags"] == []
    # what close_round stores for a green lover after round 1; serving picks it up on its next refresh
    fan = PreferenceTag("fan", "colour", "green", 0.99, 2.5, 80, 9)
    with world.engine.begin() as conn:
        save_tags(conn, experiment_id, 1, TagResult((fan,), PriorFit(0.9, 0.0, 0.5), 40, 120), TagConfig())
    served = [untagged, client.get("/v1/serve", params={"experiment": experiment_id, "user": "fan"}).json()]
    for _ in range(400):  # bounded by count: the view re-reads the tags' round at most once per refresh interval
        if served[-1]["matched_tags"]:
            break
        threading.Event().wait(0.05)
        served.append(client.get("/v1/serve", params={"experiment": experiment_id, "user": "fan"}).json())
    served += [client.get("/v1/serve", params={"experiment": experiment_id, "user": "fan"}).json() for _ in range(40)]
    assert any(s["matched_tags"] == ["colour=green"] for s in served)
    assert all(s["holdout"] for s in served if s["matched_tags"])  # personalised only outside the experiment
    assert any(not s["holdout"] for s in served)
    plain = client.get("/v1/serve", params={"experiment": experiment_id, "user": "someone-else"}).json()
    assert plain["matched_tags"] == []
    wait_stored(client)
    result = run_round(world.engine, experiment_id)
    assert result.impressions == sum(1 for s in served + [plain] if not s["holdout"])
    assert event_count(world.engine, experiment_id, "i") == len(served) + 1  # holdout impressions are stored, not counted


def test_a_two_size_experiment_served_one_size_at_a_time_promotes_per_size_without_srm_alarm(world, client):
    from experiments.model import ArmState, ExperimentState

    experiment_id = make_experiment(world.home, n=2, name="two sizes", policy="fixed", sizes=("300x250", "728x90"),
                                    config={"min_impressions_per_arm": 30, "max_events_per_user_minute": 1000})
    results = []
    # each round serves one size only (300x250 in odd rounds); users click every c1 banner, never a c0 one.
    # Round 1 is too short to decide 300x250, so 728x90 concludes first while 300x250, which has had
    # traffic, holds the experiment open until it concludes too.
    for r in range(1, 9):
        size = ("728x90", "300x250")[r % 2]
        served = [client.get("/v1/serve", params={"experiment": experiment_id, "user": f"r{r}u{i}", "size": size}).json()
                  for i in range(40 if r == 1 else 80)]
        assert {s["size"] for s in served} == {size} and {s["round"] for s in served} == {r}
        for s in served:
            if s["creative"].startswith("c1-"):
                assert client.get("/v1/click", params={"token": s["token"]}).status_code == 302
        wait_stored(client)
        results.append(run_round(world.engine, experiment_id))
        world.server.app.state.serving.invalidate(experiment_id)
        if results[-1].decision.kind.concludes:
            break
    assert not any(res.srm.alarm for res in results)
    assert results[1].placements["728x90"].kind == "promote" and results[1].decision.kind == "retire"  # one size done, not the experiment
    status = world.server.app.state.experiment_store.status(experiment_id)
    assert status.status == ExperimentState.PROMOTED
    assert {a.creative_id for a in status.arms if a.state == ArmState.WINNER} == {"c1-300x250", "c1-728x90"}
    for size in ("300x250", "728x90"):
        picks = {client.get("/v1/serve", params={"experiment": experiment_id, "user": f"after{i}", "size": size}).json()["creative"] for i in range(10)}
        assert picks == {f"c1-{size}"}


# ---- /v1/events ------------------------------------------------------------------------------------
def _lines(experiment_id: str) -> bytes:
    events = [
        {"event_id": "x1", "type": "impression", "ts": "2026-01-01T10:00:00Z", "experiment": experiment_id, "creative": "c0-300x250", "user": "u1"},
        {"event_id": "x2", "type": "click", "impression_id": "x1", "ts": "2026-01-01T10:00:05Z", "experiment": experiment_id, "creative": "c0-300x250", "user": "u1"},
    ]
    return ("\n".join(json.dumps(e) for e in events) + "\nnot json\n").encode()


def test_events_need_an_api_key_or_a_session_with_csrf(world, client, admin):
    experiment_id = make_experiment(world.home, name="events-auth")
    assert client.post("/v1/events", content=_lines(experiment_id)).status_code == 401
    assert client.post("/v1/events", content=_lines(experiment_id), headers={"authorization": "Bearer ck_nope_nope"}).status_code == 401
    no_csrf = admin.post("/v1/events", content=_lines(experiment_id), headers={"x-csrf-token": ""})
    assert no_csrf.status_code == 403


def test_events_batch_is_ingested_idempotently_with_rejections_by_line(world, client):
    experiment_id = make_experiment(world.home, name="events")
    auth = {"authorization": f"Bearer {world.api_key}"}
    r = client.post("/v1/events", content=_lines(experiment_id), headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 2
    assert body["unassigned"][0]["line"] == 3
    again = client.post("/v1/events", content=_lines(experiment_id), headers=auth).json()
    assert again["accepted"] == 0 and again["reports"][0]["duplicates"] == 2
    assert event_count(world.engine, experiment_id, "i") == 1 and event_count(world.engine, experiment_id, "c") == 1


# ---- access and input hygiene ----------------------------------------------------------------------
def test_pages_need_a_login_and_come_back_after_it(world, client):
    r = client.get("/experiments")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=%2Fexperiments")
    page = client.get("/login")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    bad = client.post("/login", data={"csrf": csrf, "username": ADMIN, "password": "wrong password", "next": "/"})
    assert bad.status_code == 401 and "wrong user name or password" in bad.text
    ok = client.post("/login", data={"csrf": csrf, "username": ADMIN, "password": PASSWORD, "next": "/experiments"})
    assert ok.status_code == 303 and ok.headers["location"] == "/experiments"
    assert client.get("/experiments").status_code == 200


def test_login_never_redirects_to_another_site(world, client):
    page = client.get("/login")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        r = client.post("/login", data={"csrf": csrf, "username": ADMIN, "password": PASSWORD, "next": target})
        assert r.headers["location"] == "/"
        client.cookies.clear()
        page = client.get("/login")
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def test_posts_without_the_csrf_token_are_refused(world, admin):
    token = admin.headers.pop("x-csrf-token")
    csv_bytes = b"product_id,name,brand,category,price,language,landing_url\nX1,Thing,B,c,10,en,https://x.example/1\n"
    r = admin.post("/catalog/import", files={"file": ("c.csv", csv_bytes, "text/csv")})
    assert r.status_code == 403
    r = admin.post("/catalog/import", files={"file": ("c.csv", csv_bytes, "text/csv")}, data={"csrf": "wrong"})
    assert r.status_code == 403
    r = admin.post(f"/experiments/{world.experiment_id}/round", data={"csrf": token}, headers={"origin": "https://evil.example"})
    assert r.status_code == 403  # right token, foreign origin
    r = admin.post("/catalog/import", files={"file": ("c.csv", csv_bytes, "text/csv")}, data={"csrf": token})
    assert r.status_code == 303


def test_oversize_upload_is_refused_before_it_is_stored(world, admin):
    big = b"\x89PNG" + os.urandom(UPLOAD_LIMIT + 1024)
    r = admin.post("/elements/upload", data={"kind": "product"}, files={"files": ("big.png", big, "image/png")})
    assert r.status_code == 413
    assert "limit" in r.json()["error"]


def test_each_uploaded_file_gets_its_own_result(world, admin):
    files = [("files", ("good-one.png", png_bytes(colour=(10, 200, 10)), "image/png")),
             ("files", ("notes.png", b"this is not an image", "image/png")),
             ("files", ("tiny.png", png_bytes(size=(4, 4)), "image/png"))]
    r = admin.post("/elements/upload", data={"kind": "product"}, files=files)
    assert r.status_code == 422
    results = r.json()["results"]
    assert [x["ok"] for x in results] == [True, False, False]
    assert results[1]["error"].startswith("notes.png: not an image")
    assert "too small" in results[2]["error"]
    assert "/.uploads/" not in json.dumps(results)  # messages name the file, not the server's temp path
    assert admin.get(f"/elements/{results[0]['code']}").status_code == 200


def test_upload_file_names_cannot_escape_the_home(world, admin):
    outside = world.home.root.parent
    names = ["../../escape-a.png", "..\\..\\escape-b.png", "/etc/escape-c.png", "....//escape-d.png", "\x00escape-e.png"]
    files = [("files", (n, png_bytes(colour=(i * 40, 90, 90)), "image/png")) for i, n in enumerate(names)]
    r = admin.post("/elements/upload", data={"kind": "logo"}, files=files)
    results = r.json()["results"]
    assert all(x["ok"] for x in results), results
    stored = [x["stored_as"] for x in results]
    assert stored[:4] == ["escape-a.png", "escape-b.png", "escape-c.png", "escape-d.png"]
    assert all(".." not in n and "/" not in n and "\\" not in n for n in stored) and stored[4].endswith("escape-e.png")
    assert not list(outside.rglob("escape-*.png")) or all(p.is_relative_to(world.home.root) for p in outside.rglob("escape-*.png"))
    assert not Path("/etc/escape-c.png").exists()


def test_markup_in_a_product_name_is_shown_escaped(world, admin):
    token = admin.headers["x-csrf-token"]
    csv_bytes = ("product_id,name,brand,category,price,language,landing_url\n"
                 "XSS-1,<script>alert('x')</script> Shoe,<b>Brand</b>,shoes,10,en,https://shop.example.com/x\n").encode()
    r = admin.post("/catalog/import", files={"file": ("evil.csv", csv_bytes, "text/csv")}, data={"csrf": token}, follow_redirects=True)
    assert "1 added" in r.text
    assert "<script>alert" not in r.text and "<b>Brand</b>" not in r.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Shoe" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]  # and no inline script could run anyway


def test_catalog_errors_name_the_uploaded_file_and_row(world, admin):
    csv_bytes = b"product_id,name,brand,category,price,language,landing_url\nB1,Thing,B,c,-3,en,https://x.example/1\n"
    r = admin.post("/catalog/import", files={"file": ("../prices.csv", csv_bytes, "text/csv")}, data={"csrf": admin.headers["x-csrf-token"]},
                   follow_redirects=True)
    assert "prices.csv: row 2, column &#39;price&#39;" in r.text
    assert ".uploads" not in r.text


# ---- rounds from the UI, schedules -----------------------------------------------------------------
def test_running_a_round_from_the_ui_closes_it_with_what_was_served(world, client, admin):
    experiment_id = make_experiment(world.home, name="ui-round")
    for i in range(7):
        assert client.get("/v1/serve", params={"experiment": experiment_id, "user": f"u{i}"}).status_code == 200
    r = admin.post(f"/experiments/{experiment_id}/round", data={"csrf": admin.headers["x-csrf-token"]}, follow_redirects=True)
    assert r.status_code == 200
    assert "round 1 closed" in r.text
    assert 'id="exp-round">2<' in r.text
    from experiments.rounds import load_round

    assert load_round(world.engine, experiment_id, 1).impressions == 7
    # the page links the round's kept report, which the app serves to the same person
    link = f"/experiments/{experiment_id}/rounds/1/report/"
    assert f'href="{link}"' in r.text
    assert admin.get(link).status_code == 200


def test_scheduled_rounds_run_when_due_and_close_like_every_other_front(world, client, admin):
    from datetime import datetime, timedelta, timezone

    from creative.services import Workspace
    from creative.web.scheduler import run_due
    from experiments.rounds import load_round
    from experiments.tag_store import tag_round

    experiment_id = make_experiment(world.home, name="scheduled", config={"min_round_impressions": 5})  # closes on the 5 served below
    r = admin.post(f"/experiments/{experiment_id}/schedule", data={"csrf": admin.headers["x-csrf-token"], "every_minutes": "30"}, follow_redirects=True)
    assert "every 30 minutes" in r.text
    for i in range(5):
        assert client.get("/v1/serve", params={"experiment": experiment_id, "user": f"s{i}"}).status_code == 200
    ws = Workspace.of(world.home)
    assert run_due(ws, now=datetime.now(timezone.utc)) == []
    ran = run_due(ws, world.server.app.state.recorder, now=datetime.now(timezone.utc) + timedelta(minutes=31))
    assert [(e, o.split(":")[0]) for e, o in ran] == [(experiment_id, "round 1")]
    assert load_round(world.engine, experiment_id, 1).impressions == 5  # the recorder's buffer was flushed into the round
    assert tag_round(world.engine, experiment_id) == 1  # and the round stored its tags, as close_round does


def test_a_round_from_the_ui_ingests_the_web_spool_and_the_tags_page_names_the_round(world, admin):
    from experiments.rounds import load_round

    experiment_id = make_experiment(world.home, name="spooled")
    assert "No round has closed yet" in admin.get("/tags", params={"experiment": experiment_id}).text
    spool = world.home.spool_dir
    spool.mkdir(parents=True, exist_ok=True)
    (spool / "left-at-shutdown.jsonl").write_text("\n".join(json.dumps(
        {"event_id": f"sp{i}", "type": "impression", "ts": "2026-01-01T10:00:00Z", "experiment": experiment_id,
         "creative": "c1-300x250", "user": f"sp{i}"}) for i in range(4)) + "\n")
    r = admin.post(f"/experiments/{experiment_id}/round", data={"csrf": admin.headers["x-csrf-token"]}, follow_redirects=True)
    assert "round 1 closed" in r.text
    assert load_round(world.engine, experiment_id, 1).impressions == 4
    assert not list(spool.glob("*.jsonl"))
    page = admin.get("/tags", params={"experiment": experiment_id})
    assert "Computed after round 1 closed" in page.text
    export = admin.get("/tags/export.csv", params={"experiment": experiment_id})
    assert export.status_code == 200 and export.text.startswith("user,")
    assert f"tags-{experiment_id}-round-1.csv" in export.headers["content-disposition"]
    assert admin.get("/tags", params={"experiment": "exp-missing"}).status_code == 404


def test_stopping_an_experiment_from_the_ui_ends_its_rounds_and_serves_its_leader(world, client, admin):
    from experiments.rounds import load_round

    experiment_id = make_experiment(world.home, name="stop me")
    served = [client.get("/v1/serve", params={"experiment": experiment_id, "user": f"v{i}"}).json() for i in range(30)]
    for s in served:
        if s["creative"] == "c1-300x250":
            client.get("/v1/click", params={"token": s["token"]})
    csrf = admin.headers["x-csrf-token"]
    assert "round 1 closed" in admin.post(f"/experiments/{experiment_id}/round", data={"csrf": csrf}, follow_redirects=True).text
    assert admin.post(f"/experiments/{experiment_id}/stop", data={"csrf": "stale"}, headers={"x-csrf-token": ""}).status_code == 403
    page = admin.post(f"/experiments/{experiment_id}/stop", data={"csrf": csrf}, follow_redirects=True)
    assert "stopped: no more rounds" in page.text
    assert 'id="exp-status">stopped<' in page.text
    leader = load_round(world.engine, experiment_id, 1).decision.best
    assert leader is not None
    picks = {client.get("/v1/serve", params={"experiment": experiment_id, "user": f"w{i}"}).json()["creative"] for i in range(15)}
    assert picks == {leader}
    again = admin.post(f"/experiments/{experiment_id}/stop", data={"csrf": csrf}, follow_redirects=True)
    assert 'class="flash error"' in again.text
    refused = admin.post(f"/experiments/{experiment_id}/round", data={"csrf": csrf}, follow_redirects=True)
    assert "round 2 closed" not in refused.text


# ---- shutdown ----------------------------------------------------------------------------------------
def test_sigterm_writes_every_buffered_impression_before_exit(tmp_path):
    """Impressions are buffered for up to an hour here, so only the shutdown drain can store them."""
    home = seeded_home(tmp_path / "home")
    experiment_id = make_experiment(home)
    from support.processes import free_port

    port = free_port()
    env = {**os.environ, "CREATIVE_HOME": str(home.root)}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "creative"), "serve", "--port", str(port), "--flush-interval", "3600",
                             "--no-scheduler", "--log-level", "warning"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            for _ in range(600):
                try:
                    if c.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    threading.Event().wait(0.05)
            ok = [c.get("/v1/serve", params={"experiment": experiment_id, "user": f"u{i}"}) for i in range(150)]
            assert all(r.status_code == 200 for r in ok)
            health = c.get("/healthz").json()
            assert health["pending_events"] == 150 and health["limits_and_views"] == "this process only"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    # uvicorn shuts down gracefully, then re-raises the signal it caught, so the exit status is -SIGTERM
    assert proc.returncode in (0, -signal.SIGTERM), err.decode()[-2000:]
    assert b"Traceback" not in err, err.decode()[-2000:]
    assert event_count(open_database(home.db_url), experiment_id, "i") == 150


# ---- serving reads: off the event loop, and only the arms' own products ------------------------------
def test_a_burst_after_an_invalidation_reads_the_view_once_in_a_worker_thread(world, monkeypatch):
    import asyncio

    serving = world.server.app.state.serving
    experiment_id = make_experiment(world.home, name="burst")
    fresh_reads: list[bool] = []  # per read of a view not in memory: whether it ran on the event loop
    read = serving._load

    def recording_read(experiment, previous):
        if previous is None:
            try:
                asyncio.get_running_loop()
                fresh_reads.append(True)
            except RuntimeError:
                fresh_reads.append(False)
        return read(experiment, previous)

    monkeypatch.setattr(serving, "_load", recording_read)
    serving.invalidate(experiment_id)

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=world.url, timeout=60) as c:
            return await asyncio.gather(*(c.get("/v1/serve", params={"experiment": experiment_id, "user": f"burst{i}", "size": "300x250"})
                                          for i in range(20)))

    assert all(r.status_code == 200 for r in asyncio.run(burst()))
    assert fresh_reads == [False]


def test_serving_reads_only_the_arms_products_by_primary_key_from_a_100k_catalog(tmp_path, monkeypatch):
    from sqlalchemy import event
    from support.web import banner_files

    from creative.creatives import Creative
    from creative.home import resolve_home
    from creative.services import Workspace, create_experiment
    from creative.web.serving import ServingCache

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from catalog_fixtures import add_products

    home = resolve_home(tmp_path / "home")
    ws = Workspace.of(home)
    add_products(ws.engine, 100_000)
    offers = ["FILL-7", "FILL-70000", "FILL-99999"]
    creatives = [Creative(creative_id=f"big-{i}", template="hero", size="300x250", elements={}, offer_id=offer, file=str(path),
                          attributes={"colour": ["red", "blue", "green"][i]})
                 for i, (offer, path) in enumerate(zip(offers, banner_files(home, 3)))]
    experiment_id = create_experiment(ws, "big catalog", creatives, "thompson").experiment_id

    statements: list[tuple[str, object]] = []
    listener = lambda conn, cursor, statement, parameters, context, many: statements.append((statement, parameters))  # noqa: E731
    event.listen(ws.engine, "before_cursor_execute", listener)
    serving = ServingCache(ws)
    try:
        view = serving.view(experiment_id)
    finally:
        serving.close()
        event.remove(ws.engine, "before_cursor_execute", listener)

    assert {cid: arm.landing_url for cid, arm in view.arms.items()} == {
        f"big-{i}": f"https://shop.example.com/p/{offer}" for i, offer in enumerate(offers)}
    product_reads = [(s, p) for s, p in statements if "FROM products" in s]
    assert product_reads, "serving no longer reads landing pages from the catalog; update this test"
    assert sorted(v for _, p in product_reads for v in p) == sorted(offers)  # the arms' offers, not the catalog
    with ws.engine.connect() as conn:
        for statement, parameters in product_reads:
            plan = " ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
            assert "SEARCH products USING" in plan and "SCAN products" not in plan, plan


# ---- the API's own description ----------------------------------------------------------------------
def test_openapi_describes_serve_click_and_events_with_their_parameters_and_errors(world, client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    serve, click, events = paths["/v1/serve"]["get"], paths["/v1/click"]["get"], paths["/v1/events"]["post"]
    assert {p["name"]: p["required"] for p in serve["parameters"]} == {"experiment": True, "user": True, "size": False}
    assert {"200", "400", "404", "429", "503"} <= set(serve["responses"])
    assert [p["name"] for p in click["parameters"]] == ["token"] and {"302", "400", "404", "429"} <= set(click["responses"])
    assert {"200", "400", "401", "403", "413", "422"} <= set(events["responses"])
    assert "application/x-ndjson" in events["requestBody"]["content"]
    assert "ISO-8601" in events["description"] and "100,000 lines" in events["description"]
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "POST /v1/events" in docs.text and "ISO-8601" in docs.text


def test_real_answers_match_the_described_bodies(world, client):
    from creative.web.api_schemas import ApiError, EventsAnswer, ServedCreative

    served = client.get("/v1/serve", params={"experiment": world.experiment_id, "user": "described", "size": "300x250"})
    ServedCreative.model_validate(served.json(), strict=True)
    ApiError.model_validate(client.get("/v1/serve", params={"experiment": "exp-none", "user": "u"}).json())
    line = {"event_id": "described-1", "type": "impression", "ts": "2026-01-01T10:00:00Z", "experiment": world.experiment_id,
            "creative": "c0-300x250", "user": "u1"}
    posted = client.post("/v1/events", content=(json.dumps(line) + "\nnot json\n").encode(), headers={"authorization": f"Bearer {world.api_key}"})
    answer = EventsAnswer.model_validate(posted.json())
    assert answer.accepted == 1 and answer.unassigned[0].line == 2
