"""Seeded validation of the engine against known truth, through the same code a real round runs.

Rounds are simulated on aggregates (multinomial impressions over the allocation, binomial clicks), then
passed to `decisions.evaluate_round` and the policies exactly as the store does after ingestion.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Sequence

import numpy as np
from scipy import special

from experiments.decisions import evaluate_round
from experiments.model import ArmSnapshot, ArmState, DecisionKind, ExperimentConfig, UserExposures
from experiments.policies import make_policy
from experiments.simulator import Audience, make_creatives
from experiments.stats.bayesian import BetaPrior
from experiments.tags import TagConfig, estimate_tags, precision_recall


@dataclass(frozen=True)
class SimulatedRun:
    decision: str
    round_no: int
    winner: str | None
    retired_best: bool
    retired_any: bool
    regret: float
    impressions: int


def simulate_experiment(true_ctr: Sequence[float], *, policy: str = "top-two", policy_params: dict | None = None,
                        config: ExperimentConfig = ExperimentConfig(), impressions_per_round: int = 20_000, rounds: int = 50,
                        seed: int = 0, decide: bool = True, late_share: float = 0.0, added: int = 0, added_at: int = 25) -> SimulatedRun:
    """One experiment over arms with CTRs `true_ctr` (arm ids "a0", "a1", ...), looked at every round.

    `late_share` of each round's impressions (and their clicks) arrive one round late: they count from the
    next round on, and the SRM check sees the impressions served this round that arrived, as the store
    does with events that carry their round of service. The last `added` arms join at look `added_at` with
    an equal share, the others giving it up in proportion (as `ExperimentStore.add_arms`).
    """
    rng = np.random.default_rng(seed)
    all_ids = [f"a{i}" for i in range(len(true_ctr))]
    ctr_all = np.asarray(true_ctr, dtype=float)
    best = float(ctr_all.max())
    pol = make_policy(policy, **(policy_params or {}))
    cfg = replace(config, max_rounds=rounds, seed=seed)
    k = len(all_ids) - added
    states = {i: ArmState.ACTIVE for i in all_ids}
    cum_n = np.zeros(len(all_ids), dtype=np.int64)
    cum_c = np.zeros(len(all_ids), dtype=np.int64)
    late_n = np.zeros(len(all_ids), dtype=np.int64)
    late_c = np.zeros(len(all_ids), dtype=np.int64)
    allocation = {i: 1.0 / k for i in all_ids[:k]}
    regret = 0.0
    retired_any = retired_best = False
    for r in range(1, rounds + 1):
        if added and r == added_at:
            live = [i for i in allocation if states[i] != ArmState.RETIRED]
            keep = 1.0 - added / (len(live) + added)
            allocation = {i: v * keep for i, v in allocation.items()} | {i: 1.0 / (len(live) + added) for i in all_ids[k:]}
            k = len(all_ids)
        ids, ctr = all_ids[:k], ctr_all[:k]
        shares = np.array([allocation.get(i, 0.0) for i in ids])
        n = rng.multinomial(impressions_per_round, shares / shares.sum())
        c = rng.binomial(n, ctr)
        regret += float((n * (best - ctr)).sum())
        n_late = rng.binomial(n, late_share) if late_share else np.zeros_like(n)
        c_late = rng.hypergeometric(c, n - c, n_late) if late_share else np.zeros_like(c)
        arrived_n, arrived_c = n - n_late + late_n[:k], c - c_late + late_c[:k]
        cum_n[:k] += arrived_n
        cum_c[:k] += arrived_c
        late_n[:k], late_c[:k] = n_late, c_late
        arms = [ArmSnapshot(i, states[i], int(cum_n[j]), int(cum_c[j]), int(n[j] - n_late[j]), int(arrived_c[j])) for j, i in enumerate(ids)]
        if not decide:
            allocation = pol.allocate(arms, rng, BetaPrior(cfg.prior_alpha, cfg.prior_beta))
            continue
        out = evaluate_round(arms, r, cfg, pol, allocation, rng)
        states.update({a.creative_id: a.state for a in out.arms})
        allocation = out.allocation_next
        kind = out.decision.kind
        retired_any = retired_any or bool(out.decision.retired) or kind == DecisionKind.PROMOTE
        retired_best = retired_best or (states[all_ids[int(np.argmax(ctr_all))]] == ArmState.RETIRED and len(set(true_ctr)) > 1)
        if kind.concludes:
            # the rest of the horizon is served by the winner, or by the allocation a stop without one keeps
            served = np.array([allocation.get(i, 0.0) for i in ids])
            regret += (rounds - r) * impressions_per_round * float((served / max(served.sum(), 1e-12) * (best - ctr)).sum())
            return SimulatedRun(kind, r, out.decision.winner, retired_best, retired_any, regret, int(cum_n.sum()))
    return SimulatedRun(DecisionKind.CONTINUE, rounds, None, retired_best, retired_any, regret, int(cum_n.sum()))


@dataclass(frozen=True)
class AAResult:
    runs: int
    looks: int
    arms: int
    false_positive_rate: float
    naive_false_positive_rate: float
    alpha: float


def aa_false_positive_rate(*, runs: int = 300, looks: int = 50, arms: int = 2, ctr: float = 0.02, impressions_per_look: int = 4_000,
                           alpha: float = 0.05, seed: int = 0) -> AAResult:
    """A/A: any promote or retire is a false positive. Sequential (default) rule beside the naive z-test."""
    base = ExperimentConfig(alpha=alpha, draws=200, min_impressions_per_arm=100)
    fp = {"sequential": 0, "naive": 0}
    for rule in fp:
        cfg = replace(base, rule=rule)
        for i in range(runs):
            run = simulate_experiment([ctr] * arms, policy="fixed", config=cfg, impressions_per_round=impressions_per_look,
                                      rounds=looks, seed=seed + i)
            fp[rule] += run.decision == DecisionKind.PROMOTE or run.retired_any
    return AAResult(runs, looks, arms, fp["sequential"] / runs, fp["naive"] / runs, alpha)


@dataclass(frozen=True)
class WinnerResult:
    runs: int
    arms: int
    lift: float
    correct_rate: float
    wrong_rate: float
    undecided_rate: float
    median_round: float
    policy: str


def winner_detection_rate(*, runs: int = 60, arms: int = 8, ctr: float = 0.02, lift: float = 0.2, rounds: int = 50,
                          impressions_per_round: int = 20_000, policy: str = "top-two", seed: int = 1000) -> WinnerResult:
    """One arm +lift among `arms`; how often the right one is promoted within `rounds` looks."""
    cfg = ExperimentConfig(draws=500)
    correct = wrong = 0
    when = []
    for i in range(runs):
        rng = np.random.default_rng(seed + i)
        winner_index = int(rng.integers(arms))
        ctrs = [ctr] * arms
        ctrs[winner_index] = ctr * (1 + lift)
        run = simulate_experiment(ctrs, policy=policy, policy_params=None if policy == "fixed" else {"draws": VALIDATION_POLICY_DRAWS},
                                  config=cfg, impressions_per_round=impressions_per_round, rounds=rounds, seed=seed + i)
        if run.decision == DecisionKind.PROMOTE:
            when.append(run.round_no)
            if run.winner == f"a{winner_index}":
                correct += 1
            else:
                wrong += 1
    return WinnerResult(runs, arms, lift, correct / runs, wrong / runs, (runs - correct - wrong) / runs,
                        float(np.median(when)) if when else float("nan"), policy)


def upper_bound(events: int, runs: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper confidence bound on a rate seen `events` times in `runs`."""
    return 1.0 if events >= runs else float(special.betaincinv(events + 1, runs - events, confidence))


@dataclass(frozen=True)
class AACell:
    """A/A false positives of one policy with `arms` arms (any promotion or retirement is one)."""

    policy: str
    arms: int
    late_share: float
    added: int
    runs: int
    false_positives: int

    @property
    def rate(self) -> float:
        return self.false_positives / self.runs

    @property
    def upper(self) -> float:
        return upper_bound(self.false_positives, self.runs)


# the validation runs the policies with fewer Monte Carlo draws than a real round (2,000) to fit hundreds of
# runs in minutes; allocation then resolves P(best) to 1/500 instead of 1/2,000
VALIDATION_POLICY_DRAWS = 500


def aa_cell(policy: str, arms: int, *, runs: int, looks: int = 50, ctr: float = 0.02, impressions_per_look: int = 4_000,
            late_share: float = 0.0, added: int = 0, seed: int = 0) -> AACell:
    """`runs` seeded A/A experiments: `arms` equal arms (plus `added` equal ones joining at look 25)."""
    cfg = ExperimentConfig(draws=200)
    params = None if policy == "fixed" else {"draws": VALIDATION_POLICY_DRAWS}
    fp = 0
    for i in range(runs):
        run = simulate_experiment([ctr] * (arms + added), policy=policy, policy_params=params, config=cfg, impressions_per_round=impressions_per_look,
                                  rounds=looks, seed=seed + i, late_share=late_share, added=added)
        fp += run.retired_any
    return AACell(policy, arms, late_share, added, runs, fp)


def aa_table(*, policies: Sequence[str] = ("fixed", "thompson", "top-two"), arm_counts: Sequence[int] = (2, 8, 16, 32), runs: int = 200,
             late_share: float = 0.0, add_quarter: bool = False, seed: int = 0) -> list[AACell]:
    """A/A false-positive rate per policy and arm count; `add_quarter` adds a quarter more arms (at least one) mid-experiment."""
    return [aa_cell(p, k, runs=runs, late_share=late_share, added=max(1, k // 4) if add_quarter else 0, seed=seed)
            for p in policies for k in arm_counts]


@dataclass(frozen=True)
class PowerCell:
    """One policy, one lift: share of runs promoting the better arm, a wrong one, and rounds to the promotion."""

    policy: str
    arms: int
    lift: float
    runs: int
    correct_rate: float
    wrong_rate: float
    median_round: float


def power_table(*, policies: Sequence[str] = ("fixed", "thompson", "top-two"), lifts: Sequence[float] = (0.1, 0.2, 0.5), arms: int = 8,
                runs: int = 100, rounds: int = 50, impressions_per_round: int = 20_000, seed: int = 1000) -> list[PowerCell]:
    """`winner_detection_rate` over policies x lifts, with the same seeds for every policy."""
    out = []
    for p in policies:
        for lift in lifts:
            w = winner_detection_rate(runs=runs, arms=arms, lift=lift, rounds=rounds, impressions_per_round=impressions_per_round, policy=p, seed=seed)
            out.append(PowerCell(p, arms, lift, runs, w.correct_rate, w.wrong_rate, w.median_round))
    return out


@dataclass(frozen=True)
class RegretResult:
    runs: int
    rounds: int
    impressions_per_round: int
    mean_regret: dict[str, float]  # lost clicks against always serving the best arm


def regret_comparison(*, runs: int = 20, arms: Sequence[float] = (0.02, 0.021, 0.022, 0.023, 0.024, 0.025, 0.026, 0.03),
                      rounds: int = 30, impressions_per_round: int = 5_000, seed: int = 2000,
                      policies: Sequence[str] = ("fixed", "thompson", "top-two")) -> RegretResult:
    """Allocation only (no decisions), same seeds for every policy."""
    cfg = ExperimentConfig(draws=500)
    out = {}
    for name in policies:
        total = 0.0
        for i in range(runs):
            total += simulate_experiment(list(arms), policy=name, config=cfg, impressions_per_round=impressions_per_round,
                                         rounds=rounds, seed=seed + i, decide=False).regret
        out[name] = total / runs
    return RegretResult(runs, rounds, impressions_per_round, out)


@dataclass(frozen=True)
class TagRecovery:
    users: int
    creatives: int
    impressions_per_user: int
    tags: int
    precision: float
    recall: float
    planted: int


def tag_recovery(*, users: int = 2000, creatives: int = 36, impressions_per_user: int = 1000, base_ctr: float = 0.02,
                 multiplier: float = 3.0, seed: int = 3, config: TagConfig = TagConfig()) -> TagRecovery:
    """Plant one preference in half the users, expose them uniformly, and score the tags."""
    arms = make_creatives(creatives, seed=seed)
    audience = Audience(users, base_ctr=base_ctr, preference_multiplier=multiplier, seed=seed)
    imps, clicks = audience.exposures(arms, impressions_per_user, np.random.default_rng(seed + 1))
    u, c = np.nonzero(imps)
    exposures = UserExposures(audience.users, tuple(a.id for a in arms), u, c, imps[u, c], clicks[u, c])
    result = estimate_tags(exposures, arms, config)
    planted = audience.planted_tags()
    precision, recall = precision_recall(result.tags, planted)
    return TagRecovery(users, creatives, impressions_per_user, len(result.tags), precision, recall, len(planted))


@dataclass(frozen=True)
class ValidationSummary:
    aa: AAResult
    winner: WinnerResult
    regret: RegretResult
    tags: TagRecovery

    def to_dict(self) -> dict:
        return asdict(self)

    def checks(self) -> list[tuple[str, str, bool]]:
        """(claim, figure, holds) for each target of the issue."""
        r = self.regret.mean_regret
        return [
            ("A/A false-positive rate over 50 looks <= 5%", f"{self.aa.false_positive_rate:.1%} (naive z-test: {self.aa.naive_false_positive_rate:.1%})",
             self.aa.false_positive_rate <= 0.05),
            ("+20% arm among 8 promoted in >= 90% of runs", f"{self.winner.correct_rate:.1%} correct, {self.winner.wrong_rate:.1%} wrong",
             self.winner.correct_rate >= 0.9),
            ("Thompson and top-two regret below fixed split", ", ".join(f"{k}: {v:.0f}" for k, v in r.items()),
             r.get("thompson", 0) < r.get("fixed", 0) and r.get("top-two", 0) < r.get("fixed", 0)),
            ("tag precision >= 0.8", f"{self.tags.precision:.2f} (recall {self.tags.recall:.2f}, {self.tags.tags} tags)", self.tags.precision >= 0.8),
        ]


def run_validation(seed: int = 0, *, quick: bool = False) -> ValidationSummary:
    """All four validations; `quick` uses fewer runs (for a demo), the defaults match the tests."""
    k = 3 if quick else 1
    return ValidationSummary(
        aa=aa_false_positive_rate(runs=300 // k, seed=seed),
        winner=winner_detection_rate(runs=60 // k, seed=seed + 1000),
        regret=regret_comparison(runs=max(5, 20 // k), seed=seed + 2000),
        tags=tag_recovery(seed=seed + 3),
    )
