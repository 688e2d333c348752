"""`creative demo`: the whole loop on the embedded defaults, as Prefect flows, with progress."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table


@click.command("demo")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"), show_default=True, help="Where the gallery, report and tags go.")
@click.option("--rounds", type=click.IntRange(2, 200), default=20, show_default=True, help="Experiment rounds of simulated traffic.")
@click.option("--engine", type=click.Choice(["lm", "grammar"]), default="lm", show_default=True, help="Copy engine (lm = the embedded language model).")
@click.option("--model", help="A local Hugging Face model directory instead of the embedded SmolLM2.")
@click.pass_context
def demo_command(ctx, out, rounds, engine, model):
    """Samples -> copy -> banners -> experiment -> ~20 simulated rounds -> next generation -> report and tags."""
    import flows  # noqa: F401 - Prefect's offline defaults before Prefect loads
    from flows.demo import DemoConfig, run_demo

    console = Console()
    home = ctx.obj
    started = time.perf_counter()
    config = DemoConfig(out=out, rounds=rounds, engine=engine, model=model)
    with console.status("starting Prefect's local server", spinner="dots") as status:
        def step(message: str) -> None:
            console.log(message)
            status.update(message)
        summary = run_demo(str(home.root), home.db_url, config, step)
    minutes = (time.perf_counter() - started) / 60
    table = Table(title=f"demo finished in {minutes:.1f} min", show_header=False)
    table.add_row("experiment", summary["experiment_id"])
    outcome = (f"winner {summary['winner']}" if summary["winner"]
               else f"no winner yet; best {summary['best']} (P(best) {summary['confidence']:.2f})")
    table.add_row("rounds", f"{summary['rounds']}, last decision {summary['final_decision']}: {outcome}")
    table.add_row("next generation", ", ".join(summary["next_generation"]["added"]) if summary["next_generation"] else "—")
    table.add_row("user tags", f"{summary['tags']} (precision {summary['tag_precision']:.2f}, recall {summary['tag_recall']:.2f} against the planted tastes)")
    table.add_row("gallery (every template at every size)", summary["gallery"])
    table.add_row("campaign gallery", summary["campaign_gallery"])
    table.add_row("experiment report", summary["report"])
    table.add_row("tags", summary["tags_csv"])
    console.print(table)
