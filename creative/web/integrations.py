"""The web front's calls into the use cases (`creative.services`), in one place.

Each function turns form values into a service call and its result into plain values for the
templates and the job table; the business steps themselves (composing, guardrails, approving,
experiments) live in `creative.services`, shared with the CLI and the flows.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from creative.catalog import get_product, list_products
from creative.compose import BatchSelection
from creative.copy.pipeline import Candidate
from creative.creatives import batch_creatives
from creative.errors import CreativeError
from creative.services import Workspace, approve_title, copy_pipeline, create_experiment, launch_batch
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


# ---- copy review ------------------------------------------------------------------------------------
COPY_ENGINES = ("grammar", "lm")
CANDIDATE_FIELDS = frozenset(f.name for f in fields(Candidate))


@dataclass
class CopyReview:
    products: list[Any]
    approved: list[dict[str, Any]] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)  # one per generation job, newest first


def copy_review(ws: Workspace, jobs) -> CopyReview:
    """Generated candidates (accepted ones to approve, rejected ones with reasons) and the titles already approved."""
    approved = [{"code": e.code, "text": e.text, "name": e.name, "style": e.attributes.get("style_label") or e.attributes.get("style"),
                 "score": e.attributes.get("score"), "product": e.attributes.get("product_id"), "language": e.attributes.get("language"),
                 "reviewer": e.attributes.get("reviewer")} for e in ws.elements.list("title")]
    batches = [{"job_id": job.job_id, "status": job.status, "message": job.message, "params": job.params,
                "candidates": (job.result or {}).get("candidates", [])} for job in jobs.recent("copy", limit=5)]
    return CopyReview(list_products(ws.engine), approved, batches)


def copy_work(ws: Workspace, product_id: str, copy_engine: str, n: int) -> Callable:
    """A job generating title candidates for one product with the shared pipeline; checked before it is queued."""
    if copy_engine not in COPY_ENGINES:
        raise CreativeError(f"engine must be one of {', '.join(COPY_ENGINES)}")
    if not 1 <= n <= 20:
        raise CreativeError("titles per style must be between 1 and 20")
    product = get_product(ws.engine, product_id)

    def work(progress) -> dict[str, Any]:
        progress(0, 1, "loading the model" if copy_engine == "lm" else "writing candidates")
        candidates = copy_pipeline(ws).titles(product, n=n, engine=copy_engine)
        out = [{**c.to_json(), "id": str(i), "review": None} for i, c in enumerate(candidates)]
        accepted = sum(c.status == "accepted" for c in candidates)
        progress(1, 1, f"{accepted} accepted, {len(candidates) - accepted} rejected")
        return {"product_id": product.product_id, "product_name": product.name, "candidates": out}

    return work


def copy_decide(ws: Workspace, jobs, job_id: str, index: str, decision: str, username: str) -> str:
    """Approve: the candidate becomes a title element. Reject: it is marked, and removed from the library if it was approved."""
    job = jobs.get(job_id)
    result = dict(job.result or {}) if job else {}
    candidates = [dict(c) for c in result.get("candidates", [])]
    cand = next((c for c in candidates if c.get("id") == index), None)
    if cand is None:
        raise CreativeError("no such candidate; generate candidates again")
    if decision == "approve":
        element = approve_title(ws, Candidate(**{k: v for k, v in cand.items() if k in CANDIDATE_FIELDS}), reviewer=username)
        cand.update(review="approved", code=element.code)
        message = f"approved as {element.code}"
    else:
        if cand.get("code"):
            try:
                ws.elements.remove(cand["code"])
            except CreativeError:
                pass  # already removed from the library
        cand.update(review="rejected", code=None)
        message = "rejected"
    jobs.set_result(job_id, {**result, "candidates": [cand if c.get("id") == index else c for c in candidates]})
    return f"{cand['text']!r}: {message}"
