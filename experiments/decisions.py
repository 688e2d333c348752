"""Each round's decision — continue, promote, retire or stop — as a pure function of the arms' counts.

The default rule is sequential (mSPRT): the leader is compared with every other active arm, each pair at
level alpha / (K(K-1)/2) for K arms in the experiment. That union bound covers every pair the data could
pick, at every look, so the chance of any false promotion or retirement over the whole experiment stays
below alpha however many rounds look. The "naive" rule (fixed-horizon z-test + Holm at every look) is
kept only to show, beside it, how peeking inflates false positives.

Under adaptive allocation (Thompson, top-two) losing arms are starved; three guards keep the guarantee:
the mSPRT variance is pooled (experiments.stats.sequential), an arm is judged only once it has the
minimum evidence (`min_evidence`), and a round without new impressions decides nothing. The round limit
names no winner the rule has not already promoted (`stop_at_limit`); traffic then stays as it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from experiments import messages
from experiments.model import ArmSnapshot, ArmState, Decision, DecisionKind, ExperimentConfig
from experiments.policies import AllocationPolicy
from experiments.stats.bayesian import BayesianConfig, BayesianResult, BetaPrior, compare
from experiments.stats.frequentist import holm, z_pvalues
from experiments.stats.proportion import ProportionStatistic
from experiments.stats.sequential import SequentialConfig, msprt_vs
from experiments.stats.srm import SRMResult, srm_check

MAX_EVIDENCE = 50
# the normal approximation behind the mSPRT wants about this many expected clicks per arm (the usual np >= 10)
MIN_EXPECTED_CLICKS = 10


@dataclass(frozen=True)
class RoundOutcome:
    """Everything a round computes; the store persists it, the simulator feeds it back."""

    decision: Decision
    bayes: BayesianResult
    arms: tuple[ArmSnapshot, ...]  # states after the decision
    allocation_next: dict[str, float]
    srm: SRMResult


def _stat(arm: ArmSnapshot) -> ProportionStatistic:
    return ProportionStatistic(arm.impressions, arm.clicks)


def bayesian_config(config: ExperimentConfig, round_no: int) -> BayesianConfig:
    return BayesianConfig(prior=BetaPrior(config.prior_alpha, config.prior_beta), draws=config.draws, seed=config.seed * 100_003 + round_no)


def min_evidence(arms: Sequence[ArmSnapshot], config: ExperimentConfig) -> float:
    """Impressions an arm needs before it is retired, promoted or named a winner.

    The larger of `config.min_impressions_per_arm` and the impressions in which the pooled CTR of all arms
    expects MIN_EXPECTED_CLICKS clicks (500 at 2 %); infinite before the first click. An arm a bandit starved
    below this has too few clicks for its CTR to say anything; its exploration share keeps feeding it.
    """
    impressions = sum(a.impressions for a in arms)
    clicks = sum(a.clicks for a in arms)
    if clicks == 0:
        return math.inf
    return float(max(config.min_impressions_per_arm, math.ceil(MIN_EXPECTED_CLICKS * impressions / clicks)))


def separated_from_leader(leader: ArmSnapshot, others: Sequence[ArmSnapshot], n_arms: int, config: ExperimentConfig,
                          needed: float) -> tuple[list[bool], list[dict]]:
    """Which of `others` the leader beats under the configured rule, and the per-comparison evidence.

    Only pairs in which both arms have `needed` impressions (see `min_evidence`) can separate."""
    if not others:
        return [], []
    enough = np.array([o.impressions >= needed for o in others]) & (leader.impressions >= needed)
    stats = [_stat(o) for o in others]
    rows: list[dict] = []
    if config.rule == "sequential":
        family = max(1, n_arms * (n_arms - 1) // 2)
        level = config.alpha / family
        diff, _, p, low, high, _ = msprt_vs(_stat(leader), stats, SequentialConfig(config.alpha, config.tau, config.tau_relative), alpha=level)
        sep = enough & (p <= level) & (low > 0)
        for o, d, pv, lo, hi, s in zip(others, diff, p, low, high, sep):
            rows.append({"arm": o.creative_id, "diff": float(d), "p_value": float(pv), "level": level, "ci_low": float(lo), "ci_high": float(hi), "separated": bool(s)})
    else:  # naive
        raw = z_pvalues(_stat(leader), stats)
        adj = holm(raw)
        means = np.array([s.mean for s in stats])
        sep = enough & (adj <= config.alpha) & (leader.ctr > means)
        for o, pv, pa, s in zip(others, raw, adj, sep):
            rows.append({"arm": o.creative_id, "p_value": float(pv), "p_holm": float(pa), "separated": bool(s)})
    return [bool(x) for x in sep], rows


def stop_at_limit(leader: ArmSnapshot, why: str, confidence: float, others: Sequence[ArmSnapshot], separated: Sequence[bool],
                  retired: tuple[str, ...], evidence: dict) -> Decision:
    """The last look names no winner of its own: a leader that beats every other active arm under the rule
    was promoted before this is called, so here the experiment stops with no winner and the current
    allocation stays. A final-look Bayesian crowning (P(best) >= 0.95) would add about 10 % false winners
    to an A/A test on top of the sequential rule's 5 %; an arm at 0/30 beside arms at 125/5000 never wins."""
    open_calls = sum(1 for s in separated if not s)
    reason = messages.STOP_NO_WINNER.format(why=why, leader=leader.creative_id, p_best=confidence, open=open_calls, others=len(others))
    return Decision(DecisionKind.STOP, retired=retired, best=leader.creative_id, confidence=confidence, reason=reason, evidence=evidence)


def decide(arms: Sequence[ArmSnapshot], round_no: int, config: ExperimentConfig, bayes: BayesianResult, srm: SRMResult | None = None) -> Decision:
    """The decision at the close of `round_no`, from cumulative counts (all arms, retired included)."""
    index = {a.creative_id: i for i, a in enumerate(arms)}
    active = [a for a in arms if a.state != ArmState.RETIRED]
    total = sum(a.impressions for a in arms)
    limit_hit = round_no >= config.max_rounds or (config.max_impressions is not None and total >= config.max_impressions)
    if not active:
        return Decision(DecisionKind.STOP, reason="no active arm left")
    needed = min_evidence(arms, config)
    # the leader is the best-looking arm with enough evidence to be judged (a starved arm's mean is mostly prior)
    leader = max(active, key=lambda a: (a.impressions >= needed, bayes.posteriors[index[a.creative_id]].mean, a.impressions))
    li = index[leader.creative_id]
    evidence: dict = {
        "rule": config.rule,
        "alpha": config.alpha,
        "leader": leader.creative_id,
        "leader_p_best": bayes.p_best[li],
        "leader_expected_loss": bayes.expected_loss[li],
        "impressions": total,
        "min_impressions": needed if math.isfinite(needed) else None,
        "srm": None if srm is None else {"chi2": srm.chi2, "p_value": srm.p_value, "alarm": srm.alarm},
    }
    confidence = bayes.p_best[li]
    if len(active) == 1 and len(arms) > 1:
        return Decision(DecisionKind.PROMOTE, winner=leader.creative_id, best=leader.creative_id, confidence=confidence,
                        reason="every other arm has been retired", evidence=evidence)
    others = [a for a in active if a is not leader]
    separated, rows = separated_from_leader(leader, others, len(arms), config, needed)
    # every separated arm, then the closest calls, up to MAX_EVIDENCE rows: enough to audit, small to store
    rows.sort(key=lambda r: (not r["separated"], r["p_value"]))
    evidence["comparisons"] = rows[: max(MAX_EVIDENCE, sum(separated))]
    evidence["comparisons_total"] = len(rows)
    held = None
    if srm is not None and srm.alarm:
        held = messages.SRM_HOLD.format(p=srm.p_value)
    elif not any(a.round_impressions for a in arms):
        held = messages.NO_NEW_IMPRESSIONS
    if held:
        kind = DecisionKind.STOP if limit_hit else DecisionKind.CONTINUE
        return Decision(kind, best=leader.creative_id, confidence=confidence, reason=held, evidence=evidence)
    if others and all(separated):
        return Decision(DecisionKind.PROMOTE, winner=leader.creative_id, retired=tuple(o.creative_id for o in others), best=leader.creative_id,
                        confidence=confidence, reason=f"{leader.creative_id} beats all {len(others)} other active arm(s) under the {config.rule} rule",
                        evidence=evidence)
    retired = tuple(o.creative_id for o, s in zip(others, separated) if s)
    if limit_hit:
        why = f"round limit {config.max_rounds} reached" if round_no >= config.max_rounds else f"impression budget {config.max_impressions} reached"
        return stop_at_limit(leader, why, confidence, others, separated, retired, evidence)
    if retired:
        return Decision(DecisionKind.RETIRE, retired=retired, best=leader.creative_id, confidence=confidence,
                        reason=f"{len(retired)} arm(s) credibly worse than {leader.creative_id}", evidence=evidence)
    return Decision(DecisionKind.CONTINUE, best=leader.creative_id, confidence=confidence, reason="no arm separated yet", evidence=evidence)


def kept_allocation(allocation_used: Mapping[str, float], arms: Sequence[ArmSnapshot]) -> dict[str, float]:
    """The allocation in force, over the arms still active (renormalised; even if none of them had a share)."""
    live = {a.creative_id: float(allocation_used.get(a.creative_id, 0.0)) for a in arms if a.state != ArmState.RETIRED}
    total = sum(live.values())
    shares = {a.creative_id: 0.0 for a in arms}
    shares.update({k: (v / total if total > 0 else 1.0 / len(live)) for k, v in live.items()})
    return shares


def evaluate_round(arms: Sequence[ArmSnapshot], round_no: int, config: ExperimentConfig, policy: AllocationPolicy,
                   allocation_used: Mapping[str, float], rng: np.random.Generator | None = None, srm: SRMResult | None = None) -> RoundOutcome:
    """Statistics, SRM check, decision and next allocation for one round: the whole round minus I/O.

    `srm`: the check already made against the allocations in force when impressions were served
    (experiments.placements.srm_strata); by default the round's impressions against `allocation_used`."""
    bayes = compare([_stat(a) for a in arms], bayesian_config(config, round_no))
    if srm is None:
        srm = srm_check([a.round_impressions for a in arms], [allocation_used.get(a.creative_id, 0.0) for a in arms])
    decision = decide(arms, round_no, config, bayes, srm)
    gone = set(decision.retired)
    if decision.winner is not None:
        gone = {a.creative_id for a in arms if a.creative_id != decision.winner}
    new_arms = tuple(
        ArmSnapshot(a.creative_id, ArmState.WINNER if a.creative_id == decision.winner else (ArmState.RETIRED if a.creative_id in gone or a.state == ArmState.RETIRED else a.state),
                    a.impressions, a.clicks, a.round_impressions, a.round_clicks)
        for a in arms
    )
    if decision.winner is not None:
        allocation = {a.creative_id: (1.0 if a.creative_id == decision.winner else 0.0) for a in arms}
    elif decision.kind == DecisionKind.STOP:  # no winner: traffic stays as it was
        allocation = kept_allocation(allocation_used, new_arms)
    else:
        rng = rng if rng is not None else np.random.default_rng(config.seed * 7919 + round_no)
        allocation = policy.allocate(new_arms, rng, BetaPrior(config.prior_alpha, config.prior_beta))
    return RoundOutcome(decision, bayes, new_arms, allocation, srm)
