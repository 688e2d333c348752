"""The `creative` command. Subcommands load on first use so `creative --help` stays fast."""

from __future__ import annotations

import importlib
import os

import click

from creative.errors import USER_ERRORS
from creative.home import resolve_home

SUBCOMMANDS = {
    "elements": "creative.cli.elements:elements_group",
    "catalog": "creative.cli.catalog:catalog_group",
    "copy": "creative.cli.copy:copy_group",
    "compose": "creative.cli.compose:compose_command",
    "experiment": "creative.cli.experiment:experiment_group",
    "tags": "creative.cli.experiment:tags_group",
    "demo": "creative.cli.demo:demo_command",
    "schedule": "creative.cli.schedule:schedule_group",
    "serve": "creative.cli.serve:serve_command",
    "users": "creative.cli.serve:users_group",
}


class LazyGroup(click.Group):
    """Imports a subcommand's module only when it is run; turns CreativeError into one clean line."""

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


@click.group(cls=LazyGroup, lazy=SUBCOMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False), envvar="CREATIVE_HOME", help="State directory (default ~/.creative; env CREATIVE_HOME).")
@click.option("--db", "db_url", envvar="CREATIVE_DB_URL", help="SQLAlchemy URL for metadata (default: SQLite file in the home; env CREATIVE_DB_URL).")
@click.pass_context
def cli(ctx: click.Context, home: str | None, db_url: str | None) -> None:
    """AIGC creative pipeline: element library, copy, banners, experiments."""
    try:
        ctx.obj = resolve_home(home, db_url)
    except USER_ERRORS as exc:
        raise click.ClickException(str(exc)) from exc
    # Components that read the environment (Prefect's home in flows/) follow the chosen home.
    os.environ["CREATIVE_HOME"] = str(ctx.obj.root)


def main() -> None:
    cli(prog_name="creative")
