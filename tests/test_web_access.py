"""Who may do what, over HTTP against a real uvicorn server on 127.0.0.1: roles, scoped API keys, CSRF on
every write, login throttling, sessions that end, per-user limits a third party can't spend, and which
proxies' X-Forwarded-For is believed.

The server here believes X-Forwarded-For from 127.0.0.1 (as `creative serve --forwarded-allow-ips 127.0.0.1`
behind a local proxy would), so a test can speak from several client addresses.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from click.testing import CliRunner
from sqlalchemy import create_engine, select
from support.web import ADMIN, PASSWORD, LiveServer, login, make_experiment, seeded_home

from creative.catalog import list_products
from creative.cli import cli
from creative.cli.serve import server_config
from creative.db import alembic_config, open_database
from creative.elements.store import ElementStore
from creative.web import WebSettings, create_app
from creative.web import tables as wt
from creative.web.auth import ROLES, SCOPES, create_api_key, create_user, set_password
from creative.web.scheduler import get_schedule

PER_USER_MINUTE = 5


class ProxiedServer(LiveServer):
    """A LiveServer configured the way `creative serve` configures uvicorn, believing X-Forwarded-For from `proxies`."""

    def __init__(self, app, proxies: str) -> None:
        super().__init__(app)
        self.server = uvicorn.Server(server_config(app, "127.0.0.1", self.port, forwarded_allow_ips=proxies, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)


def settings(**changes) -> WebSettings:
    return WebSettings(flush_interval_seconds=0.05, run_scheduler=False, **changes)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = seeded_home(tmp_path_factory.mktemp("access") / "home")
    engine = open_database(home.db_url)
    for name, role in [("dora", "designer"), ("mark", "marketer"), ("otto", "operator")]:
        create_user(engine, name, PASSWORD, role)
    experiment_id = make_experiment(home, name="access", config={"max_events_per_user_minute": PER_USER_MINUTE})
    server = ProxiedServer(create_app(home, settings()), "127.0.0.1").start()
    yield {"home": home, "engine": engine, "url": server.url, "experiment_id": experiment_id}
    server.stop()


def client_from(world, address: str, headers: dict | None = None, **kwargs) -> httpx.Client:
    """A client speaking from `address` (through the trusted local proxy)."""
    return httpx.Client(base_url=world["url"], timeout=30, headers={**(headers or {}), "x-forwarded-for": address}, **kwargs)


@contextmanager
def logged_in(world, username: str, password: str = PASSWORD, address: str = "192.0.2.10") -> Iterator[httpx.Client]:
    """A browser-like client logged in through the form, carrying its session's CSRF token."""
    with client_from(world, address) as c:
        c.headers["x-csrf-token"] = login(c, username, password)
        yield c


def element_code(world) -> str:
    return ElementStore(world["home"], world["engine"]).list("background")[0].code


CATALOG = b"product_id,name,brand,category,price,language,landing_url\nX9,Thing,B,c,10,en,https://attacker.example/\n"


# ---- API keys ---------------------------------------------------------------------------------------
def test_an_events_key_can_not_delete_an_element_import_a_catalog_or_change_a_schedule(world):
    key = create_api_key(world["engine"], ADMIN, "ad server", ["events:write"])
    experiment_id, code = world["experiment_id"], element_code(world)
    with client_from(world, "192.0.2.20", headers={"authorization": f"Bearer {key}"}) as api:
        deleted = api.post(f"/elements/{code}/delete")
        imported = api.post("/catalog/import", files={"file": ("c.csv", CATALOG, "text/csv")})
        scheduled = api.post(f"/experiments/{experiment_id}/schedule", data={"every_minutes": "5"})
        paused = api.post(f"/v1/experiments/{experiment_id}/pause")
        posted = api.post("/v1/events", content=b"")
    assert [r.status_code for r in (deleted, imported, scheduled, paused)] == [403, 403, 403, 403]
    assert "API keys are not accepted on pages" in deleted.json()["error"]
    assert "needs the lifecycle:write scope" in paused.json()["error"]
    assert posted.status_code == 200  # what the key is for still works
    assert code in {e.code for e in ElementStore(world["home"], world["engine"]).list()}
    assert "X9" not in {p.product_id for p in list_products(world["engine"])}
    assert get_schedule(world["engine"], experiment_id) is None


def test_even_an_admin_key_is_refused_on_pages(world):
    key = create_api_key(world["engine"], ADMIN, "everything")
    with client_from(world, "192.0.2.21", headers={"authorization": f"Bearer {key}"}) as api:
        assert api.post("/catalog/import", files={"file": ("c.csv", CATALOG, "text/csv")}).status_code == 403
        assert api.get("/catalog").status_code == 303  # a page read: to the login page, the key counts for nothing


def test_a_key_can_not_have_scopes_its_owner_s_role_lacks(world):
    from creative.web.errors import UnknownScope

    with pytest.raises(UnknownScope, match="dora is a designer, so a key of theirs can't have catalog:write"):
        create_api_key(world["engine"], "dora", "", ["catalog:write"])
    with pytest.raises(UnknownScope, match="scope users:everything is unknown"):
        create_api_key(world["engine"], ADMIN, "", ["users:everything"])


# ---- roles ------------------------------------------------------------------------------------------
def test_each_role_changes_only_its_own_area_and_the_refusal_names_the_role_needed(world):
    experiment_id = world["experiment_id"]
    with logged_in(world, "dora") as dora, logged_in(world, "mark") as mark, logged_in(world, "otto") as otto:
        refused = dora.post("/catalog/import", files={"file": ("c.csv", CATALOG, "text/csv")}, headers={"accept": "text/html"})
        assert refused.status_code == 403 and "needs the marketer or admin role (catalog:write); dora is a designer" in refused.text
        assert mark.post(f"/experiments/{experiment_id}/schedule", data={"every_minutes": "5"}).status_code == 403
        assert mark.post(f"/elements/{element_code(world)}/delete").json()["error"].startswith("this needs the designer or admin role")
        assert otto.post(f"/experiments/{experiment_id}/schedule", data={"every_minutes": "5"}).status_code == 303
        assert get_schedule(world["engine"], experiment_id).every_minutes == 5
        assert otto.post(f"/experiments/{experiment_id}/schedule", data={"every_minutes": "0"}).status_code == 303
        events = dora.post("/v1/events", content=b"")
        assert events.status_code == 403 and "operator or admin role" in events.json()["error"]
        assert otto.post("/v1/events", content=b"").status_code == 200
        assert dora.get(f"/experiments/{experiment_id}").status_code == 200  # reading needs no role
        refused = otto.post("/catalog/import", files={"file": ("c.csv", CATALOG, "text/csv")}, headers={"accept": "text/html"})
        assert refused.status_code == 403 and "otto is an operator" in refused.text


def test_a_form_post_over_the_size_limit_asks_for_a_shorter_text_and_an_upload_for_fewer_files(world):
    with logged_in(world, "mark") as mark:
        text = mark.post("/copy/articles/A-000000/0/edit", data={"text": "x" * (2 * 1024 * 1024)})
        assert text.status_code == 413 and text.json()["error"].endswith("send a shorter text")
        upload = mark.post("/catalog/import", files={"file": ("c.csv", b"x" * (11 * 1024 * 1024), "text/csv")})
        assert upload.status_code == 413 and upload.json()["error"].endswith("upload fewer or smaller files")


def _write_routes(app):
    for route in app.routes:
        if "POST" in (getattr(route, "methods", None) or ()):
            yield route


def test_every_write_route_is_guarded_and_refuses_a_session_without_the_csrf_token(world):
    app = create_app(world["home"], settings())
    own_checks = {"/login", "/logout"}  # no scope: login has no user yet, logout any user; both check CSRF themselves
    unguarded = [r.path for r in _write_routes(app) if r.path not in own_checks and not hasattr(r.endpoint, "required_scope")]
    assert not unguarded, f"POST routes without requires(scope): {unguarded}"
    values = {"experiment": world["experiment_id"], "code": element_code(world), "job": "nope", "index": "0", "step": "pause"}
    with logged_in(world, ADMIN) as admin:
        admin.headers.pop("x-csrf-token")
        for route in _write_routes(app):
            path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values[m.group(1)], route.path)
            if route.path == "/login":
                continue  # a login with a stale token is shown the form again, tested in test_web_api
            r = admin.post(path, data={"csrf": "stale"})
            assert r.status_code == 403, f"POST {path} without the CSRF token answered {r.status_code}"


# ---- login throttling -------------------------------------------------------------------------------
def _attempt(c: httpx.Client, username: str, password: str) -> httpx.Response:
    page = c.get("/login")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return c.post("/login", data={"csrf": csrf, "username": username, "password": password, "next": "/"})


def test_the_sixth_wrong_password_for_an_account_is_answered_429_with_retry_after(world):
    create_user(world["engine"], "guessed", PASSWORD, "designer")
    codes = []
    for i in range(5):
        with client_from(world, f"198.51.100.{i}") as c:  # from five addresses: the account's own limit
            codes.append(_attempt(c, "guessed", f"wrong password {i}").status_code)
    assert codes == [401] * 5
    with client_from(world, "198.51.100.99", headers={"accept": "text/html"}) as c:
        locked = _attempt(c, "guessed", PASSWORD)  # even the right password: the guesser must not learn it was right
    assert locked.status_code == 429 and 0 < int(locked.headers["retry-after"]) <= 15 * 60
    assert "too many failed logins" in locked.text
    with client_from(world, "198.51.100.98") as c:
        assert _attempt(c, ADMIN, PASSWORD).status_code == 303  # other accounts are not locked


def test_an_address_guessing_across_accounts_is_answered_429(world):
    with client_from(world, "203.0.113.50") as guesser:
        codes = [_attempt(guesser, f"name{i}", "wrong password").status_code for i in range(21)]
    assert codes[:20] == [401] * 20 and codes[20] == 429
    with client_from(world, "203.0.113.51") as elsewhere:
        assert _attempt(elsewhere, ADMIN, PASSWORD).status_code == 303


# ---- sessions end -----------------------------------------------------------------------------------
def _stolen_copy(world, c: httpx.Client) -> httpx.Client:
    thief = client_from(world, "192.0.2.66", cookies=dict(c.cookies))
    thief.headers["x-csrf-token"] = c.headers["x-csrf-token"]
    return thief


def _assert_ended(thief: httpx.Client) -> None:
    page = thief.get("/elements")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert thief.post("/v1/events", content=b"").status_code == 401


def test_a_copied_session_cookie_stops_working_at_logout_password_change_and_disable(world):
    create_user(world["engine"], "leaky", PASSWORD, "operator")
    with logged_in(world, "leaky") as owner, _stolen_copy(world, owner) as thief:
        assert thief.get("/elements").status_code == 200  # the copy works while the session lasts
        assert owner.post("/logout", data={"csrf": owner.headers["x-csrf-token"]}).status_code == 303
        _assert_ended(thief)
    with logged_in(world, "leaky") as owner, _stolen_copy(world, owner) as thief:
        set_password(world["engine"], "leaky", "a-brand-new-password")
        _assert_ended(thief)
        _assert_ended(owner)
    key = create_api_key(world["engine"], "leaky", "", ["events:write"])
    with logged_in(world, "leaky", "a-brand-new-password") as owner, _stolen_copy(world, owner) as thief:
        result = CliRunner().invoke(cli, ["--home", str(world["home"].root), "users", "disable", "leaky", "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["disabled"] is True
        _assert_ended(thief)
        with client_from(world, "192.0.2.13", headers={"authorization": f"Bearer {key}"}) as api:
            assert api.post("/v1/events", content=b"").status_code == 401  # a disabled user's keys stop too


# ---- per-user limits ----------------------------------------------------------------------------------
def test_flooding_a_user_id_from_one_address_does_not_limit_that_user_from_theirs(world):
    params = {"experiment": world["experiment_id"], "user": "victim"}
    with client_from(world, "198.18.0.1") as attacker:
        flood = [attacker.get("/v1/serve", params=params) for _ in range(3 * PER_USER_MINUTE)]
        assert flood[-1].status_code == 429  # the attacker spends its own budget
        tokens = [r.json()["token"] for r in flood if r.status_code == 200]
        clicks = [attacker.get("/v1/click", params={"token": t}) for t in tokens * 3]
        assert clicks[-1].status_code == 429
    with client_from(world, "198.18.0.2") as victim:
        served = victim.get("/v1/serve", params=params)
        assert served.status_code == 200
        clicked = victim.get("/v1/click", params={"token": served.json()["token"]})
        assert clicked.status_code == 302 and clicked.headers["x-click-recorded"] == "yes"


# ---- proxies ------------------------------------------------------------------------------------------
def _serve_from_addresses(url: str, experiment_id: str, addresses: list[str]) -> list[int]:
    with httpx.Client(base_url=url, timeout=30) as c:
        return [c.get("/v1/serve", params={"experiment": experiment_id, "user": f"u{i}"}, headers={"x-forwarded-for": a}).status_code
                for i, a in enumerate(addresses)]


@pytest.mark.parametrize("proxies", ["", "10.255.0.1"])
def test_forwarded_for_from_an_unlisted_proxy_is_ignored(world, proxies):
    server = ProxiedServer(create_app(world["home"], settings(serve_per_address_per_minute=3)), proxies).start()
    try:
        codes = _serve_from_addresses(server.url, world["experiment_id"], [f"198.51.100.{i}" for i in range(10)])
    finally:
        server.stop()
    assert 429 in codes  # every request counted against 127.0.0.1, whatever it claimed


def test_forwarded_for_from_a_listed_proxy_is_the_client_address(world):
    server = ProxiedServer(create_app(world["home"], settings(serve_per_address_per_minute=3)), "127.0.0.1").start()
    try:
        distinct = _serve_from_addresses(server.url, world["experiment_id"], [f"198.51.100.{i}" for i in range(10)])
        same = _serve_from_addresses(server.url, world["experiment_id"], ["198.51.100.200"] * 10)
    finally:
        server.stop()
    assert distinct == [200] * 10
    assert 429 in same


def test_serve_has_a_forwarded_allow_ips_option():
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert "--forwarded-allow-ips" in result.output


# ---- the users command ----------------------------------------------------------------------------------
def test_users_commands_create_change_and_disable_with_json(tmp_path, monkeypatch):
    monkeypatch.setenv("CREATIVE_ADMIN_PASSWORD", PASSWORD)
    home = ["--home", str(tmp_path / "home")]

    def run(*args: str) -> dict:
        result = CliRunner().invoke(cli, [*home, "users", *args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    assert run("create-admin", "root")["role"] == "admin"
    created = run("create", "dee", "--role", "designer")
    assert created["role"] == "designer" and created["scopes"] == ["elements:write"]
    assert run("set-role", "dee", "marketer")["scopes"] == ["batches:write", "catalog:write", "copy:write", "experiments:write"]
    key = run("api-key", "dee", "--scope", "catalog:write", "--label", "feed")
    assert key["key"].startswith("ck_") and key["scopes"] == ["catalog:write"]
    assert run("disable", "dee")["disabled"] is True
    assert run("enable", "dee")["disabled"] is False
    assert {u["username"]: u["role"] for u in run("list")} == {"root": "admin", "dee": "marketer"}
    runner = CliRunner()
    no_scope = runner.invoke(cli, [*home, "users", "api-key", "dee"])
    assert no_scope.exit_code == 2 and "--scope" in no_scope.output
    too_much = runner.invoke(cli, [*home, "users", "api-key", "dee", "--scope", "schedules:write"])
    assert too_much.exit_code == 1 and "dee is a marketer" in too_much.output and "Traceback" not in too_much.output
    bad_role = runner.invoke(cli, [*home, "users", "set-role", "dee", "editor"])
    assert bad_role.exit_code == 1 and "role 'editor' is unknown" in bad_role.output


def test_users_help_names_every_role_and_scope():
    text = CliRunner().invoke(cli, ["users", "--help"]).output
    assert all(role in text for role in ROLES) and all(scope in text for scope in SCOPES)


# ---- the migration --------------------------------------------------------------------------------------
def test_migration_makes_editors_marketers_and_old_keys_events_keys(tmp_path):
    from alembic import command

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(alembic_config(engine), "c0003")
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO web_users (user_id, username, password_hash, role, disabled, created_at) "
                             "VALUES (1, 'ed', 'x', 'editor', 0, '2026-01-01 00:00:00')")
        conn.exec_driver_sql("INSERT INTO web_api_keys (key_id, user_id, secret_sha256, label, revoked, created_at) "
                             "VALUES ('k1', 1, 'h', 'old', 0, '2026-01-01 00:00:00')")
    command.upgrade(alembic_config(engine), "heads")
    with engine.connect() as conn:
        user = conn.execute(select(wt.users)).one()
        key = conn.execute(select(wt.api_keys)).one()
    assert (user.role, user.session_version) == ("marketer", 0)
    assert key.scopes == ["events:write"]
