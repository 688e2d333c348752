"""Plain data that crosses the library's boundaries."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any, Literal, Mapping, Sequence

import numpy as np

from experiments import messages
from experiments.errors import InvalidExperiment

AttributeValue = str | bool | int | float
MAX_CREATIVE_ID_LENGTH = 200  # exp_arms.creative_id, exp_events.creative_id and creatives.creative_id are String(200)


class ExperimentState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"  # serving keeps the current allocation; no round closes until it resumes
    PROMOTED = "promoted"  # a winner takes all traffic
    STOPPED = "stopped"  # ended without a winner (round limit, no arm left, or a person)
    ARCHIVED = "archived"  # ended and put away: hidden from default listings, read-only

    @property
    def concluded(self) -> bool:
        """No round will ever close again; serving shows the winner or the last leader."""
        return self in (ExperimentState.PROMOTED, ExperimentState.STOPPED, ExperimentState.ARCHIVED)


class ArmState(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"
    WINNER = "winner"


class DecisionKind(StrEnum):
    CONTINUE = "continue"
    PROMOTE = "promote"
    RETIRE = "retire"
    STOP = "stop"

    @property
    def concludes(self) -> bool:
        return self in (DecisionKind.PROMOTE, DecisionKind.STOP)

DECISION_RULES = ("sequential", "naive")  # "bayesian" (P(best) at every look) was removed: unsafe under repeated looks
# An experiment's unit is a placement, the ad size a request asks for: allocation, SRM and decisions are
# per placement. Arms without a size form one placement, which a request without a size is served from.
UNSIZED_PLACEMENT = "*"


def placement_of(size: str | None) -> str:
    return size or UNSIZED_PLACEMENT


# Preference tags' defaults, settable per experiment (ExperimentConfig) and read by experiments.tags.TagConfig.
TAG_MIN_IMPRESSIONS = 50  # a user must have seen this many creatives carrying the attribute
TAG_MIN_PROBABILITY = 0.9  # posterior probability that the user prefers the value


@dataclass(frozen=True)
class CreativeArm:
    """A creative as the experiment sees it: an id and the element attributes effects are learned on."""

    id: str
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    size: str | None = None
    template: str | None = None

    @property
    def placement(self) -> str:
        return placement_of(self.size)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "CreativeArm":
        if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str) or not raw["id"].strip():
            raise InvalidExperiment(f"creative {raw!r} has no string 'id'; every creative needs one")
        attrs = dict(raw.get("attributes") or {})
        for key, value in attrs.items():
            if not isinstance(value, (str, bool, int, float)):
                raise InvalidExperiment(f"creative {raw['id']!r} attribute {key!r} is {type(value).__name__}; attributes must be str, bool or number")
        return cls(
            id=raw["id"],
            attributes=attrs,
            size=raw.get("size"),
            template=raw.get("template"),
        )


@dataclass(frozen=True)
class ExperimentConfig:
    """Every tunable of an experiment, stored with it so a round is reproducible.

    The sequential rule's tuning parameter is the mixing scale τ (``tau`` absolute, or ``tau_relative`` ×
    pooled CTR when ``tau`` is None); see experiments.stats.sequential.
    """

    attribution_window_hours: float = 24.0
    max_events_per_user_minute: int = 60
    rule: Literal["sequential", "naive"] = "sequential"
    alpha: float = 0.05
    tau: float | None = None
    tau_relative: float = 0.2
    max_rounds: int = 50
    max_impressions: int | None = None
    min_impressions_per_arm: int = 200
    p_best_threshold: float = 0.95
    loss_threshold: float = 0.0005
    draws: int = 4000
    prior_alpha: float = 1.0
    prior_beta: float = 1.0
    seed: int = 0
    tag_min_impressions: int = TAG_MIN_IMPRESSIONS
    tag_min_probability: float = TAG_MIN_PROBABILITY
    min_round_impressions: int = 100  # new impressions each placement served this round needs before the round closes...
    max_round_minutes: float = 24 * 60  # ...unless the allocation has been in force this long (and some data came)
    max_clock_skew_minutes: float = 10.0  # events stamped further in the future are rejected (clock or forgery)
    holdout_share: float = 0.0  # requests served preference-aware outside the experiment (marked holdout, never counted)

    def __post_init__(self) -> None:
        def bad(key: str, reason: str) -> InvalidExperiment:
            return InvalidExperiment(messages.CONFIG_BAD.format(key=key, value=getattr(self, key), reason=reason))

        if not self.attribution_window_hours > 0:
            raise bad("attribution_window_hours", "must be > 0")
        if self.max_events_per_user_minute < 1:
            raise bad("max_events_per_user_minute", "must be >= 1")
        if self.rule not in DECISION_RULES:
            raise bad("rule", f"choose one of {', '.join(DECISION_RULES)}")
        if not 0 < self.alpha < 1:
            raise bad("alpha", "must be in (0, 1)")
        if self.tau is not None and not self.tau > 0:
            raise bad("tau", "must be > 0 or unset")
        if not self.tau_relative > 0:
            raise bad("tau_relative", "must be > 0")
        if self.max_rounds < 1:
            raise bad("max_rounds", "must be >= 1")
        if self.max_impressions is not None and self.max_impressions < 1:
            raise bad("max_impressions", "must be >= 1 or unset")
        if not 0.5 < self.p_best_threshold < 1:
            raise bad("p_best_threshold", "must be in (0.5, 1)")
        if self.draws < 100:
            raise bad("draws", "must be >= 100")
        if self.prior_alpha <= 0 or self.prior_beta <= 0:
            raise bad("prior_alpha", "Beta prior parameters must be > 0")
        if not self.max_clock_skew_minutes >= 0:
            raise bad("max_clock_skew_minutes", "must be >= 0")
        if self.tag_min_impressions < 1:
            raise bad("tag_min_impressions", "must be >= 1")
        if not 0.5 <= self.tag_min_probability < 1:
            raise bad("tag_min_probability", "must be in [0.5, 1)")
        if not 0 <= self.holdout_share < 1:
            raise bad("holdout_share", "must be in [0, 1): the share of requests kept out of the experiment")
        if self.min_round_impressions < 1:
            raise bad("min_round_impressions", "must be >= 1 (a round never closes on no data)")
        if not self.max_round_minutes > 0:
            raise bad("max_round_minutes", "must be > 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> "ExperimentConfig":
        raw = dict(raw or {})
        if raw.get("rule") == "bayesian":  # removed (unsafe under repeated looks): stored experiments go on under the sequential rule
            raw["rule"] = "sequential"
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise InvalidExperiment(f"unknown experiment setting(s) {unknown}; known settings: {sorted(known)}")
        return cls(**raw)


@dataclass(frozen=True)
class ArmSnapshot:
    """An arm's counts at the close of a round: cumulative and this round's."""

    creative_id: str
    state: str
    impressions: int
    clicks: int
    round_impressions: int = 0
    round_clicks: int = 0

    @property
    def ctr(self) -> float:
        return self.clicks / self.impressions if self.impressions else 0.0


@dataclass(frozen=True)
class ArmRoundStats:
    """What a round reports per creative."""

    creative_id: str
    state: str
    impressions: int
    clicks: int
    round_impressions: int
    round_clicks: int
    ctr: float
    mean: float
    ci_low: float
    ci_high: float
    p_best: float
    expected_loss: float
    share_used: float
    share_next: float


@dataclass(frozen=True)
class Decision:
    """continue | promote | retire | stop, with the evidence that led to it."""

    kind: DecisionKind
    winner: str | None = None
    retired: tuple[str, ...] = ()
    best: str | None = None
    confidence: float | None = None
    reason: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", DecisionKind(self.kind))  # a stored "promote" reads back as the enum

    def to_dict(self) -> dict[str, Any]:
        """The stored form (exp_rounds.evidence): plain JSON types."""
        return {"kind": str(self.kind), "winner": self.winner, "retired": list(self.retired), "best": self.best,
                "confidence": self.confidence, "reason": self.reason, "evidence": dict(self.evidence)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "Decision":
        return cls(DecisionKind(raw["kind"]), raw.get("winner"), tuple(raw.get("retired") or ()), raw.get("best"), raw.get("confidence"),
                   raw.get("reason", ""), raw.get("evidence") or {})


@dataclass(frozen=True)
class SRMSummary:
    chi2: float
    p_value: float
    alarm: bool


@dataclass(frozen=True)
class RoundResult:
    experiment_id: str
    round_no: int
    decision: Decision
    arms: tuple[ArmRoundStats, ...]
    allocation_next: Mapping[str, float]
    srm: SRMSummary
    impressions: int
    clicks: int
    replayed: bool = False
    placements: Mapping[str, Decision] = field(default_factory=dict)  # per placement, when the experiment has several

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RejectedLine:
    line: int | None
    reason: str
    detail: str


@dataclass(frozen=True)
class IngestReport:
    """Counts of one ingestion; every input line is accepted, a duplicate, or rejected with a reason."""

    experiment_id: str
    source: str
    lines: int
    accepted: int
    impressions: int
    clicks: int
    duplicates: int
    rejected: Mapping[str, int]
    samples: tuple[RejectedLine, ...] = ()
    holdout: int = 0  # accepted events of holdout traffic: stored, never counted in the arms' statistics

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rejected_total"] = self.rejected_total
        return out


@dataclass(frozen=True)
class ExperimentStatus:
    experiment_id: str
    name: str
    policy: str
    status: str
    current_round: int
    winner: str | None
    allocation: Mapping[str, float]
    arms: tuple[ArmSnapshot, ...]
    rounds_closed: int
    open_round_impressions: int
    open_round_clicks: int
    last_decision: str | None
    config: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class UserExposures:
    """Counts per (user, creative), as arrays for preference tags: users[user_index[k]], creatives[creative_index[k]]."""

    users: tuple[str, ...]
    creatives: tuple[str, ...]
    user_index: np.ndarray
    creative_index: np.ndarray
    impressions: np.ndarray
    clicks: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[str, str, int, int]]) -> "UserExposures":
        users: dict[str, int] = {}
        creatives: dict[str, int] = {}
        ui = np.fromiter((users.setdefault(r[0], len(users)) for r in rows), dtype=np.int64, count=len(rows))
        ci = np.fromiter((creatives.setdefault(r[1], len(creatives)) for r in rows), dtype=np.int64, count=len(rows))
        imp = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
        clk = np.fromiter((r[3] for r in rows), dtype=np.int64, count=len(rows))
        return cls(tuple(users), tuple(creatives), ui, ci, imp, clk)
