"""`creative elements ...`: add, list, show and remove library elements."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from creative.cli.common import json_option, print_json, row, store_of, workspace_of
from creative.elements import IMAGE_KINDS, KINDS
from creative.errors import ElementRejected
from creative.services.library import remove_element


def _parse_tags(tags: tuple[str, ...]) -> dict[str, str]:
    parsed = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key.strip():
            raise ElementRejected(f"tag {tag!r} is not key=value; write it like --tag season=summer")
        parsed[key.strip()] = value.strip()
    return parsed


@click.group("elements")
def elements_group() -> None:
    """Designers' element library: products, logos, models, backgrounds (and copy)."""


@elements_group.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--kind", type=click.Choice(IMAGE_KINDS), required=True, help="What the images are.")
@click.option("--name", help="Label for a single file (default: the file name).")
@click.option("--brand", help="Brand the elements belong to.")
@click.option("--tag", "tags", multiple=True, help="key=value attribute; repeatable.")
@json_option
@click.pass_context
def add(ctx, paths, kind, name, brand, tags, as_json):
    """Validate and store image files; all of them or none."""
    results = store_of(ctx).add_images(paths, kind, name=name, brand=brand, tags=_parse_tags(tags))
    if as_json:
        print_json([{**r.element.to_json(), "created": r.created, "notes": list(r.notes)} for r in results])
        return
    for r in results:
        state = "added" if r.created else "exists"
        extra = f" ({'; '.join(r.notes)})" if r.notes else ""
        cut = f" cut-out ({r.element.cutout_method})" if r.element.cutout_method else ""
        click.echo(f"{state} {r.element.code} {r.element.kind} {r.element.name} {r.element.width}x{r.element.height}{cut}{extra}")


@elements_group.command("list")
@click.option("--kind", type=click.Choice(KINDS), help="Only this kind.")
@json_option
@click.pass_context
def list_(ctx, kind, as_json):
    """List elements."""
    found = store_of(ctx).list(kind)
    if as_json:
        print_json([e.to_json() for e in found])
        return
    if not found:
        click.echo(f"no {kind + ' ' if kind else ''}elements yet; add images with `creative elements add FILES --kind KIND`")
        return
    table = Table("code", "kind", "name", "brand", "size", "palette")
    for e in found:
        size = f"{e.width}x{e.height}" if e.width else f"{len(e.text or '')} chars"
        table.add_row(*row(e.code, e.kind, e.name, e.brand or "", size, " ".join(e.attributes.get("palette", [])[:3])))
    Console().print(table)


@elements_group.command("show")
@click.argument("code")
@json_option
@click.pass_context
def show(ctx, code, as_json):
    """Show one element with its derived data and file paths."""
    store = store_of(ctx)
    element = store.get(code)
    data = element.to_json()
    if element.width:
        data["files"] = {"original": str(store.original_path(element)), "rgba": str(store.derived_path(element, "rgba")),
                         "thumbnail": str(store.derived_path(element, "thumb"))}
        if element.attributes.get("has_cutout"):
            data["files"]["cutout"] = str(store.derived_path(element, "cutout"))
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        click.echo(f"{key:12} {value}")


@elements_group.command("brand")
@click.argument("code")
@click.argument("brand", required=False)
@json_option
@click.pass_context
def brand(ctx, code, brand, as_json):
    """Assign BRAND to an element (omit BRAND to clear it): a logo is used only with its brand's products."""
    element = store_of(ctx).set_brand(code, brand)
    if as_json:
        print_json(element.to_json())
        return
    click.echo(f"{element.code} {element.kind} {element.name}: brand {element.brand or '(none)'}")


@elements_group.command("remove")
@click.argument("code")
@json_option
@click.pass_context
def remove(ctx, code, as_json):
    """Remove an element no running or paused experiment uses (its files go when no other element shares them)."""
    element = remove_element(workspace_of(ctx), code).element
    if as_json:
        print_json({**element.to_json(), "removed": True})
        return
    click.echo(f"removed {element.code} {element.kind} {element.name}")
