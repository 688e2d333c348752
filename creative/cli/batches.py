"""`creative batches list|show`: the composed batches in the library, with their folders and experiments."""

from __future__ import annotations

import click

from creative.cli.common import json_option, print_json, workspace_of


@click.group("batches")
def batches_group() -> None:
    """Composed batches: what each holds, where its gallery is, which experiments use it."""


@batches_group.command("list")
@json_option
@click.pass_context
def list_(ctx, as_json):
    """List batches, newest first."""
    from creative.services.batches import list_batches

    found = list_batches(workspace_of(ctx))
    if as_json:
        print_json([b.to_json() for b in found])
        return
    if not found:
        click.echo("no batches yet; compose one with `creative compose --products CODES --out DIR`")
        return
    click.echo(f"{'batch':<23} {'created':<16} {'banners':>7} {'templates':>9} {'sizes':>5}  experiments")
    for b in found:
        click.echo(f"{b.batch:<23} {b.created_at:%Y-%m-%d %H:%M} {b.creatives:>7} {len(b.templates):>9} {len(b.sizes):>5}  "
                   + (" ".join(b.experiments) or "-"))
    click.echo("`creative batches show BATCH` lists its banners, templates, sizes and gallery")


@batches_group.command("show")
@click.argument("batch")
@json_option
@click.pass_context
def show(ctx, batch, as_json):
    """Show one batch: its folder, experiments and every banner with its elements."""
    from creative.services.batches import show_batch

    detail = show_batch(workspace_of(ctx), batch)
    s = detail.summary
    if as_json:
        print_json({**s.to_json(), "items": [c.to_json() | {"file": c.file} for c in detail.creatives]})
        return
    click.echo(f"batch {s.batch}: {s.creatives} banners, made {s.created_at:%Y-%m-%d %H:%M}")
    click.echo(f"templates   {', '.join(s.templates)}\nsizes       {', '.join(s.sizes)}")
    click.echo(f"gallery     {s.gallery}\nmanifest    {s.manifest}\nexperiments {', '.join(s.experiments) or '-'}")
    width = max(len(c.creative_id) for c in detail.creatives)
    for c in detail.creatives:
        problems = "; ".join(c.violations + c.warnings)
        click.echo(f"{c.creative_id:<{width}}  {c.offer_id or '-'}" + (f"  {problems}" if problems else ""))
