"""Ranking: accepted candidates ordered by model fluency plus style fit; near duplicates of a better one drop out."""

from __future__ import annotations

import math
from typing import Sequence

from creative.copy.guardrails import NEAR_DUPLICATE, duplicate_reason, ngram_jaccard

WEIGHT_FLUENCY = 0.5
WEIGHT_STYLE = 0.5
# Without a model score (grammar engine without a model loaded), fluency counts as this prior:
# the templates are written to be fluent, but a model-scored text should win a tie.
GRAMMAR_FLUENCY_PRIOR = 0.3
# Order of accepted candidates trades score against similarity to those already ahead (maximal
# marginal relevance), so the top N of a style are not five variants of one phrase.
DIVERSITY = 0.3


def fluency(mean_logprob: float | None) -> float:
    """Geometric-mean token probability, 0..1, from the length-normalised log-likelihood."""
    if mean_logprob is None:
        return GRAMMAR_FLUENCY_PRIOR
    return math.exp(max(-20.0, min(0.0, mean_logprob)))


def combined_score(mean_logprob: float | None, style_fit: float) -> float:
    return round(WEIGHT_FLUENCY * fluency(mean_logprob) + WEIGHT_STYLE * style_fit, 4)


def rank(candidates: Sequence, language: str) -> list:
    """Sort by score; mark duplicates of higher-ranked accepted texts as rejected. Mutates `status`/`reasons`.

    Candidates need `.text`, `.score`, `.reasons`, `.status`; accepted ones come first, best (and most
    varied) first, then the rejected ones.
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
    accepted = [c for c in ordered if c.status == "accepted"]
    n = NEAR_DUPLICATE.get(language, NEAR_DUPLICATE["en"])[0]
    diverse: list = []
    while accepted:
        best = max(accepted, key=lambda c: (c.score or 0.0) - DIVERSITY * max((ngram_jaccard(c.text, d.text, n) for d in diverse), default=0.0))
        diverse.append(best)
        accepted.remove(best)
    rejected = sorted((c for c in ordered if c.status != "accepted"), key=lambda c: -(c.score or 0.0))
    return diverse + rejected
