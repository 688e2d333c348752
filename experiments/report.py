"""HTML reports: one experiment (the marketer's summary with thumbnails, charts over rounds, the effects
of creative choices, tags) and the validation figures. Jinja2 templates in experiments/templates; matplotlib PNGs written beside the HTML.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Mapping, Sequence

from jinja2 import Environment, PackageLoader, select_autoescape

from experiments.effects import attribute_space, fit_effects, propose_combinations
from experiments.rounds import round_history
from experiments.store import ExperimentStore
from experiments.summary import CHART_TOP, ChartSeries, ChoiceEffect, chart_series, choice_effects, describe_choices, experiment_summary
from experiments.tags import TagResult
from experiments.validation import ValidationSummary


def _env() -> Environment:
    return Environment(loader=PackageLoader("experiments", "templates"), autoescape=select_autoescape(["html", "j2"]))


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def add_plot_font(path: str | Path) -> None:
    """Make a font file a fallback of the plots (Chinese attribute values need a CJK face).

    The caller names the file: this library draws charts but does not know which fonts are installed."""
    import matplotlib
    from matplotlib import font_manager

    path = str(path)
    if path not in {f.fname for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(path)
        name = font_manager.FontProperties(fname=path).get_name()
        matplotlib.rcParams["font.sans-serif"] = ["DejaVu Sans", name, *matplotlib.rcParams["font.sans-serif"]]


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    _plt().close(fig)
    return path.name


def _lines(ax, series: Mapping[str, Sequence[tuple[int, float]]]) -> None:
    """One line per series, 'others' grey and dashed; the legend beside the plot, never over the lines."""
    plt = _plt()
    colours = [plt.cm.tab10(i) for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)]  # tab10 without its grey: grey is "others"
    for i, (name, points) in enumerate(series.items()):
        if points:
            xs, ys = zip(*points)
            style = {"color": "grey", "ls": "--"} if name.startswith("others") else {"color": colours[i % len(colours)]}
            ax.plot(xs, ys, marker="o", ms=3, label=name, **style)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{100 * y:.1f}%"))
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_xlabel("round")
    if ax.get_legend_handles_labels()[0]:  # a round with no traffic yet has no lines to name
        ax.legend(fontsize=9, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)


def plot_ctr(series: ChartSeries, path: Path) -> str:
    fig, ax = _plt().subplots(figsize=(8, 3.6))
    _lines(ax, series.ctr)
    ax.set_ylabel("click-through rate")
    return _save(fig, path)


def plot_traffic(series: ChartSeries, path: Path) -> str:
    fig, ax = _plt().subplots(figsize=(8, 3.6))
    _lines(ax, series.traffic)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of impressions")
    return _save(fig, path)


def plot_choices(choices: Sequence[ChoiceEffect], path: Path) -> str:
    """Each creative choice's change in clicks with its interval, on the % scale the table uses."""
    fig, ax = _plt().subplots(figsize=(8, max(2.2, 0.38 * len(choices) + 1)))
    ys = list(range(len(choices)))
    ax.errorbar([100 * c.change for c in choices], ys, fmt="o",
                xerr=[[100 * (c.change - c.low) for c in choices], [100 * (c.high - c.change) for c in choices]])
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(ys, [f"{c.choice} {c.value} (vs {c.baseline})" for c in choices], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("change in clicks, % (95% interval)")
    return _save(fig, path)


def plot_tags(tags: TagResult, path: Path) -> str:
    plt = _plt()
    counts: dict[str, int] = {}
    for tag in tags.tags:
        counts[tag.label] = counts.get(tag.label, 0) + 1
    items = sorted(counts.items(), key=lambda kv: -kv[1])[:20]
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.3 * len(items) + 1)))
    ax.barh([k for k, _ in items], [v for _, v in items])
    ax.invert_yaxis()
    ax.set_xlabel("users tagged")
    return _save(fig, path)


def write_report(engine, experiment_id: str, out_dir: str | Path, tags: TagResult, *, thumbnails: Mapping[str, str] | None = None,
                 vs: str = "control") -> Path:
    """Write out_dir/index.html (+ PNGs beside it) for one experiment; returns the HTML path.

    `tags` are the stored ones (experiments.tag_store), so the report shows what serving uses. `thumbnails`
    map creative ids to images relative to out_dir: the caller knows the creatives' files, this library does not."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store = ExperimentStore(engine)
    status = store.status(experiment_id)
    history = round_history(engine, experiment_id)
    arms = store.arms(experiment_id)
    summary = experiment_summary(status, arms, history, vs)
    counts = {s.creative_id: (s.impressions, s.clicks) for s in status.arms}
    images: dict[str, str] = {}
    effects = fit_effects(arms, counts) if sum(c[0] for c in counts.values()) else None
    choices = choice_effects(effects.effects) if effects else []
    proposals = propose_combinations(effects, attribute_space(arms), n=6, exclude=[a.attributes for a in arms]) if effects and effects.effects else []
    if history:
        series = chart_series(history, summary)
        images["ctr"] = plot_ctr(series, out / "ctr.png")
        images["traffic"] = plot_traffic(series, out / "traffic.png")
    if choices:
        images["choices"] = plot_choices(choices, out / "choices.png")
    if tags.tags:
        images["tags"] = plot_tags(tags, out / "tags.png")
    page = _env().get_template("experiment.html.j2").render(
        status=status, summary=summary, history=history, choices=choices, tags=tags, images=images, thumbnails=thumbnails or {},
        proposals=[(describe_choices(p.attributes), p) for p in proposals], ingests=store.ingest_log(experiment_id), chart_top=CHART_TOP)
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def write_validation_report(summary: ValidationSummary, out_dir: str | Path) -> Path:
    """validation.html with the four figures of the issue and whether each holds."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.bar(["sequential (mSPRT)", "naive z-test"], [summary.aa.false_positive_rate, summary.aa.naive_false_positive_rate], color=["tab:green", "tab:red"])
    ax.axhline(0.05, color="black", ls="--", lw=0.8)
    ax.set_ylabel(f"A/A false positives ({summary.aa.looks} looks)")
    aa_png = _save(fig, out / "validation_aa.png")
    fig, ax = plt.subplots(figsize=(6, 3))
    names = list(summary.regret.mean_regret)
    ax.bar(names, [summary.regret.mean_regret[n] for n in names])
    ax.set_ylabel("mean regret (lost clicks)")
    regret_png = _save(fig, out / "validation_regret.png")
    page = _env().get_template("validation.html.j2").render(s=summary, checks=summary.checks(), aa_png=aa_png, regret_png=regret_png, esc=html.escape)
    path = out / "validation.html"
    path.write_text(page, encoding="utf-8")
    return path
