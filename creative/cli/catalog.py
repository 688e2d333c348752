"""`creative catalog ...`: import and list product facts."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from creative.catalog import import_catalog, list_products
from creative.cli.common import engine_of, json_option, print_json, row, store_of


@click.group("catalog")
def catalog_group() -> None:
    """Marketers' product facts: prices, discounts, features, keywords."""


@catalog_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@json_option
@click.pass_context
def import_(ctx, file, as_json):
    """Import a CSV or JSON catalog in one transaction (a bad row imports nothing)."""
    report = import_catalog(engine_of(ctx), file, store_of(ctx).image_resolver())
    if as_json:
        print_json({"file": str(file), "added": report.added, "updated": report.updated, "unchanged": report.unchanged})
    else:
        click.echo(f"{file}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged")


@catalog_group.command("list")
@json_option
@click.pass_context
def list_(ctx, as_json):
    """List products."""
    products = list_products(engine_of(ctx))
    if as_json:
        print_json([p.to_json() for p in products])
        return
    if not products:
        click.echo("the catalog is empty; import products with `creative catalog import FILE` (CSV or JSON)")
        return
    table = Table("id", "name", "brand", "category", "price", "sale", "lang", "images")
    for p in products:
        sale = f"{p.sale_price:g} (-{p.discount_pct:g}%)" if p.sale_price else ""
        table.add_row(*row(p.product_id, p.name, p.brand, p.category, f"{p.price:g}", sale, p.language, ",".join(p.images)))
    Console().print(table)
