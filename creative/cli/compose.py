"""`creative compose`: build a batch of banners from selected elements, templates and sizes."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from creative.cli.common import json_option, print_json
from creative.compose import BatchSelection, split_codes
from creative.home import Home
from creative.services import ExperimentPlan, Workspace, launch_batch
from creative.services.batches import DEFAULT_MIN_QUALITY, MIN_QUALITY_ENV
from experiments.policies import DEFAULT_POLICY, POLICY_NAMES

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
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output directory (replaced atomically).")
@click.pass_obj
@click.option("--experiment", "experiment_name", default=None, metavar="NAME", help="Also start an experiment over the batch's banners.")
@click.option("--policy", type=click.Choice(POLICY_NAMES), default=DEFAULT_POLICY, show_default=True, help="Allocation policy of --experiment.")
@click.option("--min-quality", type=click.FloatRange(0, 1), default=None,
              help=f"Refuse banners scoring under this quality (0..1; default ${MIN_QUALITY_ENV}, else {DEFAULT_MIN_QUALITY}).")
@json_option
def compose_command(home: Home, products, logos, titles, models, backgrounds, templates, sizes, formats, max_n, seed, workers,
                    out_dir, experiment_name, policy, min_quality, as_json):
    """Compose banners: every combination (or --max N of them), manifest.json and an index.html gallery."""
    selection = BatchSelection(
        products=split_codes(products), logos=split_codes(logos), titles=split_codes(titles),
        models=split_codes(models), backgrounds=split_codes(backgrounds),
        templates=split_codes(templates) or ("all",), sizes=split_codes(sizes) or ("all",),
    )
    console = Console(stderr=True)
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("composing", total=None)
        launched = launch_batch(Workspace.of(home), selection, out_dir, formats=formats, max_n=max_n, seed=seed,
                                workers=workers or os.cpu_count(),
                                experiment=ExperimentPlan(experiment_name, policy) if experiment_name else None,
                                progress=lambda done, total: bar.update(task, completed=done, total=total), min_quality=min_quality)
    result = launched.batch
    experiment_id = launched.experiment.experiment_id if launched.experiment else None
    if as_json:
        print_json({"batch": result.batch, "manifest": result.manifest, "gallery": result.gallery, "rendered": result.rendered,
                    "rejected": len(result.rejected), "combinations": result.combinations, "skipped": list(result.skipped),
                    "seconds": round(result.seconds, 3), "experiment_id": experiment_id, "min_quality": launched.min_quality,
                    "refused": [r.to_json() for r in launched.refused], "creatives": [c.to_json() for c in result.creatives]})
        return
    rate = result.rendered / result.seconds if result.seconds else 0.0
    for note in result.skipped:
        click.echo(f"note: {note}", err=True)
    for refused in launched.refused:
        click.echo(f"refused {refused.creative_id} (quality {refused.quality:.2f}): {'; '.join(refused.reasons)}", err=True)
    click.echo(f"{result.rendered} banners ({len(result.rejected)} rejected) of {result.combinations} combinations "
               f"in {result.seconds:.1f} s ({rate:.0f}/s)")
    click.echo(f"manifest: {result.manifest}")
    click.echo(f"gallery:  {result.gallery}")
    if experiment_id:
        click.echo(f"experiment: {experiment_id}")
