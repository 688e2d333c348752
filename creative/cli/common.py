"""Helpers shared by the subcommands: the library handles for a Home and JSON printing."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.text import Text
from sqlalchemy import Engine

from creative.db import open_database
from creative.elements.store import ElementStore
from creative.home import Home
from creative.services import Workspace


def row(*values: object) -> list[Text]:
    """Table cells shown as typed: a name like "[/x]" is text, not rich markup."""
    return [Text("" if v is None else str(v)) for v in values]


def _json_here_or_global(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    """`--json` given to the command, or to `creative` itself (global options may come before or after the subcommand)."""
    return bool(value or ctx.find_root().params.get("as_json"))


json_option = click.option("--json", "as_json", is_flag=True, callback=_json_here_or_global,
                           help="Print machine-readable JSON (errors too, on stderr).")


def engine_of(ctx: click.Context) -> Engine:
    home: Home = ctx.obj
    return open_database(home.db_url)


def workspace_of(ctx: click.Context) -> Workspace:
    return Workspace.of(ctx.obj)


def store_of(ctx: click.Context) -> ElementStore:
    return ElementStore(ctx.obj, engine_of(ctx))


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")
