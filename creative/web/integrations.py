"""The web front's calls into the use cases (`creative.services`), in one place.

Each function turns form values into a service call and its result into plain values for the
templates and the job table; the business steps themselves (composing, guardrails, approving,
experiments) live in `creative.services`, shared with the CLI and the flows.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from creative.catalog import list_products
from creative.compose import BatchSelection
from creative.creatives import batch_creatives
from creative.errors import CreativeError
from creative.services import Workspace, create_experiment, launch_batch
from experiments.effects import EffectsResult, fit_effects

log = logging.getLogger("creative.web")

SELECTION_FIELDS = ("products", "logos", "titles", "models", "backgrounds", "templates", "sizes")
DEFAULT_MAX_CREATIVES = 12
MAX_CREATIVES = 500  # a batch launched from the browser; bigger ones belong to `creative compose` or a flow


# ---- batch launch -----------------------------------------------------------------------------------
def batch_options(ws: Workspace) -> dict[str, Any]:
    from layouts.sizes import ALL_SIZES
    from layouts.template import builtin_templates

    by_kind: dict[str, list] = {}
    for e in ws.elements.list():
        by_kind.setdefault(e.kind, []).append(e)
    return {"products": by_kind.get("product", []), "logos": by_kind.get("logo", []), "titles": by_kind.get("title", []),
            "models": by_kind.get("model", []), "backgrounds": by_kind.get("background", []), "catalog": list_products(ws.engine),
            "templates": list(builtin_templates()), "sizes": [s.name for s in ALL_SIZES]}


def batch_work(ws: Workspace, selection: Mapping[str, Sequence[str]], max_n: int) -> Callable:
    """A job function launching the selection as a batch in HOME/out/web-<id>; checked before it is queued."""
    if not selection.get("products"):
        raise CreativeError("choose at least one product")
    if not 1 <= max_n <= MAX_CREATIVES:
        raise CreativeError(f"max creatives must be between 1 and {MAX_CREATIVES}; use `creative compose` for bigger batches")
    chosen = BatchSelection(
        products=tuple(selection["products"]), logos=tuple(selection.get("logos", ())), titles=tuple(selection.get("titles", ())),
        models=tuple(selection.get("models", ())), backgrounds=tuple(selection.get("backgrounds", ())),
        templates=tuple(selection.get("templates") or ("all",)), sizes=tuple(selection.get("sizes") or ("300x250",)))
    out_dir = ws.home.output_dir / (datetime.now(timezone.utc).strftime("web-%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:6])

    def work(progress) -> dict[str, Any]:
        progress(0, 0, "checking the selection")
        result = launch_batch(ws, chosen, out_dir, max_n=max_n, workers=1,
                              progress=lambda done, total: progress(done, total, f"rendered {done} of {total}")).batch
        return {"out_dir": result.out_dir, "manifest": result.manifest, "gallery": result.gallery, "batch": result.batch,
                "creatives": [{"id": c.creative_id, "file": Path(c.file).name, "size": c.size, "template": c.template,
                               "violations": list(c.violations)} for c in result.creatives],
                "rejected": [{"id": r["id"], "reasons": r.get("reasons", [])} for r in result.rejected],
                "skipped": list(result.skipped), "combinations": result.combinations, "seconds": round(result.seconds, 2)}

    return work


def experiment_from_batch(ws: Workspace, batch: str, name: str, policy: str) -> str:
    """An experiment over a batch's registered creatives (those with layout violations are left out)."""
    creatives = batch_creatives(ws.engine, batch)
    if not creatives:
        raise CreativeError(f"batch {batch} has no creatives in the library; launch the batch again")
    return create_experiment(ws, name, creatives, policy).experiment_id


# ---- experiments ------------------------------------------------------------------------------------
def element_effects(ws: Workspace, experiment_id: str) -> EffectsResult | None:
    """Element effects on the counts as they stand; None before the first impression.

    Candidate for `creative.services.experiments` (next_generation fits the same way)."""
    counts = {s.creative_id: (s.impressions, s.clicks) for s in ws.experiments.snapshots(experiment_id)}
    if not any(n for n, _ in counts.values()):
        return None
    return fit_effects(ws.experiments.arms(experiment_id), counts)
