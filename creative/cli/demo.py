"""`creative demo`: the whole loop on the embedded defaults (grows as the pipeline grows)."""

from __future__ import annotations

from collections import Counter

import click
from rich.console import Console
from rich.table import Table

from assets.samples import load_sample_library
from creative.catalog import list_products
from creative.db import open_database


@click.command("demo")
@click.pass_context
def demo_command(ctx):
    """Load the sample library into the home and summarise it."""
    console = Console()
    home = ctx.obj
    with console.status("loading the sample library"):
        library = load_sample_library(home)
    kinds = Counter(e.kind for e in library.elements)
    table = Table("kind", "count", "codes", title=f"sample library in {home.root}")
    for kind, count in sorted(kinds.items()):
        table.add_row(kind, str(count), " ".join(e.code for e in library.elements if e.kind == kind))
    console.print(table)
    cut = [e.code for e in library.elements if e.attributes.get("has_cutout")]
    console.print(f"automatic cut-outs: {', '.join(cut) or 'none'}")
    for report in library.catalogs:
        console.print(f"catalog {report.source.name}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged")
    products = list_products(open_database(home.db_url))
    console.print(f"{len(products)} products in {len({p.category for p in products})} categories, languages {sorted({p.language for p in products})}")
