"""`creative experiment ...` and `creative tags ...`: thin commands over the experiments library."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from creative.cli.common import engine_of as _engine
from creative.cli.common import json_option, workspace_of
from creative.cli.common import print_json as _print_json
from creative.errors import CreativeError
from experiments.policies import DEFAULT_POLICY, POLICY_NAMES


def _setting(values: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in values:
        if "=" not in item:
            raise CreativeError(f"--set {item!r} is not KEY=VALUE; e.g. --set alpha=0.05 --set max_rounds=30")
        key, raw = item.split("=", 1)
        try:
            out[key.strip()] = json.loads(raw)
        except ValueError:
            out[key.strip()] = raw
    return out


@click.group("experiment", context_settings={"help_option_names": ["-h", "--help"]})
def experiment_group() -> None:
    """Run A/B/n experiments over composed creatives: ingest events, close rounds, report."""


@experiment_group.command("create")
@click.option("--manifest", "manifest", required=True, type=click.Path(), help="manifest.json written by `creative compose` (or its directory).")
@click.option("--policy", type=click.Choice(POLICY_NAMES), default=DEFAULT_POLICY, show_default=True, help="Allocation policy.")
@click.option("--name", default=None, help="Experiment name (default: the manifest's directory name).")
@click.option("--min-exploration", type=float, default=None, help="Total traffic share spread evenly over active arms.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Experiment setting, e.g. alpha=0.05, max_rounds=30, min_impressions_per_arm=500.")
@json_option
@click.pass_context
def create(ctx, manifest, policy, name, min_exploration, settings, as_json):
    """Create an experiment from a composer manifest; prints the experiment id."""
    from creative.creatives import load_manifest
    from creative.services import create_experiment

    found = load_manifest(manifest)
    name = name or found.folder.name
    params = {} if min_exploration is None else {"min_exploration": min_exploration}
    created = create_experiment(workspace_of(ctx), name, found.creatives, policy, policy_params=params, config=_setting(settings))
    if as_json:
        _print_json({"experiment_id": created.experiment_id, "name": name, "policy": policy, "arms": list(created.arms),
                     "existing": created.existing, "excluded": [{"id": i, "violations": list(v)} for i, v in created.excluded]})
        return
    click.echo(created.experiment_id)
    if created.existing:
        click.echo(f"{name!r} over these creatives exists already; this is that experiment (settings unchanged)", err=True)
    if created.excluded:
        click.echo(f"excluded {len(created.excluded)} creative(s) with violations: {', '.join(i for i, _ in created.excluded)}", err=True)


@experiment_group.command("ingest")
@click.argument("experiment_id")
@click.argument("file", type=click.Path())
@json_option
@click.pass_context
def ingest(ctx, experiment_id, file, as_json):
    """Ingest impressions and clicks from a JSONL or CSV FILE; prints accepted and rejected counts by reason."""
    from experiments.store import ExperimentStore

    report = ExperimentStore(_engine(ctx)).ingest_file(experiment_id, file)
    if as_json:
        _print_json(report.to_dict())
        return
    click.echo(f"lines {report.lines}: accepted {report.accepted} ({report.impressions} impressions, {report.clicks} clicks), "
               f"duplicates {report.duplicates}, rejected {report.rejected_total}")
    for reason, count in report.rejected.items():
        click.echo(f"  {reason}: {count}")
    for sample in report.samples[:5]:
        click.echo(f"  e.g. {sample.detail}")


def _round_lines(result) -> list[str]:
    d = result.decision
    lines = [f"round {result.round_no}: {d.kind}" + (f" {d.winner}" if d.winner else "") + (" (already closed)" if result.replayed else ""),
             f"  {d.reason}", f"  impressions {result.impressions}, clicks {result.clicks}, SRM p={result.srm.p_value:.3g}" + (" ALARM" if result.srm.alarm else "")]
    lines.append(f"  {'creative':<24}{'state':<9}{'impr':>9}{'clicks':>8}{'CTR':>8}{'95% CrI':>18}{'P(best)':>9}{'next':>7}")
    for a in sorted(result.arms, key=lambda a: -a.mean)[:40]:
        lines.append(f"  {a.creative_id:<24}{a.state:<9}{a.impressions:>9}{a.clicks:>8}{100 * a.ctr:>7.2f}%"
                     f"{f'{100 * a.ci_low:.2f}-{100 * a.ci_high:.2f}%':>18}{a.p_best:>9.3f}{a.share_next:>7.3f}")
    if len(result.arms) > 40:
        lines.append(f"  ... {len(result.arms) - 40} more (use --json)")
    return lines


@experiment_group.command("round")
@click.argument("experiment_id")
@click.option("--wait", type=float, default=0.0, show_default=True, help="Seconds to wait if another round of this experiment is running.")
@click.option("--expected-round", type=int, default=None, help="Close only this round; if it is already closed, print its stored result (safe retries).")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Also write the HTML report here.")
@click.option("--force", is_flag=True, help="Close now even below min_round_impressions (an empty round never counts against max_rounds).")
@json_option
@click.pass_context
def round_(ctx, experiment_id, wait, expected_round, report_dir, force, as_json):
    """Ingest the inbox, close the open round once it has enough data (decision, next allocation, statistics) and store user tags."""
    from creative.services import close_round
    from creative.services.reports import report_link

    ws = workspace_of(ctx)  # without --report the round's report is kept in the home, at its web URL
    closed = close_round(ws, experiment_id, wait=wait, expected_round=expected_round, report_dir=report_dir, keep_report=report_dir is None, force=force)
    if not closed.closed:
        r = closed.readiness
        if as_json:
            _print_json({"experiment_id": experiment_id, "closed": False, "round_no": r.round_no, "impressions": dict(r.impressions),
                         "needed": r.needed, "minutes_open": round(r.minutes_open, 1), "max_minutes": r.max_minutes,
                         "message": closed.summary()})
            return
        click.echo(closed.summary())
        return
    link = report_link(closed.report, experiment_id, closed.result.round_no, home=ws.home)  # a URL when CREATIVE_WEB_URL is set
    if as_json:
        _print_json({**closed.result.to_dict(), "closed": True, "ingested": {"files": closed.ingested.files, "accepted": closed.ingested.accepted,
                     "rejected": dict(closed.ingested.rejected)}, "tags": len(closed.tags.result.tags),
                     "report": str(closed.report) if closed.report else None, "report_link": link})
        return
    click.echo("\n".join(_round_lines(closed.result)))
    click.echo(f"  {closed.intake()}; {len(closed.tags.result.tags)} user tags stored" + (f"; report {link}" if link else ""))


def _lifecycle_command(step: str, doc: str):
    @experiment_group.command(step, help=doc)
    @click.argument("experiment_id")
    @json_option
    @click.pass_context
    def command(ctx, experiment_id, as_json):
        from creative import services

        change = getattr(services, f"{step}_experiment")(workspace_of(ctx), experiment_id)
        if as_json:
            _print_json(change.to_dict())
            return
        click.echo(change.summary())

    return command


stop = _lifecycle_command("stop", "Stop a running or paused experiment now: no more rounds (no winner is declared).")
pause = _lifecycle_command("pause", "Pause a running experiment: serving keeps its current allocation, no round closes.")
resume = _lifecycle_command("resume", "Resume a paused experiment: rounds close again as data arrives.")
archive = _lifecycle_command("archive", "Archive an ended experiment: read-only, hidden from `status --all`.")


@experiment_group.command("status")
@click.argument("experiment_id", required=False)
@click.option("--all", "all_", is_flag=True, help="List every experiment (archived ones with --archived).")
@click.option("--archived", is_flag=True, help="Include archived experiments in the list.")
@json_option
@click.pass_context
def status(ctx, experiment_id, all_, archived, as_json):
    """Show an experiment's state, open round and cumulative counts (or list all with --all)."""
    from creative.services import list_experiments
    from experiments.store import ExperimentStore

    store = ExperimentStore(_engine(ctx))
    if all_ or not experiment_id:
        rows = list_experiments(workspace_of(ctx), archived=archived)
        if as_json:
            _print_json([{"experiment_id": s.experiment_id, "name": s.name, "status": s.status, "current_round": s.current_round,
                          "policy": s.policy, "winner": s.winner, "arms": len(s.arms)} for s in rows])
            return
        for s in rows:
            click.echo(f"{s.experiment_id}  {s.name}  {s.status}  round {s.current_round}  {len(s.arms)} arms  policy {s.policy}" + (f"  winner {s.winner}" if s.winner else ""))
        if not rows:
            click.echo("no experiments yet; create one with `creative experiment create --manifest DIR/manifest.json`")
        return
    s = store.status(experiment_id)
    if as_json:
        _print_json(s.to_dict())
        return
    click.echo(f"{s.experiment_id} {s.name!r}: {s.status}, policy {s.policy}, open round {s.current_round} "
               f"({s.open_round_impressions} impressions, {s.open_round_clicks} clicks so far), last decision {s.last_decision or '-'}"
               + (f", winner {s.winner}" if s.winner else ""))
    for a in sorted(s.arms, key=lambda a: -a.ctr)[:40]:
        click.echo(f"  {a.creative_id:<24} {a.state:<9}{a.impressions:>9}{a.clicks:>8}{100 * a.ctr:>7.2f}%  share {s.allocation.get(a.creative_id, 0.0):.3f}")


@experiment_group.command("report")
@click.argument("experiment_id")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Directory for index.html and its plots.")
@json_option
@click.pass_context
def report(ctx, experiment_id, out, as_json):
    """Write an HTML report: CTR and intervals over rounds, allocation, element effects, stored tags."""
    from creative.services.rounds import experiment_report

    path = experiment_report(workspace_of(ctx), experiment_id, Path(out))
    if as_json:
        _print_json({"experiment_id": experiment_id, "report": str(path)})
        return
    click.echo(str(path))


@experiment_group.command("effects")
@click.argument("experiment_id")
@click.option("--propose", type=int, default=6, show_default=True, help="How many element combinations to propose for the next batch.")
@json_option
@click.pass_context
def effects(ctx, experiment_id, propose, as_json):
    """Which elements drive CTR (with intervals), and the next batch's combinations."""
    from experiments.effects import attribute_space, fit_effects, propose_combinations
    from experiments.store import ExperimentStore

    store = ExperimentStore(_engine(ctx))
    arms = store.arms(experiment_id)
    counts = {s.creative_id: (s.impressions, s.clicks) for s in store.snapshots(experiment_id)}
    if not any(n for n, _ in counts.values()):
        raise CreativeError(f"experiment {experiment_id} has no impressions yet; ingest events with `creative experiment ingest {experiment_id} FILE`")
    result = fit_effects(arms, counts)
    proposals = propose_combinations(result, attribute_space(arms), n=propose, exclude=[a.attributes for a in arms])
    if as_json:
        _print_json({**result.to_dict(), "proposals": [asdict(p) for p in proposals]})
        return
    click.echo("\n".join(_effects_lines(result)))
    if not proposals:
        click.echo("no untried combination to propose: every combination of these elements is already an arm")
        return
    click.echo("\n".join(_proposal_lines(proposals)))


def _effects_lines(result) -> list[str]:
    """One aligned row per element value: its effect on the log-odds of a click against the attribute's baseline value."""
    def label(e) -> str:
        return f"{e.attribute}={e.value}" if e.value is not None else f"{e.attribute} (+1 sd)"

    effects = result.ranked()
    width = max([len(label(e)) for e in effects] + [len("element")])
    base = max([len(str(e.baseline)) for e in effects if e.baseline is not None] + [len("vs")])
    lines = [f"element effects over {result.arms} arms, {result.impressions} impressions, {result.clicks} clicks "
             "(log-odds against the baseline value; * = the 95% interval excludes 0)",
             f"  {'element':<{width}}  {'vs':<{base}}  {'effect':>7}  {'95% interval':>16}  {'odds':>6}  {'P(>0)':>5}  {'impr':>8}  {'CTR':>6}"]
    for e in effects:
        lines.append(f"  {label(e):<{width}}  {'' if e.baseline is None else str(e.baseline):<{base}}  {e.coef:>+6.3f}{'*' if e.credible else ' '}"
                     f"  {f'{e.ci_low:+.3f} to {e.ci_high:+.3f}':>16}  x{e.odds_ratio:>5.2f}  {e.p_positive:>5.2f}  {e.impressions:>8}"
                     f"  {100 * e.ctr:>5.2f}%")
    return lines


def _proposal_lines(proposals) -> list[str]:
    lines = ["proposed for the next batch (predicted CTR, 95% interval):"]
    for rank, p in enumerate(proposals, 1):
        lines.append(f"  {rank}. {100 * p.predicted_ctr:.2f}% ({100 * p.ci_low:.2f}-{100 * p.ci_high:.2f}%), {p.why}")
        lines.append("     " + "  ".join(f"{k}={v}" for k, v in p.attributes.items()))
    return lines


@experiment_group.command("simulate")
@click.argument("experiment_id")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="JSONL file to write.")
@click.option("--impressions", type=int, default=10_000, show_default=True)
@click.option("--users", type=int, default=2_000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@json_option
@click.pass_context
def simulate(ctx, experiment_id, out, impressions, users, seed, as_json):
    """Write synthetic events for the experiment's current allocation (demo traffic with known truth)."""
    import numpy as np

    from experiments.simulator import Audience
    from experiments.store import ExperimentStore

    store = ExperimentStore(_engine(ctx))
    status = store.status(experiment_id)
    arms = store.arms(experiment_id)
    audience = Audience(users, seed=seed)
    n = 0
    with open(out, "w", encoding="utf-8") as handle:
        for ev in audience.events(experiment_id, arms, status.allocation, impressions, rng=np.random.default_rng(seed + status.current_round),
                                  id_prefix=f"sim{seed}-r{status.current_round}-"):
            handle.write(json.dumps(ev) + "\n")
            n += 1
    if as_json:
        _print_json({"file": out, "events": n, "true_ctr": audience.true_ctr(arms)})
        return
    click.echo(f"wrote {n} events to {out}")


@experiment_group.command("validate")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Directory for validation.html.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--quick", is_flag=True, help="Fewer runs (a demo, not the test figures).")
@json_option
def validate(out, seed, quick, as_json):
    """Run the seeded validations (A/A, power, regret, tags) and write their HTML report."""
    from experiments.report import write_validation_report
    from experiments.validation import run_validation

    summary = run_validation(seed, quick=quick)
    path = write_validation_report(summary, out)
    if as_json:
        _print_json({"report": str(path), **summary.to_dict(), "checks": [{"claim": c, "figure": f, "holds": ok} for c, f, ok in summary.checks()]})
        return
    for claim, figure, ok in summary.checks():
        click.echo(f"{'ok ' if ok else 'NO '} {claim}: {figure}")
    click.echo(str(path))


@click.group("tags", context_settings={"help_option_names": ["-h", "--help"]})
def tags_group() -> None:
    """User preference tags learned from experiments."""


@tags_group.command("export")
@click.argument("experiment_id")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="File to write (.csv or .json).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default=None, help="Default: from the file's suffix.")
@json_option
@click.pass_context
def export(ctx, experiment_id, out, fmt, as_json):
    """Export the user preference tags stored at the last round, for a customer-data platform.

    Their thresholds are experiment settings (`--set tag_min_impressions=20 --set tag_min_probability=0.8` at create)."""
    from experiments.tag_store import latest_tags
    from experiments.tags import export_tags

    engine = _engine(ctx)
    workspace_of(ctx).experiments.config(experiment_id)  # an unknown experiment says how to find one
    stored = latest_tags(engine, experiment_id)
    path = export_tags(stored.result, out, fmt=fmt, experiment_id=experiment_id)
    if as_json:
        _print_json({"file": str(path), "tags": len(stored.result.tags), "users": stored.users, "round": stored.round_no,
                     "prior": asdict(stored.result.prior)})
        return
    after = f"after round {stored.round_no}" if stored.round_no else "no round has closed yet"
    click.echo(f"wrote {len(stored.result.tags)} tag(s) for {stored.users} user(s) to {path} ({after})")
