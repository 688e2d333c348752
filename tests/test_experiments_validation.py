"""The issue's validation figures, seeded, through the same decision and policy code a real round runs.

Each figure simulates hundreds of experiments (marked slow); the report test runs the same code small in the fast run.
"""

import pytest

from experiments.validation import aa_cell, aa_false_positive_rate, regret_comparison, tag_recovery, upper_bound, winner_detection_rate


@pytest.mark.slow
def test_aa_experiments_looked_at_fifty_times_keep_false_positives_at_or_below_five_percent():
    result = aa_false_positive_rate(runs=200, looks=50, seed=0)
    print(f"A/A over 50 looks: sequential {result.false_positive_rate:.1%}, naive z-test {result.naive_false_positive_rate:.1%}")
    assert result.false_positive_rate <= 0.05
    # the naive z-test, peeking the same way, is the problem the sequential rule solves
    assert result.naive_false_positive_rate >= 0.15


def test_bandits_keep_aa_false_positives_at_or_below_five_percent_with_late_events_and_arms_added_mid_experiment():
    # 8 arms + 2 joining at look 25, 10% of impressions a round late, 50 looks: the full table is benchmarks/validation_bench.py
    cells = [aa_cell(policy, 8, runs=40, late_share=0.1, added=2, seed=500) for policy in ("fixed", "thompson", "top-two")]
    for cell in cells:
        print(f"A/A {cell.policy}, 8+2 arms: {cell.false_positives}/{cell.runs}")
        assert cell.rate <= 0.05
    # all 120 runs together: the 95% upper bound on the false-positive rate, not only the point estimate
    assert upper_bound(sum(c.false_positives for c in cells), sum(c.runs for c in cells)) <= 0.05


@pytest.mark.slow
def test_a_twenty_percent_better_arm_among_eight_is_promoted_in_at_least_ninety_percent_of_runs():
    result = winner_detection_rate(runs=60, arms=8, lift=0.2, seed=1000)
    print(f"+20% among 8: correct {result.correct_rate:.1%}, wrong {result.wrong_rate:.1%}, median round {result.median_round}")
    assert result.correct_rate >= 0.9
    assert result.wrong_rate <= 0.05


@pytest.mark.slow
def test_thompson_and_top_two_lose_fewer_clicks_than_a_fixed_split():
    result = regret_comparison(runs=20, seed=2000)
    print("regret (lost clicks):", result.mean_regret)
    assert result.mean_regret["thompson"] < result.mean_regret["fixed"]
    assert result.mean_regret["top-two"] < result.mean_regret["fixed"]


@pytest.mark.slow
def test_preference_tags_recover_planted_preferences_with_precision_of_at_least_point_eight():
    result = tag_recovery(users=2000, creatives=36, impressions_per_user=1000, seed=3)
    print(f"tags: precision {result.precision:.2f}, recall {result.recall:.2f}, {result.tags} tags for {result.planted} planted")
    assert result.precision >= 0.8
    assert result.recall >= 0.3


def test_the_validation_report_shows_each_figure_and_whether_it_holds(tmp_path):
    from experiments.report import write_validation_report
    from experiments.validation import ValidationSummary

    summary = ValidationSummary(
        aa=aa_false_positive_rate(runs=10, looks=10, seed=0),
        winner=winner_detection_rate(runs=4, rounds=20, seed=1000),
        regret=regret_comparison(runs=2, rounds=5, seed=2000),
        tags=tag_recovery(users=300, impressions_per_user=600, seed=3),
    )
    page = write_validation_report(summary, tmp_path).read_text()
    for claim, figure, _ in summary.checks():
        assert claim.replace(">=", "&gt;=").replace("<=", "&lt;=") in page
    assert "naive z-test" in page and (tmp_path / "validation_aa.png").exists()
