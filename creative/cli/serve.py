"""`creative serve` (the web app and ad-serving API) and `creative users ...` (logins and API keys)."""

from __future__ import annotations

import getpass
import os

import click

from creative.cli.common import engine_of, json_option, print_json


def server_config(app, host: str, port: int, *, forwarded_allow_ips: str = "", http_impl: str = "auto",
                  log_level: str = "info", workers: int = 1):
    """uvicorn's settings for the app (with several workers, the import string of their app factory). X-Forwarded-For/-Proto
    are believed only from the listed proxies (comma-separated addresses or networks); with none listed they are ignored,
    so a client can't pick the address it is limited by."""
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, http=http_impl, log_level=log_level, access_log=False, timeout_graceful_shutdown=30,
                          proxy_headers=bool(forwarded_allow_ips), forwarded_allow_ips=forwarded_allow_ips or "",
                          workers=workers, factory=isinstance(app, str))


def check_workers(workers: int, redis_url: str | None, db_url: str) -> None:
    """Several workers share limits and serving views through Redis and write events to one PostgreSQL database."""
    if workers == 1:
        return
    if not redis_url:
        raise click.UsageError(f"--workers {workers} needs --redis URL (e.g. redis://127.0.0.1:6379/0): without it each worker "
                               "would keep its own rate limits, login throttle and serving views")
    if not db_url.startswith("postgresql"):
        raise click.UsageError(f"--workers {workers} needs a PostgreSQL database (--db postgresql+psycopg://...): "
                               "SQLite lets one process write at a time")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (127.0.0.1 keeps it local).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--secure-cookies", is_flag=True, help="Mark the session cookie Secure (set when a TLS proxy is in front).")
@click.option("--forwarded-allow-ips", default="", metavar="ADDRESSES",
              help="Proxies (comma-separated addresses or networks, e.g. 10.0.0.5,10.1.0.0/16) whose X-Forwarded-For is believed, "
                   "so per-address limits see the real client; default none.")
@click.option("--serve-limit", default=6000, show_default=True, type=click.IntRange(1), help="Serve + click requests per client address per minute.")
@click.option("--no-scheduler", is_flag=True, help="Do not run scheduled rounds in this process.")
@click.option("--flush-interval", default=0.25, show_default=True, type=click.FloatRange(0.01, 3600), help="Seconds between writes of buffered impressions and clicks.")
@click.option("--http", "http_impl", default="auto", show_default=True, type=click.Choice(["auto", "h11", "httptools"]),
              help="uvicorn's HTTP parser; auto uses httptools (C) when installed.")
@click.option("--log-level", default="info", show_default=True, type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes on the one port; more than 1 needs --redis and a PostgreSQL database.")
@click.option("--redis", "redis_url", envvar="CREATIVE_REDIS_URL", metavar="URL",
              help="Redis that every worker and host of this server shares rate limits, the login throttle, serving views and "
                   "spool replay through, e.g. redis://127.0.0.1:6379/0 (env CREATIVE_REDIS_URL).")
@click.option("--redis-prefix", envvar="CREATIVE_REDIS_PREFIX", default="", metavar="PREFIX",
              help="Namespace of this server's Redis keys; default: one derived from the database, shared by every server on it.")
@click.pass_context
def serve_command(ctx, host, port, secure_cookies, forwarded_allow_ips, serve_limit, no_scheduler, flush_interval, http_impl, log_level,
                  workers, redis_url, redis_prefix):
    """Run the web app (element library, catalog, copy, batches, experiments, tags) and /v1 ad serving.

    Stop it with Ctrl-C or SIGTERM: buffered impressions and clicks are written before it exits.
    With --workers N, N processes share the port (each response names its worker in X-Served-By);
    run it on several hosts with the same --db and --redis to serve as one.
    """
    import uvicorn

    from creative.web import WebSettings, create_app
    from creative.web.shared_state import SharedState

    check_workers(workers, redis_url, ctx.obj.db_url)
    if redis_url:
        SharedState.connect(redis_url, redis_prefix)  # one clear line now rather than N failing workers
    settings = WebSettings(secure_cookies=secure_cookies, serve_per_address_per_minute=serve_limit, run_scheduler=not no_scheduler,
                           flush_interval_seconds=flush_interval, redis_url=redis_url, redis_prefix=redis_prefix)
    config = dict(forwarded_allow_ips=forwarded_allow_ips, http_impl=http_impl, log_level=log_level)
    serving = f"serving {ctx.obj.root} on http://{host}:{port}/ with {workers} worker(s) (log in with a user from `creative users create`)"
    if workers == 1:
        app = create_app(ctx.obj, settings)
        click.echo(serving)
        uvicorn.Server(server_config(app, host, port, **config)).run()
        return
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    from creative.web.recorder import check_spool_space
    from creative.web.workers import APP_IMPORT, hand_down

    engine_of(ctx)  # what would stop every worker at start stops here, in one line: a database that does not open,
    check_spool_space(ctx.obj.spool_dir, settings.spool_min_free_bytes)  # a spool disk without room
    os.environ["CREATIVE_DB_URL"] = ctx.obj.db_url  # the workers resolve the same home (CREATIVE_HOME is set by `creative`)
    hand_down(settings)
    uv = server_config(APP_IMPORT, host, port, workers=workers, **config)
    click.echo(serving)
    supervisor = Multiprocess(uv, sockets=[uv.bind_socket()])
    supervisor.run()
    if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
        raise click.ClickException("a worker could not start (its error is above); fix it and start again")


@click.group("users")
def users_group() -> None:
    """Web logins, their roles and API keys.

    Roles: designer (elements), marketer (catalog, copy, batches, experiments), operator (schedules,
    rounds, lifecycle, events), admin (everything). Every page can be read by any logged-in user.
    API key scopes: elements:write, catalog:write, copy:write, batches:write, experiments:write,
    schedules:write, rounds:write, lifecycle:write, events:write.
    """


def _password(prompt_twice: bool) -> str:
    env = os.environ.get("CREATIVE_ADMIN_PASSWORD")
    if env:
        return env
    first = getpass.getpass("Password: ")
    if prompt_twice and getpass.getpass("Repeat password: ") != first:
        raise click.ClickException("the passwords differ; run the command again")
    return first


def _show(user, as_json: bool, done: str) -> None:
    if as_json:
        print_json({"user_id": user.user_id, "username": user.username, "role": user.role, "disabled": user.disabled,
                    "scopes": sorted(user.scopes)})
    else:
        click.echo(f"{done}: {user.username} ({user.role}{', disabled' if user.disabled else ''})")


@users_group.command("create")
@click.argument("username")
@click.option("--role", required=True, help="What the user may change: a role from `creative users --help`.")
@json_option
@click.pass_context
def create_cmd(ctx, username, role, as_json):
    """Create a user who can log in to the web app (password from a prompt or CREATIVE_ADMIN_PASSWORD)."""
    from creative.web.auth import create_user

    _show(create_user(engine_of(ctx), username, _password(prompt_twice=True), role), as_json, "created")


@users_group.command("create-admin")
@click.argument("username")
@json_option
@click.pass_context
def create_admin(ctx, username, as_json):
    """Create an admin user (password from a prompt or CREATIVE_ADMIN_PASSWORD)."""
    from creative.web.auth import create_user

    _show(create_user(engine_of(ctx), username, _password(prompt_twice=True), "admin"), as_json, "created")


@users_group.command("set-password")
@click.argument("username")
@json_option
@click.pass_context
def set_password_cmd(ctx, username, as_json):
    """Change a user's password (prompt, or CREATIVE_ADMIN_PASSWORD); their open sessions end."""
    from creative.web.auth import set_password

    _show(set_password(engine_of(ctx), username, _password(prompt_twice=True)), as_json, "password changed, sessions ended")


@users_group.command("set-role")
@click.argument("username")
@click.argument("role")
@json_option
@click.pass_context
def set_role_cmd(ctx, username, role, as_json):
    """Change what a user may do; it applies from their next request, to their API keys too."""
    from creative.web.auth import set_role

    _show(set_role(engine_of(ctx), username, role), as_json, "role changed")


@users_group.command("disable")
@click.argument("username")
@json_option
@click.pass_context
def disable_cmd(ctx, username, as_json):
    """Stop a user: they can't log in, and their sessions and API keys stop working at once."""
    from creative.web.auth import set_disabled

    _show(set_disabled(engine_of(ctx), username, True), as_json, "disabled")


@users_group.command("enable")
@click.argument("username")
@json_option
@click.pass_context
def enable_cmd(ctx, username, as_json):
    """Let a disabled user log in again (their old sessions stay ended)."""
    from creative.web.auth import set_disabled

    _show(set_disabled(engine_of(ctx), username, False), as_json, "enabled")


@users_group.command("list")
@json_option
@click.pass_context
def list_cmd(ctx, as_json):
    """List users."""
    from creative.web.auth import list_users

    users = list_users(engine_of(ctx))
    if as_json:
        print_json([{"user_id": u.user_id, "username": u.username, "role": u.role, "disabled": u.disabled} for u in users])
        return
    if not users:
        click.echo("no users yet; create one with `creative users create NAME --role ROLE` (or `creative users create-admin NAME`)")
    for u in users:
        click.echo("\t".join([u.username, u.role] + ["disabled"] * u.disabled))


@users_group.command("api-key")
@click.argument("username")
@click.option("--scope", "scopes", multiple=True, metavar="SCOPE",
              help="What the key may do, e.g. events:write (repeat for several); only scopes USERNAME's role has.")
@click.option("--label", default="", help="What the key is for, e.g. the ad server's name.")
@click.option("--revoke", "revoke_id", metavar="KEY_ID", help="Revoke the key with this id (the part after ck_, before the second _).")
@json_option
@click.pass_context
def api_key(ctx, username, scopes, label, revoke_id, as_json):
    """Create an API key for USERNAME with the scopes given (printed once; send it as `Authorization: Bearer KEY`), or revoke one."""
    from creative.web.auth import create_api_key, revoke_api_key

    if revoke_id:
        if not revoke_api_key(engine_of(ctx), revoke_id):
            raise click.ClickException(f"no API key {revoke_id!r}")
        print_json({"revoked": revoke_id}) if as_json else click.echo(f"revoked {revoke_id}")
        return
    if not scopes:
        raise click.UsageError("choose what the key may do with --scope, e.g. --scope events:write")
    key = create_api_key(engine_of(ctx), username, label, scopes)
    print_json({"key": key, "username": username, "scopes": sorted(set(scopes))}) if as_json else click.echo(key)
