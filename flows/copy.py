"""generate_copy: products into title (and article) elements; one task per product, cached on its facts."""


import hashlib
import json
import threading
from datetime import timedelta
from functools import cache

from prefect import flow, task
from pydantic import Field

from creative.catalog import get_product, list_products
from creative.copy.pipeline import CopyPipeline, store_article, store_titles
from creative.copy.styles import STYLES
from creative.services import guardrail_brands
from flows.common import FlowParams, publish, run_logger, run_name


class CopyParams(FlowParams):
    products: list[str] = []  # empty: the whole catalog
    styles: list[str] = list(STYLES)
    n: int = Field(default=5, ge=1, le=50)
    engine: str = Field(default="lm", pattern="^(lm|grammar)$")
    model: str | None = None
    article_keywords: list[str] | None = None  # when given, also write one article per product
    seed: int = 0


# Generation already uses every core; tasks in one process take turns on the one loaded model.
_MODEL_LOCK = threading.Lock()


@cache
def _pipeline(model: str | None, cache_dir: str, brands: tuple[str, ...], seed: int) -> CopyPipeline:
    """One pipeline (and one loaded model) per worker process; `brands` from services.guardrail_brands."""
    return CopyPipeline(model_spec=model, cache_dir=cache_dir, brands=brands, seed=seed)


def _facts_key(context, arguments) -> str:
    """Generation is re-used while the product's facts, the request and the model are unchanged."""
    params: CopyParams = arguments["params"]
    product = get_product(params.open()[1].engine, arguments["product_id"])
    payload = {"facts": product.to_json(), "brands": arguments["brands"],
               **params.model_dump(exclude={"products", "home", "db_url"})}
    return "copy-" + hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@task(cache_key_fn=_facts_key, cache_expiration=timedelta(days=30), retries=1)
def write_candidates(params: CopyParams, product_id: str, brands: tuple[str, ...]) -> dict:
    """Titles (and an article) with guardrail verdicts; pure of the library, so safe to cache."""
    home, store = params.open()
    product = get_product(store.engine, product_id)
    with _MODEL_LOCK:
        pipeline = _pipeline(params.model, str(home.model_cache_dir), brands, params.seed)
        titles = pipeline.titles(product, styles=params.styles, n=params.n, engine=params.engine)
        article = None
        if params.article_keywords is not None:
            article = pipeline.article(product, keywords=params.article_keywords or product.keywords, engine=params.engine)
    return {"titles": titles, "article": article, "model": pipeline.model_name}


@task
def store_copy(params: CopyParams, product_id: str, written: dict) -> dict:
    """The top titles per style (and the best article) become library elements; idempotent by content."""
    _, store = params.open()
    product = get_product(store.engine, product_id)
    stored = store_titles(store, product, written["titles"], params.n, written["model"])
    best = store_article(store, product, written["article"], written["model"]) if written["article"] else None
    candidates = written["titles"]
    return {
        "product_id": product_id,
        "titles": [c.code for c in stored],
        "by_style": {s: [c.text for c in stored if c.style == s] for s in params.styles},
        "accepted": sum(c.status == "accepted" for c in candidates),
        "rejected": sum(c.status == "rejected" for c in candidates),
        "engines": sorted({c.engine for c in stored}),
        "article": best.code if best else None,
    }


def _title(params: CopyParams) -> str:
    products = f"{len(params.products)} products" if params.products else "the whole catalog"
    return f"copy · {products} · {params.n} per style · {params.engine}"


@flow(name="generate_copy", flow_run_name=run_name(CopyParams, _title, "copy"))
def generate_copy(params: CopyParams) -> list[dict]:
    """Titles per style for each product, stored as T- elements; rejected candidates are counted."""
    _, store = params.open()
    catalog = list_products(store.engine)
    brands = guardrail_brands(params.workspace())
    ids = params.products or [p.product_id for p in catalog]
    written = [write_candidates.submit(params, pid, brands) for pid in ids]
    results = [store_copy(params, pid, w.result()) for pid, w in zip(ids, written)]
    log = run_logger()
    for r in results:
        log.info("%s: %d titles stored, %d candidates accepted, %d rejected by the guardrails", r["product_id"], len(r["titles"]),
                 r["accepted"], r["rejected"])
    summary = "# Copy generated\n\n" + "\n".join(
        f"- **{r['product_id']}**: {len(r['titles'])} titles stored ({', '.join(r['engines'])}), "
        f"{r['accepted']} accepted / {r['rejected']} rejected candidates" for r in results)
    rows = [{"product": r["product_id"], "style": s, "title": t} for r in results for s, ts in r["by_style"].items() for t in ts[:3]]
    publish("generate-copy", summary, rows)
    return results
