"""`creative compose`: build a batch of banners from selected elements, templates and sizes."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from creative.compose import BatchSelection, compose_batch, split_codes
from creative.db import open_database
from creative.home import Home

_codes = dict(multiple=True, metavar="CODES")


@click.command("compose")
@click.option("--products", **_codes, help="Product element codes or catalog product ids; comma-separated or repeated.")
@click.option("--logos", **_codes, help="Logo element codes.")
@click.option("--titles", **_codes, help="Title element codes; omit to use each product's catalog name.")
@click.option("--models", **_codes, help="Model element codes (for the model template).")
@click.option("--backgrounds", **_codes, help="Background element codes; omit for colour fills from the palettes.")
@click.option("--templates", multiple=True, default=("all",), show_default=True, help="Template names, or 'all'.")
@click.option("--sizes", multiple=True, default=("all",), show_default=True, help="WxH sizes, or all | iab | social.")
@click.option("--format", "formats", multiple=True, default=("jpeg",), show_default=True,
              type=click.Choice(["jpeg", "jpg", "png", "webp"], case_sensitive=False), help="Image format; repeat for several.")
@click.option("--max", "max_n", type=click.IntRange(min=1), help="Make a seeded random sample of N combinations.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the --max sample.")
@click.option("--workers", type=click.IntRange(min=1), help="Processes to render on (default: all cores).")
@click.option("--no-record", is_flag=True, help="Do not record the creatives in the library.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output directory (replaced atomically).")
@click.pass_obj
def compose_command(home: Home, products, logos, titles, models, backgrounds, templates, sizes, formats, max_n, seed, workers, no_record, out_dir):
    """Compose banners: every combination (or --max N of them), manifest.json and an index.html gallery."""
    engine = open_database(home.db_url)
    selection = BatchSelection(
        products=split_codes(products), logos=split_codes(logos), titles=split_codes(titles),
        models=split_codes(models), backgrounds=split_codes(backgrounds),
        templates=split_codes(templates) or ("all",), sizes=split_codes(sizes) or ("all",),
    )
    console = Console(stderr=True)
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("composing", total=None)
        result = compose_batch(home, engine, selection, out_dir, formats=formats, max_n=max_n, seed=seed,
                               workers=workers or os.cpu_count(), record=not no_record,
                               progress=lambda done, total: bar.update(task, completed=done, total=total))
    rate = result.rendered / result.seconds if result.seconds else 0.0
    for note in result.skipped:
        click.echo(f"note: {note}", err=True)
    click.echo(f"{result.rendered} banners ({len(result.rejected)} rejected) of {result.combinations} combinations "
               f"in {result.seconds:.1f} s ({rate:.0f}/s)")
    click.echo(f"manifest: {result.manifest}")
    click.echo(f"gallery:  {result.gallery}")
