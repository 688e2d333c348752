"""The web front's calls into the other libraries (compose, copy, experiments), in one place.

Each function turns form values into library calls and library results into plain dicts for the
templates; when a library part is not installed the page says so instead of failing.
"""

from __future__ import annotations

import json
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
    """An experiment over a batch's creatives; files become absolute so serving finds them."""
    from experiments.store import ExperimentStore

    path = Path(manifest)
    raw = json.loads(path.read_text(encoding="utf-8"))
    creatives = []
    for item in raw.get("creatives", []):
        item = dict(item)
        if item.get("file") and not Path(item["file"]).is_absolute():
            item["file"] = str(path.parent / item["file"])
        # the composer lists soft warnings (a dropped slot, small text) beside hard violations;
        # only a hard one keeps a banner out of the test
        item["violations"] = [v for v in item.get("violations") or () if not isinstance(v, Mapping) or v.get("hard", True)]
        # effects are learned on scalar attributes; lists and missing values say nothing to compare
        item["attributes"] = {k: v for k, v in (item.get("attributes") or {}).items() if isinstance(v, (str, bool, int, float))}
        creatives.append(item)
    return ExperimentStore(engine).create_experiment(name, creatives, policy)


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
@dataclass
class CopyReview:
    available: bool
    message: str = ""
    approved: list[dict[str, Any]] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)


def copy_review(home: Home, engine: Engine) -> CopyReview:
    """Titles in the library (approved copy) and, when the copy module keeps them, rejected candidates."""
    store = ElementStore(home, engine)
    approved = [{"code": e.code, "text": e.text, "name": e.name, "style": e.attributes.get("style"), "score": e.attributes.get("score"),
                 "product": e.attributes.get("product_id"), "language": e.attributes.get("language")} for e in store.list("title")]
    try:
        from creative.copy import review as copy_review_api  # type: ignore[attr-defined]
    except ImportError:
        return CopyReview(False, "candidate review needs creative.copy.review (list_candidates / decide); "
                                 "titles already in the library are listed below", approved)
    candidates = [dict(c) for c in copy_review_api.list_candidates(home, engine)]
    return CopyReview(True, "", approved, candidates)


def copy_decide(home: Home, engine: Engine, candidate_id: str, decision: str, username: str) -> str:
    try:
        from creative.copy import review as copy_review_api  # type: ignore[attr-defined]
    except ImportError:
        raise FeatureMissing("approving copy candidates needs creative.copy.review, which this installation lacks") from None
    return str(copy_review_api.decide(home, engine, candidate_id, decision, reviewer=username))
