"""Ranking: accepted candidates ordered by model fluency plus style fit; near duplicates of a better one drop out."""

from __future__ import annotations

import math
from typing import Sequence

from creative.copy.guardrails import duplicate_reason

WEIGHT_FLUENCY = 0.5
WEIGHT_STYLE = 0.5
# Without a model score (grammar engine without a model loaded), fluency counts as this prior:
# the templates are written to be fluent, but a model-scored text should win a tie.
GRAMMAR_FLUENCY_PRIOR = 0.3


def fluency(mean_logprob: float | None) -> float:
    """Geometric-mean token probability, 0..1, from the length-normalised log-likelihood."""
    if mean_logprob is None:
        return GRAMMAR_FLUENCY_PRIOR
    return math.exp(max(-20.0, min(0.0, mean_logprob)))


def combined_score(mean_logprob: float | None, style_fit: float) -> float:
    return round(WEIGHT_FLUENCY * fluency(mean_logprob) + WEIGHT_STYLE * style_fit, 4)


def rank(candidates: Sequence, language: str) -> list:
    """Sort by score; mark duplicates of higher-ranked accepted texts as rejected. Mutates `status`/`reasons`.

    Candidates need `.text`, `.score`, `.reasons`, `.status`; accepted ones come first, best first.
    """
    ordered = sorted(candidates, key=lambda c: (bool(c.reasons), -(c.score or 0.0)))
    kept: list[str] = []
    for c in ordered:
        if c.reasons:
            c.status = "rejected"
            continue
        why = duplicate_reason(c.text, kept, language)
        if why:
            c.reasons.append(why)
            c.status = "rejected"
        else:
            c.status = "accepted"
            kept.append(c.text)
    return sorted(ordered, key=lambda c: (c.status != "accepted", -(c.score or 0.0)))
