"""`creative demo`: the whole loop on the embedded defaults, as Prefect flows, with progress.

The demo's terminal shows its own lines only: the one-time GGUF conversion's tqdm bar is switched off
(tqdm reads TQDM_DISABLE when it is first imported, so it is set before the flows load), and the
library warnings the project knows are harmless are filtered by the CLI root (creative.cli.common).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from creative.cli.common import json_option, print_json


def creative_aliases(summary: dict) -> dict[str, str]:
    """Short names (#1, #2, ...) for the creative ids the summary names, in the order they appear."""
    named = [summary["winner"] or summary["best"], *(summary["next_generation"] or {}).get("added", [])]
    return {cid: f"#{i}" for i, cid in enumerate(dict.fromkeys(c for c in named if c), 1)}


def summary_table(summary: dict, minutes: float) -> tuple[Table, list[str]]:
    """The closing table, with creatives as short aliases, and the plain lines under it: the tag figures,
    the legend of aliases (full ids) and the files written (long paths are not cut by a table's width)."""
    alias = creative_aliases(summary)
    table = Table(title=f"demo finished in {minutes:.1f} min", show_header=False)
    table.add_row("experiment", summary["experiment_id"])
    outcome = (f"winner {alias[summary['winner']]}" if summary["winner"]
               else f"no winner yet; best {alias.get(summary['best'], '-')} (P(best) {summary['confidence']:.2f})")
    table.add_row("rounds", f"{summary['rounds']}, last decision {summary['final_decision']}: {outcome}")
    added = (summary["next_generation"] or {}).get("added", [])
    table.add_row("next generation", " ".join(alias[c] for c in added) or "—")
    table.add_row("user tags", f"{summary['tags']} for {summary['tagged_users']} users")
    lines = [f"tags against the {summary['planted_users']} planted tastes: precision {summary['tag_precision']:.2f}, "
             f"recall {summary['tag_recall']:.2f}", ""]
    lines += [f"{short}  {cid}" for cid, short in alias.items()] + [""]
    lines += [f"{label:<19}{summary[key]}" for label, key in (("gallery", "gallery"), ("campaign gallery", "campaign_gallery"),
                                                               ("experiment report", "report"), ("tags", "tags_csv"))]
    return table, lines


@click.command("demo")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"), show_default=True, help="Where the gallery, report and tags go.")
@click.option("--rounds", type=click.IntRange(2, 200), default=None, help="Most experiment rounds of simulated traffic (default: the demo's own).")
@click.option("--engine", type=click.Choice(["lm", "grammar"]), default="lm", show_default=True, help="Copy engine (lm = the embedded language model).")
@click.option("--model", help="A local Hugging Face model directory instead of the embedded SmolLM2.")
@click.option("--seed", type=int, default=None, help="Seed of the synthetic audience and of the batch's sample (default: the demo's own).")
@json_option
@click.pass_context
def demo_command(ctx, out, rounds, engine, model, seed, as_json):
    """Samples -> copy -> banners -> experiment -> simulated rounds -> next generation -> report and tags.

    The audience is synthetic with planted tastes; the summary says how well the user tags recover them."""
    os.environ.setdefault("TQDM_DISABLE", "1")
    import flows  # noqa: F401 - Prefect's offline defaults before Prefect loads
    from flows.demo import DemoConfig, run_demo

    console = Console(stderr=as_json)
    home = ctx.obj
    started = time.perf_counter()
    chosen = {k: v for k, v in (("rounds", rounds), ("seed", seed)) if v is not None}
    config = DemoConfig(out=out, engine=engine, model=model, **chosen)
    with console.status("starting Prefect's local server", spinner="dots") as status:
        def step(message: str) -> None:
            console.log(message)
            status.update(message)
        summary = run_demo(str(home.root), home.db_url, config, step)
    if as_json:
        print_json(summary)
        return
    table, lines = summary_table(summary, (time.perf_counter() - started) / 60)
    console.print(table)
    for line in lines:
        click.echo(line)
