"""The marketer's summary: lift and its interval, sample size, verdict wording, placements, effects in plain words."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st
from scipy.stats.contingency import relative_risk

from experiments.effects import fit_effects
from experiments.errors import InvalidExperiment
from experiments.model import ArmRoundStats, CreativeArm, Decision, ExperimentConfig, RoundResult, SRMSummary
from experiments.stats.proportion import ProportionStatistic
from experiments.summary import (
    ArmFigures,
    about,
    banner_name,
    chart_series,
    choice_effects,
    describe_choices,
    impressions_needed,
    relative_lift,
    signed_pct,
    summarise,
)

CONFIG = ExperimentConfig()


def test_lift_and_its_interval_match_scipys_relative_risk():
    for arm, ref in [((5000, 200), (5000, 100)), ((1200, 31), (900, 40)), ((80, 3), (20000, 450))]:
        lift = relative_lift(ProportionStatistic(*arm), ProportionStatistic(*ref))
        rr = relative_risk(arm[1], arm[0], ref[1], ref[0])
        ci = rr.confidence_interval(0.95)
        assert lift.estimate == pytest.approx(rr.relative_risk - 1, rel=1e-12)
        assert (lift.low, lift.high) == (pytest.approx(ci.low - 1, rel=1e-9), pytest.approx(ci.high - 1, rel=1e-9))


def test_no_lift_before_both_sides_have_a_click():
    assert relative_lift(ProportionStatistic(500, 0), ProportionStatistic(500, 9)) is None
    assert relative_lift(ProportionStatistic(500, 9), ProportionStatistic(0, 0)) is None


def test_impressions_needed_gives_the_asked_power_and_not_much_more():
    for a, b in [(0.10, 0.12), (0.02, 0.025), (0.05, 0.05)]:
        n = impressions_needed(a, b, alpha=0.05)
        low, high = min(a, b), max(max(a, b), min(a, b) * 1.1)

        def power(m):
            se = math.sqrt((low * (1 - low) + high * (1 - high)) / m)
            return st.norm.cdf((high - low) / se - st.norm.ppf(0.975))

        assert power(n) >= 0.8 > power(n - 1)
    assert impressions_needed(0.10, 0.12, alpha=0.05) == 3839  # the textbook example


def test_numbers_read_like_a_person_wrote_them():
    assert [signed_pct(x) for x in (0.183, -0.06, 0.0423, 1.0)] == ["+18%", "-6.0%", "+4.2%", "+100%"]
    assert [about(n) for n in (57, 1234, 11873, 250_400)] == ["57", "1,200", "12,000", "250,000"]
    assert [banner_name(i) for i in (0, 1, 25, 26, 39)] == ["Banner A", "Banner B", "Banner Z", "Banner AA", "Banner AN"]


def arms(*counts, size="300x250", template="hero", p_best=None):
    return [ArmFigures(f"id-{size}-{i}", n, c, None if p_best is None else p_best[i], size, template) for i, (n, c) in enumerate(counts)]


def test_a_promoted_winner_gets_one_sentence_with_its_lift_and_interval():
    figures = arms((5000, 100), (5000, 200), (5000, 110), p_best=[0.0, 0.99, 0.01])
    s = summarise(figures, config=CONFIG, winner="id-300x250-1", ended=True)
    lift = relative_lift(ProportionStatistic(5000, 200), ProportionStatistic(5000, 110))  # against the next best
    assert s.verdict.kind == "winner"
    assert s.verdict.text == (f"Banner B (hero, 300x250) beats the others: +82% clicks vs the next best, Banner C "
                              f"(95% interval {signed_pct(lift.low)} to {signed_pct(lift.high)}); promote it.")
    assert [line.name for line in s.lines] == ["Banner B", "Banner C", "Banner A"]  # best first, names in arm order
    assert s.lines[0].lift == relative_lift(ProportionStatistic(5000, 200), ProportionStatistic(5000, 100))  # the table: vs the control
    assert s.lines[2].reference and s.lines[2].lift is None
    assert [line.p_best for line in s.lines] == [0.99, 0.01, 0.0]  # the stored figures, as given


def test_lift_against_the_current_best_or_a_chosen_creative():
    figures = arms((5000, 100), (5000, 200), (5000, 110), p_best=[0.0, 0.99, 0.01])
    best = summarise(figures, config=CONFIG, vs="best")
    assert best.reference == "id-300x250-1" and best.lines[1].lift.estimate == pytest.approx(110 / 200 - 1)
    chosen = summarise(figures, config=CONFIG, vs="id-300x250-2")
    assert chosen.reference == "id-300x250-2" and chosen.lines[0].lift.estimate == pytest.approx(200 / 110 - 1)
    with pytest.raises(InvalidExperiment, match="compare with 'control', 'best'"):
        summarise(figures, config=CONFIG, vs="nobody")


def test_no_winner_yet_says_how_many_more_impressions_are_needed():
    figures = arms((1000, 20), (1000, 24), (1000, 19))
    s = summarise(figures, config=CONFIG)
    per_arm = impressions_needed(24 / 1000, 20 / 1000, alpha=CONFIG.alpha)  # leader against its closest rival
    assert s.verdict.kind == "leading"
    assert s.verdict.text.startswith("No winner yet: Banner B (hero, 300x250) leads with +20% clicks vs the next best, Banner A (95% interval ")
    assert s.verdict.text.endswith(f"need about {about(3 * per_arm - 3000)} more impressions.")
    assert sum(line.p_best for line in s.lines) == pytest.approx(1.0)  # computed from the counts when none is stored


def test_verdicts_for_no_data_no_clicks_an_alarm_and_an_ending_without_winner():
    assert summarise(arms((0, 0), (0, 0)), config=CONFIG).verdict.text == "No data yet: serve the experiment to collect impressions."
    assert summarise(arms((300, 0), (280, 0)), config=CONFIG).verdict.text.startswith("No winner yet: not enough clicks to compare after 580 impressions")
    alarm = summarise(arms((5000, 100), (5000, 200)), config=CONFIG, srm_alarm=True).verdict
    assert alarm.kind == "on_hold" and "sample-ratio mismatch" in alarm.text
    ended = summarise(arms((5000, 100), (5000, 104)), config=CONFIG, ended=True).verdict
    assert ended.kind == "ended" and ended.text.startswith("Ended with no winner: Banner B (hero, 300x250) led with +4.0% clicks vs the next best, Banner A")


def test_results_per_placement_compare_creatives_within_their_size():
    figures = arms((4000, 80), (4000, 120)) + arms((4000, 40), (4000, 38), size="728x90")
    s = summarise(figures, config=CONFIG)
    assert [p.placement for p in s.placements] == ["300x250", "728x90"]
    wide = s.placements[1]
    assert [line.name for line in wide.lines] == ["Banner C", "Banner D"]  # names stay those of the whole experiment
    assert wide.lines[0].reference and wide.lines[0].lift is None  # its own control: the first creative of the size
    assert wide.lines[1].lift.estimate == pytest.approx(38 / 40 - 1)
    assert sum(line.p_best for line in wide.lines) == pytest.approx(1.0)
    assert wide.verdict.text.startswith("No winner yet: Banner C (hero, 728x90) leads")
    assert summarise(arms((10, 1), (10, 2)), config=CONFIG).placements == ()  # one size: the main table says it all


def test_element_effects_speak_of_creative_choices_only_as_change_in_clicks():
    rng = np.random.default_rng(3)
    creative_arms, counts = [], {}
    for i in range(24):
        badge, template = i % 2 == 0, ["hero", "split", "grid"][i % 3]
        creative_arms.append(CreativeArm(f"c{i}", {"has_price_badge": badge, "template": template, "title_px": 20 + (i // 6) % 4,
                                                   "title_lines": 1 + i // 12, "aspect_class": "square"}))
        n = 5000
        counts[f"c{i}"] = (n, int(rng.binomial(n, 0.03 if badge else 0.02)))
    effects = fit_effects(creative_arms, counts)
    plain = choice_effects(effects.effects)
    assert {c.choice for c in plain} == {"Price badge", "Template"}  # title_px, title_lines: technical, left out
    badge = next(c for c in plain if c.choice == "Price badge")
    raw = next(e for e in effects.effects if e.attribute == "has_price_badge")
    assert badge.change == pytest.approx(raw.odds_ratio - 1)
    assert (badge.low, badge.high) == (pytest.approx(math.exp(raw.ci_low) - 1), pytest.approx(math.exp(raw.ci_high) - 1))
    assert badge.credible and badge.low < badge.change < badge.high
    assert badge.sentence.startswith(f"Price badge {badge.value} instead of {badge.baseline}: {signed_pct(badge.change)} clicks (95% interval ")
    assert describe_choices({"template": "hero", "has_model": False, "title_px": 22, "logo_position": "top-left"}) == \
        "Template hero, Model not shown, Logo position top left"


def round_result(round_no, counts, served):
    arm_stats = tuple(ArmRoundStats(cid, "active", n, c, served[cid], 0, c / n if n else 0.0, 0, 0, 0, 0, 0, 0, 0)
                      for cid, (n, c) in counts.items())
    return RoundResult("exp", round_no, Decision("continue"), arm_stats, {}, SRMSummary(0, 1, False), 0, 0)


def test_charts_with_forty_creatives_show_the_top_eight_and_pool_the_others():
    counts = {f"id{i}": (1000, 10 + i) for i in range(40)}
    served = {cid: 25 for cid in counts}
    history = [round_result(1, counts, served), round_result(2, {k: (2 * n, 2 * c) for k, (n, c) in counts.items()}, served)]
    s = summarise([ArmFigures(cid, n, c) for cid, (n, c) in counts.items()], config=CONFIG)
    series = chart_series(history, s)
    assert list(series.ctr) == list(series.traffic) == [line.name for line in s.lines[:8]] + ["others (32)"]
    assert list(series.ctr)[0] == "Banner AN"  # the most clicks, arm 39
    assert all(sum(points[k][1] for points in series.traffic.values()) == pytest.approx(1.0) for k in range(2))
    assert series.traffic["others (32)"] == [(1, pytest.approx(32 / 40)), (2, pytest.approx(32 / 40))]
    pooled = sum(10 + i for i in range(32)) / 32_000
    assert series.ctr["others (32)"] == [(1, pytest.approx(pooled)), (2, pytest.approx(pooled))]
