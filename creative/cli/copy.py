"""`creative copy`: titles and long-form articles for catalog products, checked by guardrails and stored as elements."""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Iterable

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from creative.cli.common import engine_of, json_option, print_json, row, store_of, workspace_of
from creative.copy.article.assemble import FORMATS, render_as
from creative.copy.errors import CopyError
from creative.copy.limits import LIMITS
from creative.copy.styles import label, parse_styles

err = Console(stderr=True)


def _products(ctx: click.Context, product_id: str | None, all_products: bool):
    from creative.catalog import get_product, list_products

    engine = engine_of(ctx)
    catalog = list_products(engine)
    if all_products:
        if not catalog:
            raise CopyError("the catalog is empty; import one with `creative catalog import FILE`")
        return catalog
    if not product_id:
        raise CopyError("pass --product ID or --all")
    return [get_product(engine, product_id)]


def _pipeline(ctx: click.Context, model: str | None, candidates: int, seed: int):
    from creative.services import copy_pipeline

    return copy_pipeline(workspace_of(ctx), model=model, seed=seed, per_style=candidates)


def _run(products, work: Callable[[Any], list], quiet: bool) -> list:
    """Run `work` per product with a progress bar on stderr (stdout stays clean for --json)."""
    results = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=quiet or len(products) < 2) as bar:
        task = bar.add_task("copy", total=len(products))
        for product in products:
            bar.update(task, description=f"copy {escape(product.product_id)}")
            results.append((product, work(product)))
            bar.advance(task)
    return results


def _loaded_note(pipe) -> None:
    if pipe.model_loaded:
        m = pipe.model
        err.print(f"[dim]model {m.name} ({str(m.dtype).replace('torch.', '')}) loaded in {m.load_seconds:.1f}s"
                  f"{' from cache' if m.from_cache else ' (converted and cached)'}[/dim]")


def _reason_summary(cands: Iterable) -> str:
    counts = Counter(r.split(":")[0] for c in cands for r in c.reasons)
    return ", ".join(f"{k} {v}" for k, v in counts.most_common()) or "-"


def _print_titles(product, cands, n: int) -> None:
    table = Table(title=Text(f"{product.product_id} {product.name} ({product.language})"), show_lines=False)
    for col in ("style", "code", "engine", "score", "text"):
        table.add_column(col, overflow="fold")
    for style in dict.fromkeys(c.style for c in cands):
        mine = [c for c in cands if c.style == style]
        shown = [c for c in mine if c.status == "accepted"][:n]
        for c in shown:
            table.add_row(*row(label(style, c.language), c.code or "-", c.engine, f"{c.score:.3f}", c.text))
        rejected = [c for c in mine if c.status == "rejected"]
        accepted = sum(c.status == "accepted" for c in mine)
        table.add_row(label(style, product.language), "", "", "",
                      f"[dim]{accepted} accepted, {len(rejected)} rejected ({_reason_summary(rejected)})[/dim]")
    Console().print(table)
    notes = {note for c in cands for note in c.notes}
    for note in notes:
        err.print(f"[yellow]note:[/yellow] {escape(note)}")


@click.group("copy")
def copy_group() -> None:
    """Generate titles and articles from product facts, behind guardrails."""


def _common(f):
    f = click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed (same seed, same output).")(f)
    f = click.option("--model", "model", default=None, help="Local Hugging Face causal-LM directory, a .gguf file, or a hub id (default: embedded SmolLM2-135M-Instruct).")(f)
    f = click.option("--engine", type=click.Choice(["lm", "grammar"]), default="lm", show_default=True, help="lm: the language model; grammar: the project's templates.")(f)
    f = click.option("--all", "all_products", is_flag=True, help="Every product in the catalog.")(f)
    f = click.option("--product", "product_id", help="Product id from the catalog.")(f)
    return f


@copy_group.command("titles")
@_common
@click.option("--styles", default=None, help="Comma list: descriptive,promotion,benefit,poetic (or 描述型,特价型,功效型,古诗词型). Default: all.")
@click.option("--n", "n", type=int, default=5, show_default=True, help="Accepted titles to store per style.")
@click.option("--candidates", type=int, default=24, show_default=True, help="Model candidates drawn per style.")
@click.option("--limit", "limit_name", type=click.Choice(sorted(LIMITS)), default="headline", show_default=True, help="Length and width budget.")
@click.option("--fill/--no-fill", default=True, show_default=True, help="Top up with grammar titles when the model yields fewer than N.")
@click.option("--store/--no-store", default=True, show_default=True, help="Store the top N per style as title elements.")
@json_option
@click.pass_context
def titles_command(ctx, product_id, all_products, engine, model, seed, styles, n, candidates, limit_name, fill, store, as_json):
    """Short titles in several styles; prints accepted ones and why others were rejected."""
    from creative.copy.pipeline import store_titles

    if n < 1 or candidates < 1:
        raise CopyError("--n and --candidates must be at least 1")
    style_list = parse_styles(styles)
    products = _products(ctx, product_id, all_products)
    pipe = _pipeline(ctx, model, candidates, seed)
    element_store = store_of(ctx) if store else None

    def work(product):
        cands = pipe.titles(product, styles=style_list, n=n, engine=engine, fill=fill, limit=LIMITS[limit_name])
        if element_store is not None:
            store_titles(element_store, product, cands, n, model_name=pipe.model_name)
        return cands

    results = _run(products, work, quiet=False)
    _loaded_note(pipe)
    if as_json:
        print_json([c.to_json() for _, cands in results for c in cands])
        return
    for product, cands in results:
        _print_titles(product, cands, n)


@copy_group.command("article")
@_common
@click.option("--keywords", default=None, help="Comma list, e.g. commute,gift (default: the product's keywords).")
@click.option("--per-section", type=int, default=6, show_default=True, help="Model candidates drawn per sentence.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text: a review view with engines and rejections; markdown/html: the article to paste; json: everything.")
@click.option("--store/--no-store", default=True, show_default=True, help="Store the best accepted article as an article element.")
@json_option
@click.pass_context
def article_command(ctx, product_id, all_products, engine, model, seed, keywords, per_section, fmt, store, as_json):
    """A long-form article written sentence by sentence: headline, lead, a section per selling point, a scene per keyword, call to action.

    Sentences already in the product's stored articles are not written again.
    """
    from creative.services.copy import write_article

    if per_section < 1:
        raise CopyError("--per-section must be at least 1")
    fmt = "json" if as_json else fmt
    products = _products(ctx, product_id, all_products)
    pipe = _pipeline(ctx, model, 24, seed)
    ws = workspace_of(ctx)
    kw = [k.strip() for k in keywords.split(",")] if keywords else None

    def work(product):
        return write_article(ws, product.product_id, engine=engine, keywords=kw, per_section=per_section, store=store, pipeline=pipe).candidates

    results = _run(products, work, quiet=False)
    _loaded_note(pipe)
    if fmt == "json":
        print_json([c.to_json() for _, cands in results for c in cands])
        return
    console = Console()
    for product, cands in results:
        best = cands[0]
        notes = best.notes
        if fmt in ("markdown", "html"):
            if best.status != "accepted":
                raise CopyError(f"{product.product_id}: the article did not pass the guardrails: {'; '.join(best.reasons)}")
            click.echo(render_as(fmt, best.sections or [], product.language), nl=False)
        else:
            console.rule(Text(f"{product.product_id} {product.name}"))
            status = "[green]accepted[/green]" if best.status == "accepted" else f"[red]rejected[/red]: {escape('; '.join(best.reasons))}"
            console.print(f"[bold]{best.code or '(not stored)'}[/bold] engine={best.engine} {status}")
            for s in best.sections or []:
                console.print(f"[dim]{s['section']}{' · ' + escape(s['heading']) if s.get('heading') else ''} ({s['engine']})[/dim]")
                console.print(Text(s["text"]))
            drafts = cands[1:]
            if drafts:
                console.print(f"[dim]{len(drafts)} model sentence drafts not used ({_reason_summary(drafts)})[/dim]")
        for note in notes:
            err.print(f"[yellow]note:[/yellow] {escape(note)}")
