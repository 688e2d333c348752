"""When a round may close: on data, or after a maximum interval, never on nothing.

A scheduled look closes the open round only when every placement served in it has at least
`min_round_impressions` new impressions, or when the allocation has been in force for
`max_round_minutes` and some impressions came. A look that finds neither closes nothing, so an idle
campaign uses up none of its `max_rounds`. The interval is counted from the experiment's last change
of allocation or state (`exp_experiments.updated_at`: a round closed, arms added, a resume).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping

from sqlalchemy import func, select

from experiments import tables as t
from experiments.errors import ExperimentError
from experiments.model import ExperimentConfig

ALL_SIZES = "all sizes"  # the placement of arms without a size


@dataclass(frozen=True)
class RoundReadiness:
    """The open round's new impressions per placement against the experiment's closing rule."""

    experiment_id: str
    round_no: int
    impressions: Mapping[str, int]  # placement -> new impressions in the open round (placements served only)
    needed: int
    minutes_open: float
    max_minutes: float

    @property
    def total(self) -> int:
        return sum(self.impressions.values())

    @property
    def shortest(self) -> tuple[str | None, int]:
        """The served placement furthest from the minimum (None, 0 when nothing was served)."""
        if not self.impressions:
            return None, 0
        return min(self.impressions.items(), key=lambda kv: (kv[1], kv[0]))

    @property
    def on_data(self) -> bool:
        return self.total > 0 and self.shortest[1] >= self.needed

    @property
    def on_time(self) -> bool:
        return self.total > 0 and self.minutes_open >= self.max_minutes

    @property
    def ready(self) -> bool:
        return self.on_data or self.on_time

    def summary(self) -> str:
        placement, n = self.shortest
        where = f" for {placement}" if placement and len(self.impressions) > 1 else ""
        return (f"{self.experiment_id}, round {self.round_no}: not closed: waiting for data ({n} of {self.needed} impressions{where}); "
                f"it closes when every placement served has {self.needed} new impressions, or {self.max_minutes:g} minutes after the "
                f"allocation was set if any came (open {self.minutes_open:.0f} min)")


class RoundNotReady(ExperimentError):
    """A look that asked to close only on data found too little; nothing was closed."""

    def __init__(self, readiness: RoundReadiness) -> None:
        super().__init__(readiness.summary())
        self.readiness = readiness


def round_readiness(experiment_id: str, round_no: int, impressions: Mapping[str | None, int], opened_at: datetime,
                    now: datetime, config: ExperimentConfig) -> RoundReadiness:
    """Pure: the closing rule applied to the open round's counts per placement."""
    served = {(p or ALL_SIZES): int(n) for p, n in impressions.items() if n > 0}
    opened = opened_at if opened_at.tzinfo else opened_at.replace(tzinfo=timezone.utc)  # SQLite drops the zone
    minutes = max(0.0, (now - opened).total_seconds() / 60.0)
    return RoundReadiness(experiment_id, round_no, served, config.min_round_impressions, minutes, config.max_round_minutes)


def open_round_impressions(conn, experiment_id: str, round_no: int) -> dict[str | None, int]:
    """New impressions per placement (the arms' size) in the open round's bucket."""
    rows = conn.execute(
        select(t.arms.c.size, func.sum(t.arm_stats.c.impressions))
        .join(t.arm_stats, (t.arm_stats.c.experiment_id == t.arms.c.experiment_id) & (t.arm_stats.c.creative_id == t.arms.c.creative_id))
        .where(t.arms.c.experiment_id == experiment_id, t.arm_stats.c.round_no == round_no)
        .group_by(t.arms.c.size))
    return {size: int(n or 0) for size, n in rows}
