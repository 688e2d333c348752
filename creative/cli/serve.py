"""`creative serve` (the web app and ad-serving API) and `creative users ...` (logins and API keys)."""

from __future__ import annotations

import getpass
import os

import click

from creative.cli.common import engine_of, json_option, print_json


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (127.0.0.1 keeps it local).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--secure-cookies", is_flag=True, help="Mark the session cookie Secure (set when a TLS proxy is in front).")
@click.option("--serve-limit", default=6000, show_default=True, type=click.IntRange(1), help="Serve + click requests per client address per minute.")
@click.option("--no-scheduler", is_flag=True, help="Do not run scheduled rounds in this process.")
@click.option("--flush-interval", default=0.25, show_default=True, type=click.FloatRange(0.01, 3600), help="Seconds between writes of buffered impressions and clicks.")
@click.option("--http", "http_impl", default="auto", show_default=True, type=click.Choice(["auto", "h11", "httptools"]),
              help="uvicorn's HTTP parser; auto uses httptools (C) when installed.")
@click.option("--log-level", default="info", show_default=True, type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.pass_context
def serve_command(ctx, host, port, secure_cookies, serve_limit, no_scheduler, flush_interval, http_impl, log_level):
    """Run the web app (element library, catalog, copy, batches, experiments, tags) and /v1 ad serving.

    Stop it with Ctrl-C or SIGTERM: buffered impressions and clicks are written before it exits.
    """
    import uvicorn

    from creative.web import WebSettings, create_app

    settings = WebSettings(secure_cookies=secure_cookies, serve_per_address_per_minute=serve_limit, run_scheduler=not no_scheduler,
                           flush_interval_seconds=flush_interval)
    app = create_app(ctx.obj, settings)
    click.echo(f"serving {ctx.obj.root} on http://{host}:{port}/ (log in with a user from `creative users create-admin`)")
    uvicorn.run(app, host=host, port=port, http=http_impl, log_level=log_level, access_log=False, timeout_graceful_shutdown=30)


@click.group("users")
def users_group() -> None:
    """Web logins and API keys."""


def _password(prompt_twice: bool) -> str:
    env = os.environ.get("CREATIVE_ADMIN_PASSWORD")
    if env:
        return env
    first = getpass.getpass("Password: ")
    if prompt_twice and getpass.getpass("Repeat password: ") != first:
        raise click.ClickException("the passwords differ; run the command again")
    return first


@users_group.command("create-admin")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "editor"]), default="admin", show_default=True)
@click.pass_context
def create_admin(ctx, username, role):
    """Create a user who can log in to the web app (password from a prompt or CREATIVE_ADMIN_PASSWORD)."""
    from creative.web.auth import create_user

    user = create_user(engine_of(ctx), username, _password(prompt_twice=True), role)
    click.echo(f"created {user.role} {user.username}")


@users_group.command("set-password")
@click.argument("username")
@click.pass_context
def set_password_cmd(ctx, username):
    """Change a user's password (prompt, or CREATIVE_ADMIN_PASSWORD)."""
    from creative.web.auth import set_password

    set_password(engine_of(ctx), username, _password(prompt_twice=True))
    click.echo(f"password of {username} changed")


@users_group.command("list")
@json_option
@click.pass_context
def list_cmd(ctx, as_json):
    """List users."""
    from creative.web.auth import list_users

    users = list_users(engine_of(ctx))
    if as_json:
        print_json([{"user_id": u.user_id, "username": u.username, "role": u.role} for u in users])
        return
    for u in users:
        click.echo(f"{u.username}\t{u.role}")


@users_group.command("api-key")
@click.argument("username")
@click.option("--label", default="", help="What the key is for, e.g. the ad server's name.")
@click.option("--revoke", "revoke_id", metavar="KEY_ID", help="Revoke the key with this id (the part after ck_, before the second _).")
@click.pass_context
def api_key(ctx, username, label, revoke_id):
    """Create an API key for USERNAME (printed once; send it as `Authorization: Bearer KEY`), or revoke one."""
    from creative.web.auth import create_api_key, revoke_api_key

    if revoke_id:
        if not revoke_api_key(engine_of(ctx), revoke_id):
            raise click.ClickException(f"no API key {revoke_id!r}")
        click.echo(f"revoked {revoke_id}")
        return
    click.echo(create_api_key(engine_of(ctx), username, label))
