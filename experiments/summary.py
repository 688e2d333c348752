"""What a marketer reads first: lift against a reference with its interval, P(best), a one-sentence
verdict, results per placement and element effects in plain words.

Pure: counts and stored round figures in, dataclasses and sentences out. The web page and the HTML
report both build their results from `summarise`, so they say the same thing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from scipy import stats as st

from experiments.effects import ElementEffect
from experiments.errors import InvalidExperiment
from experiments.model import ArmState, AttributeValue, CreativeArm, ExperimentConfig, ExperimentState, ExperimentStatus, RoundResult
from experiments.stats.bayesian import BayesianConfig, BetaPrior, compare
from experiments.stats.proportion import ProportionStatistic

LEVEL = 0.95
POWER = 0.8  # for "need about N more impressions": a fixed-horizon z-test at the experiment's alpha
DETECTABLE_LIFT = 0.10  # the smallest relative difference the estimate of N aims to tell apart
CHART_TOP = 8  # series drawn per chart; the rest are pooled into "others"
REFERENCES = ("control", "best")  # or a creative id

# The creative choices a marketer makes, in their words: effects are shown and users tagged (experiments.tags) on
# these only; every other attribute is technical (title_px, aspect_class) or a product fact (brand, category).
CREATIVE_CHOICES: Mapping[str, str] = {
    "template": "Template", "title_style": "Title style", "colour_family": "Colour", "background_kind": "Background",
    "has_model": "Model", "has_price_badge": "Price badge", "logo_position": "Logo position",
}

WINNER = "{winner} beats the others: {lift} clicks vs the next best, {other} ({interval}); promote it."
WINNER_PLAIN = "{winner} won; promote it."
ON_HOLD = "On hold: traffic did not follow the planned split (sample-ratio mismatch), so no creative can be called better until serving is fixed."
NO_DATA = "No data yet: serve the experiment to collect impressions."
NO_CLICKS = "No winner yet: not enough clicks to compare after {impressions} impressions; keep serving."
LEADING = "No winner yet: {leader} leads with {lift} clicks vs the next best, {other} ({interval}); need about {more} more impressions."
LEADING_CLOSE = "No winner yet: {leader} leads with {lift} clicks vs the next best, {other} ({interval}); a few more rounds should decide."
ENDED_PLAIN = "Ended with no winner: the creatives could not be told apart."
ENDED = "Ended with no winner: {leader} led with {lift} clicks vs the next best, {other} ({interval}), not enough to call it."


@dataclass(frozen=True)
class Lift:
    """Relative change in click-through rate against a reference: 0.18 is +18% clicks per impression."""

    estimate: float
    low: float
    high: float
    level: float = LEVEL

    @property
    def credible(self) -> bool:
        return self.low > 0 or self.high < 0

    @property
    def text(self) -> str:
        return signed_pct(self.estimate)

    @property
    def interval(self) -> str:
        return f"{round(100 * self.level)}% interval {signed_pct(self.low)} to {signed_pct(self.high)}"


def signed_pct(x: float) -> str:
    """+18%, -6%, +4.2%: whole percents, one decimal under 10%."""
    p = 100 * x
    return f"{p:+.1f}%" if abs(p) < 10 else f"{p:+.0f}%"


def relative_lift(arm: ProportionStatistic, reference: ProportionStatistic, level: float = LEVEL) -> Lift | None:
    """CTR ratio minus one with the Katz log interval (as scipy's relative_risk); None while either side has no click."""
    if not (arm.clicks and reference.clicks):
        return None
    ratio = arm.mean / reference.mean
    se = math.sqrt(1 / arm.clicks - 1 / arm.n + 1 / reference.clicks - 1 / reference.n)
    z = st.norm.ppf(0.5 + level / 2)
    return Lift(ratio - 1, ratio * math.exp(-z * se) - 1, ratio * math.exp(z * se) - 1, level)


def impressions_needed(ctr_a: float, ctr_b: float, *, alpha: float, power: float = POWER, min_lift: float = DETECTABLE_LIFT) -> int:
    """Impressions per creative for a two-sided two-proportion z-test to tell `ctr_a` from `ctr_b` with `power`.

    The gap is at least `min_lift` of the lower CTR, so two equal creatives give a finite answer."""
    low, high = sorted((ctr_a, ctr_b))
    high = max(high, low * (1 + min_lift))
    z = st.norm.ppf(1 - alpha / 2) + st.norm.ppf(power)
    return math.ceil(z * z * (low * (1 - low) + high * (1 - high)) / (high - low) ** 2)


def about(n: int) -> str:
    """12,000 rather than 11,873: the estimate is rough, the reader needs its size."""
    if n < 100:
        return str(n)
    digits = 10 ** (len(str(n)) - 2)
    return f"{round(n / digits) * digits:,}"


def banner_name(index: int) -> str:
    """Banner A … Z, AA, AB …: short names a person can say, in the experiment's arm order."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return f"Banner {letters}"


@dataclass(frozen=True)
class ArmFigures:
    """One creative's figures as given: counts, and P(best) when a closed round stored it."""

    creative_id: str
    impressions: int
    clicks: int
    p_best: float | None = None
    placement: str | None = None
    template: str | None = None
    state: str = "active"
    share: float = 0.0


@dataclass(frozen=True)
class ArmLine:
    """One creative's row: a name a person can say, its CTR, lift against the reference and P(best)."""

    creative_id: str
    name: str
    detail: str  # "hero, 300x250": template and placement
    placement: str | None
    state: str
    impressions: int
    clicks: int
    p_best: float
    lift: Lift | None
    reference: bool
    share: float

    @property
    def label(self) -> str:
        return f"{self.name} ({self.detail})" if self.detail else self.name

    @property
    def ctr(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0

    @property
    def stat(self) -> ProportionStatistic:
        return ProportionStatistic(self.impressions, self.clicks)


@dataclass(frozen=True)
class Verdict:
    kind: str  # winner | leading | ended | on_hold | no_data
    text: str


@dataclass(frozen=True)
class PlacementResult:
    placement: str
    verdict: Verdict
    lines: tuple[ArmLine, ...]  # best first; P(best) within the placement


@dataclass(frozen=True)
class ResultsSummary:
    verdict: Verdict
    reference: str | None  # the creative id lifts are measured against
    vs: str  # "control", "best" or a chosen creative id
    lines: tuple[ArmLine, ...]  # best first
    placements: tuple[PlacementResult, ...]  # one per size when there are several

    @property
    def control_name(self) -> str:
        return banner_name(0)

    @property
    def names(self) -> dict[str, str]:
        return {line.creative_id: line.name for line in self.lines}


def _lines(arms: Sequence[ArmFigures], names: Mapping[str, str], vs: str, config: ExperimentConfig) -> tuple[list[ArmLine], str | None]:
    p_best = [a.p_best for a in arms]
    if any(p is None for p in p_best):  # no stored figure for some: all from the counts, so they sum to one
        bayes = BayesianConfig(BetaPrior(config.prior_alpha, config.prior_beta), draws=config.draws, seed=config.seed)
        p_best = list(compare([ProportionStatistic(a.impressions, a.clicks) for a in arms], bayes).p_best)
    order = sorted(range(len(arms)), key=lambda i: (-p_best[i], -(arms[i].clicks + 1) / (arms[i].impressions + 2)))
    by_id = {a.creative_id: a for a in arms}
    if vs == "best":
        reference = arms[order[0]].creative_id if arms else None
    elif vs in by_id:
        reference = vs
    else:  # the control: the first creative, or the first of this placement when the chosen one is elsewhere
        reference = arms[0].creative_id if arms else None
    ref = by_id[reference] if reference else None
    lines = []
    for i in order:
        a = arms[i]
        lift = None if ref is None or a.creative_id == reference else relative_lift(
            ProportionStatistic(a.impressions, a.clicks), ProportionStatistic(ref.impressions, ref.clicks))
        lines.append(ArmLine(a.creative_id, names[a.creative_id], ", ".join(x for x in (a.template, a.placement) if x), a.placement, a.state,
                             a.impressions, a.clicks, float(p_best[i]), lift, a.creative_id == reference, a.share))
    return lines, reference


def verdict(lines: Sequence[ArmLine], *, winner: str | None, ended: bool, srm_alarm: bool, config: ExperimentConfig) -> Verdict:
    """One sentence: who wins and by how much, or why nobody does yet and what it takes. `lines` best first.

    The leader is measured against the next best: "beats the others" is decided there, and a control
    starved of traffic would only give a wide interval."""
    impressions = sum(line.impressions for line in lines)
    if srm_alarm:
        return Verdict("on_hold", ON_HOLD)
    if not impressions:
        return Verdict("no_data", NO_DATA)
    won = winner is not None and any(line.creative_id == winner for line in lines)
    leader = next(line for line in lines if line.creative_id == winner) if won else lines[0]
    rivals = [line for line in lines if line.creative_id != leader.creative_id and line.impressions]
    other = rivals[0] if rivals else None
    lift = relative_lift(leader.stat, other.stat) if other else None
    if lift is None:
        if won:
            return Verdict("winner", WINNER_PLAIN.format(winner=leader.label))
        if ended:
            return Verdict("ended", ENDED_PLAIN)
        return Verdict("leading", NO_CLICKS.format(impressions=f"{impressions:,}"))
    words = {"lift": lift.text, "other": other.name, "interval": lift.interval}
    if won:
        return Verdict("winner", WINNER.format(winner=leader.label, **words))
    if ended:
        return Verdict("ended", ENDED.format(leader=leader.label, **words))
    # how long until the leader and the next best can be told apart
    per_arm = impressions_needed(leader.ctr, other.ctr, alpha=config.alpha)
    active = [line for line in lines if line.state != "retired"]
    more = sum(max(0, per_arm - line.impressions) for line in active)
    if more == 0:
        return Verdict("leading", LEADING_CLOSE.format(leader=leader.label, **words))
    return Verdict("leading", LEADING.format(leader=leader.label, more=about(more), **words))


def summarise(arms: Sequence[ArmFigures], *, config: ExperimentConfig, winner: str | None = None, ended: bool = False,
              srm_alarm: bool = False, vs: str = "control") -> ResultsSummary:
    """Lines best first with lift against `vs` ("control" = the first creative, "best", or a creative id), the verdict,
    and per placement (size) the same again when the experiment has several."""
    ids = {a.creative_id for a in arms}
    if vs not in REFERENCES and vs not in ids:
        raise InvalidExperiment(f"compare with 'control', 'best' or one of the experiment's creatives, not {vs!r}")
    names = {a.creative_id: banner_name(i) for i, a in enumerate(arms)}
    lines, reference = _lines(arms, names, vs, config)
    overall = verdict(lines, winner=winner, ended=ended, srm_alarm=srm_alarm, config=config)
    groups: dict[str, list[ArmFigures]] = {}
    for a in arms:
        groups.setdefault(a.placement or "any size", []).append(a)
    placements = []
    if len(groups) > 1:
        for placement, members in groups.items():
            own = [ArmFigures(a.creative_id, a.impressions, a.clicks, None, a.placement, a.template, a.state, a.share) for a in members]
            group_lines, _ = _lines(own, names, vs, config)
            placements.append(PlacementResult(placement, verdict(group_lines, winner=winner, ended=ended, srm_alarm=srm_alarm, config=config),
                                              tuple(group_lines)))
    return ResultsSummary(overall, reference, vs, tuple(lines), tuple(placements))


def experiment_summary(status: ExperimentStatus, arms: Sequence[CreativeArm], history: Sequence[RoundResult],
                       vs: str = "control") -> ResultsSummary:
    """The summary as the last closed round stored it (counts and P(best)); before any round, the counts so far."""
    last = {a.creative_id: a for a in history[-1].arms} if history else {}
    now = {s.creative_id: s for s in status.arms}
    figures = []
    for arm in arms:
        closed, snap = last.get(arm.id), now.get(arm.id)
        n, c = (closed.impressions, closed.clicks) if closed else (snap.impressions, snap.clicks) if snap else (0, 0)
        figures.append(ArmFigures(arm.id, n, c, closed.p_best if closed else None, arm.size, arm.template,
                                  snap.state if snap else ArmState.ACTIVE, float(status.allocation.get(arm.id, 0.0))))
    ended = ExperimentState(status.status).concluded
    return summarise(figures, config=ExperimentConfig.from_dict(status.config), winner=status.winner, ended=ended,
                     srm_alarm=bool(history) and history[-1].srm.alarm, vs=vs)


# ---- element effects in plain words ------------------------------------------------------------------
@dataclass(frozen=True)
class ChoiceEffect:
    """An element effect as a marketer reads it: a creative choice, and the % change in clicks it brings."""

    choice: str
    value: str
    baseline: str
    change: float  # odds ratio - 1: at CTRs of a few percent, the relative change in clicks
    low: float
    high: float
    p_better: float
    impressions: int

    @property
    def credible(self) -> bool:
        return self.low > 0 or self.high < 0

    @property
    def sentence(self) -> str:
        return (f"{self.choice} {self.value} instead of {self.baseline}: {signed_pct(self.change)} clicks "
                f"({round(100 * LEVEL)}% interval {signed_pct(self.low)} to {signed_pct(self.high)})")


def choice_value(value: AttributeValue | None) -> str:
    if isinstance(value, bool):
        return "shown" if value else "not shown"
    if value is None:
        return "none"
    return str(value).replace("_", " ").replace("-", " ")


def choice_effects(effects: Sequence[ElementEffect]) -> list[ChoiceEffect]:
    """Effects of creative choices only, biggest gain first; intervals on the same % scale as the estimate."""
    out = [ChoiceEffect(CREATIVE_CHOICES[e.attribute], choice_value(e.value), choice_value(e.baseline), math.expm1(e.coef),
                        math.expm1(e.ci_low), math.expm1(e.ci_high), e.p_positive, e.impressions)
           for e in effects if e.attribute in CREATIVE_CHOICES and e.value is not None]
    return sorted(out, key=lambda c: -c.change)


def describe_choices(attributes: Mapping[str, AttributeValue]) -> str:
    """A combination of attributes as its creative choices: 'Template hero, Price badge shown'."""
    return ", ".join(f"{CREATIVE_CHOICES[k]} {choice_value(v)}" for k, v in attributes.items() if k in CREATIVE_CHOICES)


# ---- charts that stay legible with many creatives ----------------------------------------------------
@dataclass(frozen=True)
class ChartSeries:
    """Per series name, (round, value) points: the top creatives by name and the rest pooled as 'others'."""

    traffic: dict[str, list[tuple[int, float]]]  # share of the round's impressions
    ctr: dict[str, list[tuple[int, float]]]  # cumulative click-through rate at the round's close


def chart_series(history: Sequence[RoundResult], summary: ResultsSummary, top: int = CHART_TOP) -> ChartSeries:
    """Per round, the share of impressions each creative got and its CTR so far: the best `top` creatives plus 'others'.

    Served shares, not allocations: allocations are per placement and do not add up across sizes."""
    names = summary.names
    groups = [(names[line.creative_id], [line.creative_id]) for line in summary.lines[:top]]
    rest = [line.creative_id for line in summary.lines[top:]]
    if rest:
        groups.append((f"others ({len(rest)})", rest))
    traffic: dict[str, list[tuple[int, float]]] = {name: [] for name, _ in groups}
    ctr: dict[str, list[tuple[int, float]]] = {name: [] for name, _ in groups}
    for r in history:
        arms = {a.creative_id: a for a in r.arms}
        served = sum(a.round_impressions for a in r.arms)
        for name, ids in groups:
            members = [arms[i] for i in ids if i in arms]
            if served:
                traffic[name].append((r.round_no, sum(a.round_impressions for a in members) / served))
            n = sum(a.impressions for a in members)
            if n:
                ctr[name].append((r.round_no, sum(a.clicks for a in members) / n))
    return ChartSeries(traffic, ctr)
