"""The `creative` command. Subcommands load on first use so `creative --help` stays fast."""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Sequence

import click

from creative.errors import USER_ERRORS
from creative.home import resolve_home

SUBCOMMANDS = {
    "elements": "creative.cli.elements:elements_group",
    "catalog": "creative.cli.catalog:catalog_group",
    "brands": "creative.cli.brands:brands_group",
    "copy": "creative.cli.copy:copy_group",
    "compose": "creative.cli.compose:compose_command",
    "experiment": "creative.cli.experiment:experiment_group",
    "tags": "creative.cli.experiment:tags_group",
    "demo": "creative.cli.demo:demo_command",
    "schedule": "creative.cli.schedule:schedule_group",
    "serve": "creative.cli.serve:serve_command",
    "users": "creative.cli.serve:users_group",
    "batches": "creative.cli.batches:batches_group",
}
# The root's own options, accepted anywhere on the line: `creative elements list --home X --json` works too.
GLOBAL_OPTIONS = {"--home": True, "--db": True, "--json": False}  # name -> takes a value


def hoist_global_options(args: Sequence[str]) -> list[str]:
    """Move the root's options found after the subcommand to the front, where click parses them (never past `--`)."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        if arg == "--":
            rest.extend(args[i:])
            break
        if name in GLOBAL_OPTIONS:
            takes_value = GLOBAL_OPTIONS[name] and "=" not in arg and i + 1 < len(args)
            front.extend(args[i : i + 1 + takes_value])
            i += 1 + takes_value
            continue
        rest.append(arg)
        i += 1
    return front + rest


def wants_json(args: Sequence[str]) -> bool:
    return "--json" in args[: args.index("--")] if "--" in args else "--json" in args


def error_payload(exc: click.ClickException) -> dict[str, str | None]:
    """{"error", "hint"} for a failed command: the project's messages say what went wrong, then "; " what to do."""
    message = exc.format_message()
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        return {"error": message, "hint": f"see `{exc.ctx.command_path} --help`"}
    error, sep, hint = message.partition("; ")
    return {"error": error, "hint": hint if sep else None}


def print_json_error(exc: click.ClickException) -> None:
    json.dump(error_payload(exc), sys.stderr, ensure_ascii=False)
    sys.stderr.write("\n")


class LazyGroup(click.Group):
    """Imports a subcommand's module only when it is run; turns CreativeError into one clean line (JSON under --json)."""

    def __init__(self, *args, lazy: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module, attr = self.lazy[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            raise click.ClickException(str(exc)) from exc

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra):
        """Global options anywhere; under --json a failure is {"error", "hint"} on stderr (exit 1, or 2 for usage)."""
        args = hoist_global_options(sys.argv[1:] if args is None else args)
        if not wants_json(args):
            return super().main(args, prog_name, **extra)
        extra.pop("standalone_mode", None)
        try:
            code = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.ClickException as exc:
            print_json_error(exc)
            sys.exit(exc.exit_code)
        except click.Abort:
            print_json_error(click.ClickException("aborted"))
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=LazyGroup, lazy=SUBCOMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False), envvar="CREATIVE_HOME", help="State directory (default ~/.creative; env CREATIVE_HOME).")
@click.option("--db", "db_url", envvar="CREATIVE_DB_URL", help="SQLAlchemy URL for metadata (default: SQLite file in the home; env CREATIVE_DB_URL).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output and errors, for every subcommand.")
@click.pass_context
def cli(ctx: click.Context, home: str | None, db_url: str | None, as_json: bool) -> None:
    """AIGC creative pipeline: element library, copy, banners, experiments.

    --home, --db and --json may also follow the subcommand: `creative elements list --home X --json`."""
    try:
        ctx.obj = resolve_home(home, db_url)
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from exc
    # Components that read the environment (Prefect's home in flows/) follow the chosen home.
    os.environ["CREATIVE_HOME"] = str(ctx.obj.root)


def main() -> None:
    cli(prog_name="creative")
