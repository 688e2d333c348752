"""HTML reports: one experiment (CTR and intervals over rounds, allocation, element effects, tags) and
the validation figures. Jinja2 templates in experiments/templates; matplotlib PNGs written beside the HTML.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Sequence

from jinja2 import Environment, PackageLoader, select_autoescape

from experiments.effects import EffectsResult, attribute_space, fit_effects, propose_combinations
from experiments.model import RoundResult
from experiments.rounds import round_history
from experiments.store import ExperimentStore
from experiments.tags import TagResult
from experiments.validation import ValidationSummary

MAX_LINES = 12  # per-creative lines drawn; the rest are summarised in the table


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


def _shown(history: Sequence[RoundResult]) -> list[str]:
    last = history[-1]
    ranked = sorted(last.arms, key=lambda a: -a.mean)
    return [a.creative_id for a in ranked[:MAX_LINES]]


def plot_ctr(history: Sequence[RoundResult], path: Path) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4))
    for cid in _shown(history):
        xs, mean, low, high = [], [], [], []
        for r in history:
            arm = next((a for a in r.arms if a.creative_id == cid), None)
            if arm is not None and arm.impressions:
                xs.append(r.round_no)
                mean.append(arm.mean)
                low.append(arm.ci_low)
                high.append(arm.ci_high)
        if xs:
            line, = ax.plot(xs, mean, marker="o", ms=3, label=cid)
            ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.12)
    ax.set_xlabel("round")
    ax.set_ylabel("CTR (posterior mean, 95% CrI)")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def plot_allocation(history: Sequence[RoundResult], path: Path) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    shown = _shown(history)
    xs = [r.round_no for r in history]
    stacks = [[r.allocation_next.get(cid, 0.0) for r in history] for cid in shown]
    other = [1.0 - sum(col) for col in zip(*stacks)] if stacks else []
    labels = shown + (["other"] if any(x > 1e-9 for x in other) else [])
    if any(x > 1e-9 for x in other):
        stacks.append(other)
    ax.stackplot(xs, stacks, labels=labels, step="post")
    ax.set_ylim(0, 1)
    ax.set_xlabel("after round")
    ax.set_ylabel("traffic share")
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    return _save(fig, path)


def plot_effects(effects: EffectsResult, path: Path) -> str:
    plt = _plt()
    ranked = effects.ranked()
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.3 * len(ranked) + 1)))
    ys = list(range(len(ranked)))
    ax.errorbar([e.coef for e in ranked], ys, xerr=[[e.coef - e.ci_low for e in ranked], [e.ci_high - e.coef for e in ranked]], fmt="o")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(ys, [f"{e.attribute}={e.value} (vs {e.baseline})" for e in ranked], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("effect on log-odds of a click (95% interval)")
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


def write_report(engine, experiment_id: str, out_dir: str | Path, tags: TagResult) -> Path:
    """Write out_dir/index.html (+ PNGs beside it) for one experiment; returns the HTML path.

    `tags` are the stored ones (experiments.tag_store), so the report shows what serving uses."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store = ExperimentStore(engine)
    status = store.status(experiment_id)
    history = round_history(engine, experiment_id)
    arms = store.arms(experiment_id)
    counts = {s.creative_id: (s.impressions, s.clicks) for s in status.arms}
    images: dict[str, str] = {}
    effects = fit_effects(arms, counts) if sum(c[0] for c in counts.values()) else None
    proposals = propose_combinations(effects, attribute_space(arms), n=6, exclude=[a.attributes for a in arms]) if effects and effects.effects else []
    if history:
        images["ctr"] = plot_ctr(history, out / "ctr.png")
        images["allocation"] = plot_allocation(history, out / "allocation.png")
    if effects is not None and effects.effects:
        images["effects"] = plot_effects(effects, out / "effects.png")
    if tags.tags:
        images["tags"] = plot_tags(tags, out / "tags.png")
    page = _env().get_template("experiment.html.j2").render(
        status=status, history=history, last=history[-1] if history else None, effects=effects, proposals=proposals,
        tags=tags, images=images, ingests=store.ingest_log(experiment_id))
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
