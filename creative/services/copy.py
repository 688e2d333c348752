"""Copy use cases: one guardrail brand list for every front, a reviewer's approval, withdrawal and edit of a title."""

from __future__ import annotations

from typing import Any, Sequence

from creative.brands import kits_by_brand
from creative.catalog import get_product, list_products
from creative.copy.guardrails import duplicate_reason
from creative.copy.pipeline import Candidate, CopyPipeline, store_titles
from creative.elements import Element
from creative.errors import CreativeError, ElementNotFound
from creative.services.workspace import Workspace


def guardrail_brands(ws: Workspace) -> tuple[str, ...]:
    """Every brand and product name in the catalog: a title naming another one breaks the facts guardrail."""
    return tuple(sorted({x for p in list_products(ws.engine) for x in (p.brand, p.name)}))


def brand_banned_words(ws: Workspace) -> dict[str, tuple[str, ...]]:
    """Each brand kit's banned words by brand_key: a title for that brand's products may not use them."""
    return {key: kit.banned for key, kit in kits_by_brand(ws.engine).items() if kit.banned}


def copy_pipeline(ws: Workspace, *, model: str | None = None, seed: int = 0, **options: Any) -> CopyPipeline:
    """The copy pipeline every front uses: the catalog's brands, the brand kits' banned words, the home's model cache."""
    return CopyPipeline(model_spec=model, cache_dir=ws.home.model_cache_dir, brands=guardrail_brands(ws), seed=seed,
                        brand_banned=brand_banned_words(ws), **options)


def approve_title(ws: Workspace, candidate: Candidate, reviewer: str | None = None) -> Element:
    """A reviewed title becomes a title element of its product (idempotent by text); refused if it failed the guardrails."""
    if candidate.kind != "title" or candidate.status != "accepted":
        raise CreativeError(f"this title failed the guardrails ({'; '.join(candidate.reasons) or 'not accepted'}); it cannot be approved")
    product = get_product(ws.engine, candidate.product_id)
    store = ws.elements
    stored = store_titles(store, product, [candidate], n=1, reviewer=reviewer)
    return store.get(stored[0].code)


def withdraw_title(ws: Workspace, code: str) -> None:
    """Take an approved title back out of the library (un-approve); one already gone is not an error."""
    try:
        ws.elements.remove(code)
    except ElementNotFound:
        pass


def edit_title(ws: Workspace, candidate: Candidate, text: str, others: Sequence[str] = ()) -> Candidate:
    """A reviewer's rewrite of a candidate, judged by the guardrails generated titles pass (engine "edited").

    `others` are the accepted titles of the same style: a near duplicate of one of them is refused, as in ranking.
    """
    text = " ".join(text.split())
    if not text:
        raise CreativeError("the new title is empty; type the text or cancel the edit to keep the old one")
    product = get_product(ws.engine, candidate.product_id)
    edited = Candidate(text, candidate.style, candidate.language, "edited", product.product_id)
    copy_pipeline(ws).judge_title(edited, product)
    why = duplicate_reason(text, [o for o in others if o != text], product.language)
    if why:
        edited.reasons.append(why)
    edited.status = "rejected" if edited.reasons else "accepted"
    return edited
