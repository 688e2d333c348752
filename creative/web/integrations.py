"""The web front's calls into the other libraries (compose, copy, experiments), in one place.

Each function turns form values into library calls and library results into plain dicts for the
templates; when a library part is not installed the page says so instead of failing.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import Engine

from creative.catalog import list_products
from creative.elements.store import ElementStore
from creative.errors import CreativeError
from creative.home import Home

log = logging.getLogger("creative.web")

SELECTION_FIELDS = ("products", "logos", "titles", "models", "backgrounds", "templates", "sizes")
DEFAULT_MAX_CREATIVES = 12
MAX_CREATIVES = 500  # a batch launched from the browser; bigger ones belong to `creative compose` or a flow


class FeatureMissing(CreativeError):
    """A library part the page needs is not available in this installation."""


# ---- batch launch -----------------------------------------------------------------------------------
def batch_options(home: Home, engine: Engine) -> dict[str, Any]:
    store = ElementStore(home, engine)
    elements = store.list()
    try:
        from layouts.sizes import ALL_SIZES
        from layouts.template import builtin_templates

        templates = list(builtin_templates())
        sizes = [s.name for s in ALL_SIZES]
    except Exception as exc:  # noqa: BLE001 - shown on the page
        templates, sizes = [], []
        log.warning("layouts unavailable: %s", exc)
    by_kind: dict[str, list] = {}
    for e in elements:
        by_kind.setdefault(e.kind, []).append(e)
    try:
        import creative.compose  # noqa: F401

        compose_ok = True
    except ImportError:
        compose_ok = False
    return {"products": by_kind.get("product", []), "logos": by_kind.get("logo", []), "titles": by_kind.get("title", []),
            "models": by_kind.get("model", []), "backgrounds": by_kind.get("background", []), "catalog": list_products(engine),
            "templates": templates, "sizes": sizes, "compose_available": compose_ok}


def batch_work(home: Home, engine: Engine, selection: Mapping[str, Sequence[str]], max_n: int) -> Callable:
    """A job function rendering the selection into HOME/out/web-<id>; checked before it is queued."""
    try:
        from creative.compose import BatchSelection, compose_batch
    except ImportError as exc:
        raise FeatureMissing(f"batch rendering is not available in this installation ({exc}); install the compose module") from None
    if not selection.get("products"):
        raise CreativeError("choose at least one product")
    if not 1 <= max_n <= MAX_CREATIVES:
        raise CreativeError(f"max creatives must be between 1 and {MAX_CREATIVES}; use `creative compose` for bigger batches")
    chosen = BatchSelection(
        products=tuple(selection["products"]), logos=tuple(selection.get("logos", ())), titles=tuple(selection.get("titles", ())),
        models=tuple(selection.get("models", ())), backgrounds=tuple(selection.get("backgrounds", ())),
        templates=tuple(selection.get("templates") or ("all",)), sizes=tuple(selection.get("sizes") or ("300x250",)))
    name = datetime.now(timezone.utc).strftime("web-%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:6]
    out_dir = home.output_dir / name

    def work(progress) -> dict[str, Any]:
        progress(0, 0, "checking the selection")
        result = compose_batch(home, engine, chosen, out_dir, max_n=max_n, workers=1,
                               progress=lambda done, total: progress(done, total, f"rendered {done} of {total}"))
        return {"out_dir": result.out_dir, "manifest": result.manifest, "gallery": result.gallery, "batch": result.batch,
                "creatives": [{"id": c["id"], "file": c["file"], "size": c["size"], "template": c["template"],
                               "violations": c.get("violations", [])} for c in result.creatives],
                "rejected": [{"id": r["id"], "reasons": r.get("reasons", [])} for r in result.rejected],
                "skipped": list(result.skipped), "combinations": result.combinations, "seconds": round(result.seconds, 2)}

    return work


def experiment_from_manifest(engine: Engine, manifest: str, name: str, policy: str) -> str:
    """An experiment over a batch's creatives (the manifest gives them with absolute file paths)."""
    from experiments.store import ExperimentStore, load_manifest

    return ExperimentStore(engine).create_experiment(name, load_manifest(manifest).arms, policy)


# ---- experiments ------------------------------------------------------------------------------------
def element_effects(arms, counts: Mapping[str, tuple[int, int]]) -> list[dict[str, Any]] | None:
    """Ranked element effects, or None while there is nothing to fit."""
    if sum(n for n, _ in counts.values()) == 0:
        return None
    try:
        from experiments.effects import fit_effects
    except ImportError:
        return None
    try:
        result = fit_effects(arms, counts)
    except Exception:  # noqa: BLE001 - effects are a secondary view; the page still shows the rest
        log.exception("fitting element effects failed")
        return None
    return [{"attribute": e.attribute, "value": e.value, "baseline": e.baseline, "odds_ratio": e.odds_ratio,
             "ci_low": e.ci_low, "ci_high": e.ci_high, "p_positive": e.p_positive, "credible": e.credible,
             "impressions": e.impressions, "clicks": e.clicks} for e in result.ranked()]


# ---- copy review ------------------------------------------------------------------------------------
COPY_ENGINES = ("grammar", "lm")


@dataclass
class CopyReview:
    products: list[Any]
    approved: list[dict[str, Any]] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)  # one per generation job, newest first


def copy_review(home: Home, engine: Engine, jobs) -> CopyReview:
    """Generated candidates (accepted ones to approve, rejected ones with reasons) and the titles already approved."""
    store = ElementStore(home, engine)
    approved = [{"code": e.code, "text": e.text, "name": e.name, "style": e.attributes.get("style_label") or e.attributes.get("style"),
                 "score": e.attributes.get("score"), "product": e.attributes.get("product_id"), "language": e.attributes.get("language"),
                 "reviewer": e.attributes.get("reviewer")} for e in store.list("title")]
    batches = []
    for job in jobs.recent("copy", limit=5):
        batches.append({"job_id": job.job_id, "status": job.status, "message": job.message, "params": job.params,
                        "candidates": (job.result or {}).get("candidates", [])})
    return CopyReview(list_products(engine), approved, batches)


def copy_work(home: Home, engine: Engine, product_id: str, copy_engine: str, n: int) -> Callable:
    """A job generating title candidates for one product; checked before it is queued."""
    from creative.catalog import get_product
    from creative.copy.pipeline import CopyPipeline

    if copy_engine not in COPY_ENGINES:
        raise CreativeError(f"engine must be one of {', '.join(COPY_ENGINES)}")
    if not 1 <= n <= 20:
        raise CreativeError("titles per style must be between 1 and 20")
    product = get_product(engine, product_id)

    def work(progress) -> dict[str, Any]:
        progress(0, 1, "loading the model" if copy_engine == "lm" else "writing candidates")
        pipeline = CopyPipeline(brands=[p.brand for p in list_products(engine)], cache_dir=home.model_cache_dir)
        candidates = pipeline.titles(product, n=n, engine=copy_engine)
        out = []
        for i, c in enumerate(candidates):
            data = c.to_json()
            data.update(id=str(i), review=None)
            out.append(data)
        progress(1, 1, f"{sum(c.status == 'accepted' for c in candidates)} accepted, {sum(c.status != 'accepted' for c in candidates)} rejected")
        return {"product_id": product.product_id, "product_name": product.name, "candidates": out}

    return work


def copy_decide(home: Home, engine: Engine, jobs, job_id: str, index: str, decision: str, username: str) -> str:
    """Approve: the candidate becomes a title element. Reject: it is marked, and removed from the library if it was approved."""
    from creative.catalog import get_product
    from sqlalchemy import update

    from creative.web import tables as t

    job = jobs.get(job_id)
    result = dict(job.result or {}) if job else {}
    candidates = [dict(c) for c in result.get("candidates", [])]
    cand = next((c for c in candidates if c.get("id") == index), None)
    if cand is None:
        raise CreativeError("no such candidate; generate candidates again")
    store = ElementStore(home, engine)
    if decision == "approve":
        if cand["status"] != "accepted":
            raise CreativeError(f"this title failed the guardrails ({'; '.join(cand.get('reasons') or [])}); it cannot be approved")
        product = get_product(engine, cand["product_id"])
        attrs = {"product_id": product.product_id, "style": cand["style"], "style_label": cand.get("style_label"), "language": cand["language"],
                 "engine": cand["engine"], "score": cand.get("score"), "loglik": cand.get("loglik"), "style_fit": cand.get("style_fit"),
                 "reviewer": username}
        element = store.add_text("title", cand["text"], name=f"{product.product_id} {cand['style']} title", attributes=attrs, brand=product.brand)
        cand.update(review="approved", code=element.code)
        message = f"approved as {element.code}"
    else:
        if cand.get("code"):
            try:
                store.remove(cand["code"])
            except CreativeError:
                pass
        cand.update(review="rejected", code=None)
        message = "rejected"
    result["candidates"] = [cand if c.get("id") == index else c for c in candidates]
    with engine.begin() as conn:
        conn.execute(update(t.jobs).where(t.jobs.c.job_id == job_id).values(result=result))
    return f"{cand['text']!r}: {message}"
