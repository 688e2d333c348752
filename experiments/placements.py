"""Placements: an experiment's unit. Allocation, SRM and decisions are per placement (the ad size).

A request asks for one size, so each placement is its own randomised experiment: its shares sum to 1,
its impressions are checked against its own shares (traffic for one size only, or unequal traffic
between sizes, is no mismatch), and it gets its own decision and winner. The rule for the experiment:
it concludes when every placement that has had traffic has concluded (promoted a winner or stopped);
it is promoted if at least one of them promoted, else stopped. A placement never served does not hold
it open, and keeps its allocation. An experiment with one placement is decided exactly as before.
Not yet built: pooling a concept's evidence across placements (the marketer's choice). Arms carry no
concept id (the creatives registry knows each creative's elements); it needs `CreativeArm.concept`, set
by services.arm_of from the elements, and a config flag under which decisions use each concept's counts
summed over placements while SRM stays per placement. Pure functions: rounds.py reads and writes, this decides.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from experiments import messages
from experiments.decisions import RoundOutcome, evaluate_round
from experiments.errors import InvalidAllocation
from experiments.model import ArmSnapshot, ArmState, CreativeArm, Decision, DecisionKind, ExperimentConfig
from experiments.policies import AllocationPolicy, validate_shares
from experiments.stats.bayesian import BayesianResult
from experiments.stats.srm import SRMResult, SRMStratum, srm_stratified

Placements = dict[str, list[str]]  # placement -> creative ids, in arm order


def placements_of(arms: Sequence[CreativeArm]) -> Placements:
    out: Placements = defaultdict(list)
    for arm in arms:
        out[arm.placement].append(arm.id)
    return dict(out)


def initial_allocation(arms: Sequence[CreativeArm], shares: Mapping[str, float] | None = None) -> dict[str, float]:
    """Equal shares within each placement, or the given ones, which must sum to 1 within each placement."""
    groups = placements_of(arms)
    if shares is None:
        return {cid: 1.0 / len(ids) for ids in groups.values() for cid in ids}
    validate_shares_per_placement(shares, groups)
    return {cid: float(shares.get(cid, 0.0)) for ids in groups.values() for cid in ids}


def validate_shares_per_placement(shares: Mapping[str, float], groups: Placements) -> None:
    known = {cid for ids in groups.values() for cid in ids}
    if len(groups) == 1:
        validate_shares(shares, list(known))
        return
    missing = sorted(set(shares) - known)
    if missing:
        raise InvalidAllocation(messages.SHARES_ARMS.format(missing=missing))
    for placement, ids in groups.items():
        try:
            validate_shares({cid: shares.get(cid, 0.0) for cid in ids})
        except InvalidAllocation as exc:
            raise InvalidAllocation(f"placement {placement}: {exc} (shares sum to 1 within each placement)") from None


def allocation_with_new_arms(allocation: Mapping[str, float], active: Sequence[CreativeArm], new: Sequence[CreativeArm]) -> dict[str, float]:
    """Each new arm gets an equal share of its placement from now on; the placement's other arms give it up in proportion."""
    out = dict(allocation)
    active_per = placements_of(active)
    for placement, ids in placements_of(new).items():
        n = len(active_per.get(placement, [])) + len(ids)
        keep = 1.0 - len(ids) / n
        for cid in active_per.get(placement, []):
            out[cid] = out.get(cid, 0.0) * keep
        out.update({cid: 1.0 / n for cid in ids})
    return out


def srm_strata(arms: Sequence[ArmSnapshot], placement: Mapping[str, str], allocation_now: Mapping[str, float],
               late: Mapping[int, Mapping[str, int]], allocation_then: Mapping[int, Mapping[str, float]]) -> dict[str, list[SRMStratum]]:
    """The round's impressions per placement, grouped by the allocation they were served under.

    `late[s]`: impressions ingested this round that were served in earlier round s (under
    `allocation_then[s]`); the rest of each arm's round impressions were served under `allocation_now`."""
    groups: dict[str, list[ArmSnapshot]] = defaultdict(list)
    for a in arms:
        groups[placement.get(a.creative_id, "")].append(a)
    out: dict[str, list[SRMStratum]] = {}
    for p, members in groups.items():
        ids = [a.creative_id for a in members]
        strata = [SRMStratum([a.round_impressions - sum(late[s].get(a.creative_id, 0) for s in late) for a in members],
                             [allocation_now.get(c, 0.0) for c in ids])]
        for s in sorted(late):
            then = allocation_then.get(s, allocation_now)
            strata.append(SRMStratum([late[s].get(c, 0) for c in ids], [then.get(c, 0.0) for c in ids]))
        out[p] = strata
    return out


@dataclass(frozen=True)
class PlacementsOutcome:
    """A round's outcome over all placements (arms in input order), with each placement's decision and SRM."""

    outcome: RoundOutcome
    decisions: dict[str, Decision]  # empty when the experiment has a single placement
    srm: dict[str, SRMResult]


def evaluate_placements(arms: Sequence[ArmSnapshot], placement: Mapping[str, str], round_no: int, config: ExperimentConfig,
                        policy: AllocationPolicy, allocation_used: Mapping[str, float],
                        strata: Mapping[str, Sequence[SRMStratum]]) -> PlacementsOutcome:
    """Each placement evaluated on its own arms, SRM strata and shares; combined by the module's rule."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, a in enumerate(arms):
        groups[placement.get(a.creative_id, "")].append(i)
    srm = {p: srm_stratified(strata.get(p, ())) for p in groups}
    outcomes: dict[str, RoundOutcome] = {}
    for p, idx in groups.items():
        rng = np.random.default_rng([config.seed * 7919 + round_no, len(outcomes)]) if len(groups) > 1 else None
        outcomes[p] = evaluate_round([arms[i] for i in idx], round_no, config, policy, allocation_used, rng=rng, srm=srm[p])
    if len(groups) == 1:
        return PlacementsOutcome(next(iter(outcomes.values())), {}, srm)
    return PlacementsOutcome(_combine(arms, groups, outcomes), {p: o.decision for p, o in outcomes.items()}, srm)


def _combine(arms: Sequence[ArmSnapshot], groups: Mapping[str, list[int]], outcomes: Mapping[str, RoundOutcome]) -> RoundOutcome:
    n = len(arms)
    posteriors, p_best, loss, new_arms = [None] * n, [0.0] * n, [0.0] * n, [None] * n
    allocation: dict[str, float] = {}
    for p, idx in groups.items():
        o = outcomes[p]
        for k, i in enumerate(idx):
            posteriors[i], p_best[i], loss[i], new_arms[i] = o.bayes.posteriors[k], o.bayes.p_best[k], o.bayes.expected_loss[k], o.arms[k]
        allocation.update(o.allocation_next)
    traffic = {p: sum(arms[i].impressions for i in idx) for p, idx in groups.items()}
    served = [p for p in groups if traffic[p] > 0]
    decisions = {p: o.decision for p, o in outcomes.items()}
    winners = {p: decisions[p].winner for p in served if decisions[p].kind == DecisionKind.PROMOTE}
    retired = tuple(b.creative_id for b, a in zip(arms, new_arms) if a.state == ArmState.RETIRED and b.state != ArmState.RETIRED)
    main = max(groups, key=lambda p: (traffic[p], p))
    reason = "; ".join(f"{p}: {d.kind}" + (f" {d.winner}" if d.winner else "") + f" ({d.reason})" for p, d in sorted(decisions.items()))
    evidence = {"placements": {p: d.to_dict() for p, d in decisions.items()}}
    common = dict(best=decisions[main].best, confidence=decisions[main].confidence, reason=reason, evidence=evidence)
    if served and all(decisions[p].kind.concludes for p in served):
        kind = DecisionKind.PROMOTE if winners else DecisionKind.STOP
        winner = next(iter(winners.values())) if len(winners) == 1 else None
        decision = Decision(kind, winner=winner, retired=retired, **common)
    else:
        decision = Decision(DecisionKind.RETIRE if retired else DecisionKind.CONTINUE, retired=retired, **common)
    srm_main = min((o.srm for o in outcomes.values()), key=lambda r: r.p_value)
    bayes = BayesianResult(tuple(posteriors), tuple(p_best), tuple(loss))
    return RoundOutcome(decision, bayes, tuple(new_arms), allocation, srm_main)
