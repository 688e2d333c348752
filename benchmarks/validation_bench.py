"""Validation benchmark: A/A false positives and power of every policy, seeded, through the real round code.

    .venv/bin/python benchmarks/validation_bench.py [--runs 200] [--power-runs 100] [--arms 2 8 16 32]

- A/A: arms with equal CTR (2%), 4,000 impressions per look, 50 looks; any promotion or retirement is a
  false positive. Two columns per cell: clean, and stressed (10% of impressions arriving one round late,
  a quarter more arms, at least one, joining at look 25). Each figure with its 95% Clopper-Pearson upper bound.
- power: one arm among 8 with +10/+20/+50% CTR, 20,000 impressions per look, 50 looks: share of runs
  promoting the right arm, a wrong one, and the median look of the promotion.
Target (issue 12): every A/A cell <= 5%.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from experiments.validation import aa_cell, power_table  # noqa: E402

POLICIES = ("fixed", "thompson", "top-two")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200, help="seeded A/A runs per cell")
    parser.add_argument("--power-runs", type=int, default=100, help="seeded runs per power cell")
    parser.add_argument("--arms", type=int, nargs="+", default=[2, 8, 16, 32])
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"A/A, {args.runs} runs x 50 looks per cell: false-positive rate (95% upper bound)")
    print("| policy | arms | clean | 10% late + arms added | target | met |")
    print("|---|---|---|---|---|---|")
    worst = 0.0
    for policy in POLICIES:
        for k in args.arms:
            clean = aa_cell(policy, k, runs=args.runs, seed=0)
            stressed = aa_cell(policy, k, runs=args.runs, late_share=0.1, added=max(1, k // 4), seed=10_000)
            worst = max(worst, clean.rate, stressed.rate)
            met = "yes" if max(clean.rate, stressed.rate) <= 0.05 else "NO"
            print(f"| {policy} | {k} (+{stressed.added}) | {clean.rate:.1%} ({clean.upper:.1%}) | {stressed.rate:.1%} ({stressed.upper:.1%}) | <= 5% | {met} |",
                  flush=True)
    print(f"\nPower, one arm better among 8, {args.power_runs} runs per cell")
    print("| policy | lift | right arm promoted | wrong arm | median look |")
    print("|---|---|---|---|---|")
    for cell in power_table(policies=POLICIES, runs=args.power_runs):
        print(f"| {cell.policy} | +{cell.lift:.0%} | {cell.correct_rate:.0%} | {cell.wrong_rate:.0%} | {cell.median_round:g} |", flush=True)
    print(f"\nworst A/A cell {worst:.1%}; {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
