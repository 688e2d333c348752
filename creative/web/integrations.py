"""The web front's calls into the use cases (`creative.services`) for the experiment pages.

The copy review's are in copy_review.py, the batch pages' in batch_review.py; the business steps
themselves live in `creative.services`, shared with the CLI and the flows.
"""

from __future__ import annotations

import logging

from creative.services import Workspace
from experiments.effects import EffectsResult, fit_effects

log = logging.getLogger("creative.web")


# ---- experiments ------------------------------------------------------------------------------------
def element_effects(ws: Workspace, experiment_id: str) -> EffectsResult | None:
    """Element effects on the counts as they stand; None before the first impression.

    Candidate for `creative.services.experiments` (next_generation fits the same way)."""
    counts = {s.creative_id: (s.impressions, s.clicks) for s in ws.experiments.snapshots(experiment_id)}
    if not any(n for n, _ in counts.values()):
        return None
    return fit_effects(ws.experiments.arms(experiment_id), counts)
