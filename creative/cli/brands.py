"""`creative brands ...`: brand kits (colours, font, tone and banned words) that banners and titles follow."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from creative.brands import BrandKit, get_kit, import_kits, list_kits, remove_kit, set_kit
from creative.cli.common import engine_of, json_option, print_json, row
from creative.fonts import available_fonts


@click.group("brands")
def brands_group() -> None:
    """Brand kits: a brand's colours and font in its banners, its tone, the words its titles may not use."""


def _echo_kit(kit: BrandKit) -> None:
    click.echo(f"{kit.name}: primary {kit.primary or '-'}, accent {kit.accent or '-'}, font {kit.font or '-'}")
    click.echo(f"  tone: {', '.join(kit.tone) or '-'}")
    click.echo(f"  banned: {', '.join(kit.banned) or '-'}")


@brands_group.command("set")
@click.argument("name")
@click.option("--primary", help="Primary colour, #rrggbb: buttons, panels and accents of the brand's banners ('' clears).")
@click.option("--accent", help="Accent colour, #rrggbb: a headline colour where it reads ('' clears).")
@click.option("--font", help=f"A font the library has: {', '.join(sorted(available_fonts())) or 'none installed'} ('' clears).")
@click.option("--tone", help="Tone words, comma-separated (e.g. 'calm,precise').")
@click.option("--banned", help="Words the brand's titles may not use, comma-separated (e.g. 'cheap,best ever').")
@json_option
@click.pass_context
def set_(ctx, name, primary, accent, font, tone, banned, as_json):
    """Create a brand's kit or change the fields given; the others keep their value."""
    kit = set_kit(engine_of(ctx), name, primary=primary, accent=accent, font=font, tone=tone, banned=banned)
    if as_json:
        print_json(kit.to_json())
    else:
        _echo_kit(kit)


@brands_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@json_option
@click.pass_context
def import_(ctx, file, as_json):
    """Set every kit of a JSON file (an array of {name, primary, accent, font, tone, banned}) in one transaction."""
    kits = import_kits(engine_of(ctx), file)
    if as_json:
        print_json({"file": str(file), "kits": [k.to_json() for k in kits]})
    else:
        click.echo(f"{file}: {len(kits)} brand kit(s) set: {', '.join(k.name for k in kits)}")


@brands_group.command("list")
@json_option
@click.pass_context
def list_(ctx, as_json):
    """List brand kits."""
    kits = list_kits(engine_of(ctx))
    if as_json:
        print_json([k.to_json() for k in kits])
        return
    if not kits:
        click.echo("no brand kits yet; add one with `creative brands set NAME --primary '#0a3d62'` or `creative brands import FILE`")
        return
    table = Table("brand", "primary", "accent", "font", "tone", "banned")
    for k in kits:
        table.add_row(*row(k.name, k.primary, k.accent, k.font, ", ".join(k.tone), ", ".join(k.banned)))
    Console().print(table)


@brands_group.command("show")
@click.argument("name")
@json_option
@click.pass_context
def show(ctx, name, as_json):
    """Show one brand's kit."""
    kit = get_kit(engine_of(ctx), name)
    if as_json:
        print_json(kit.to_json())
    else:
        _echo_kit(kit)


@brands_group.command("remove")
@click.argument("name")
@json_option
@click.pass_context
def remove(ctx, name, as_json):
    """Remove a brand's kit (its elements and products keep their brand)."""
    kit = remove_kit(engine_of(ctx), name)
    if as_json:
        print_json({"removed": kit.name})
    else:
        click.echo(f"removed the brand kit of {kit.name}")
