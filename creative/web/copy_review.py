"""The copy review as a marketer reads it: runs grouped by product, candidates by style, accepted first.

A generation run asks for `n` titles per style; the review shows that many accepted ones per style
(the best first), keeps any further accepted ones and the rejected ones one click away, and records
each reviewer decision (approve, reject, un-approve, edit) in the run's job result. The business steps
(guardrails, storing a title) are `creative.services.copy`'s.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Sequence

from creative.catalog import Product, get_product, list_products
from creative.copy.loading import needs_conversion
from creative.copy.pipeline import Candidate, CopyPipeline
from creative.copy.styles import STYLES
from creative.errors import CreativeError
from creative.services import Workspace, approve_title, copy_pipeline
from creative.services.copy import edit_title, withdraw_title
from creative.web.jobs import JobRunner, JobStatus, Progress

COPY_ENGINES = ("grammar", "lm")
MAX_PER_STYLE = 20
DECISIONS = ("approve", "reject", "unapprove")
CANDIDATE_FIELDS = frozenset(f.name for f in fields(Candidate))
RUNS_SHOWN = 8
MAX_EDIT_CHARS = 500  # the edit field's maxlength too (static/marketer.js): a title is far shorter
LOADING = "loading the model"
CONVERTING = "preparing the model (first use in this home: converting it once)"
# A decision reads a run's candidates, acts, and writes them back: two at once in this process would each
# write back their own copy and lose the other's. Held across that read-act-write (several worker processes
# can still race; the review is one marketer's at a time in practice).
_DECIDING = threading.Lock()


@dataclass
class StyleGroup:
    style: str
    label: str
    shown: list[dict[str, Any]] = field(default_factory=list)  # the requested number of accepted ones, best first
    more: list[dict[str, Any]] = field(default_factory=list)  # accepted beyond the requested number
    rejected: list[dict[str, Any]] = field(default_factory=list)  # failed the guardrails, with reasons


@dataclass
class CopyRun:
    job: JobStatus
    product_id: str
    engine: str
    n: int
    styles: list[StyleGroup]

    @property
    def busy(self) -> bool:
        return self.job.busy


@dataclass
class ProductRuns:
    product_id: str
    name: str
    runs: list[CopyRun]


@dataclass
class CopyReview:
    products: list[Any]  # the catalog, for the generate form
    groups: list[ProductRuns]  # products with runs, the most recent run's product first
    approved: list[dict[str, Any]]  # title elements in the library


def group_by_style(candidates: Sequence[dict[str, Any]], n: int) -> list[StyleGroup]:
    """Accepted candidates first (in the ranking's order), `n` of them shown per style; the rest collapsed.

    An approved or edited candidate is always shown, even past `n`: what is in the library, or was just
    rewritten, must be visible."""
    groups: dict[str, StyleGroup] = {}
    order = {s: i for i, s in enumerate(STYLES)}
    for c in candidates:
        group = groups.setdefault(c["style"], StyleGroup(c["style"], c.get("style_label") or c["style"]))
        if c["status"] != "accepted":
            group.rejected.append(c)
        elif len(group.shown) < n or c.get("review") == "approved" or c.get("edited_from"):
            group.shown.append(c)
        else:
            group.more.append(c)
    return sorted(groups.values(), key=lambda g: order.get(g.style, len(order)))


def copy_review(ws: Workspace, jobs: JobRunner) -> CopyReview:
    catalog = list_products(ws.engine)
    names = {p.product_id: p.name for p in catalog}
    groups: dict[str, ProductRuns] = {}
    for job in jobs.recent("copy", limit=RUNS_SHOWN):
        params = job.params or {}
        product_id = str(params.get("product", ""))
        n = int(params.get("n") or 1)
        run = CopyRun(jobs.status(job), product_id, str(params.get("engine", "")), n,
                      group_by_style((job.result or {}).get("candidates", []), n))
        groups.setdefault(product_id, ProductRuns(product_id, names.get(product_id, product_id), [])).runs.append(run)
    approved = [{"code": e.code, "text": e.text, "name": e.name, "style": e.attributes.get("style_label") or e.attributes.get("style"),
                 "score": e.attributes.get("score"), "product": e.attributes.get("product_id"), "language": e.attributes.get("language"),
                 "reviewer": e.attributes.get("reviewer")} for e in ws.elements.list("title")]
    return CopyReview(catalog, list(groups.values()), approved)


def loaded_pipeline(ws: Workspace, product: Product, engine: str, progress: Progress) -> CopyPipeline:
    """The shared pipeline, its model loaded as a phase of its own when the model will write for `product`."""
    pipeline = copy_pipeline(ws)
    if engine == "lm" and not pipeline.model_loaded and pipeline.writes(product.language):
        # converting the GGUF takes a minute or more, reading the converted copy seconds: two phases, two estimates
        phase = CONVERTING if needs_conversion(pipeline.model_spec, pipeline.cache_dir) else LOADING
        progress(0, 0, phase, phase=phase)
        pipeline.model  # noqa: B018 - loads it, so the load is its own phase with its own estimate
    return pipeline


def copy_work(ws: Workspace, product_id: str, copy_engine: str, n: int) -> Callable[[Progress], dict[str, Any]]:
    """A job generating title candidates for one product with the shared pipeline; checked before it is queued."""
    if copy_engine not in COPY_ENGINES:
        raise CreativeError(f"engine must be one of {', '.join(COPY_ENGINES)}")
    if not 1 <= n <= MAX_PER_STYLE:
        raise CreativeError(f"titles per style must be between 1 and {MAX_PER_STYLE}")
    product = get_product(ws.engine, product_id)

    def work(progress: Progress) -> dict[str, Any]:
        pipeline = loaded_pipeline(ws, product, copy_engine, progress)
        writing = f"writing titles ({copy_engine})"  # a phase: before the first style is done, last run's length is the estimate
        progress(0, len(STYLES), "writing titles", phase=writing)
        candidates = pipeline.titles(product, n=n, engine=copy_engine,
                                     progress=lambda done, total: progress(done, total, f"writing titles: {done} of {total} styles", phase=writing))
        out = [{**c.to_json(), "id": str(i), "review": None} for i, c in enumerate(candidates)]
        accepted = sum(c.status == "accepted" for c in candidates)
        progress(len(STYLES), len(STYLES), f"{accepted} accepted, {len(candidates) - accepted} rejected", phase=writing)
        return {"product_id": product.product_id, "product_name": product.name, "candidates": out}

    return work


def _candidates(jobs: JobRunner, job_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    job = jobs.get(job_id)
    if job is None or job.kind != "copy" or job.status != "done":
        raise CreativeError("no finished copy run with that id; generate candidates again")
    result = dict(job.result or {})
    return result, [dict(c) for c in result.get("candidates", [])]


def _decide_one(ws: Workspace, cand: dict[str, Any], decision: str, username: str) -> str:
    if decision == "approve":
        if cand.get("review") == "approved":
            return f"{cand['text']!r} was already approved"
        element = approve_title(ws, Candidate(**{k: v for k, v in cand.items() if k in CANDIDATE_FIELDS}), reviewer=username)
        cand.update(review="approved", code=element.code)
        return f"{cand['text']!r}: approved as {element.code}"
    if cand.get("code"):
        withdraw_title(ws, cand["code"])
    cand.update(review="rejected" if decision == "reject" else None, code=None)
    return f"{cand['text']!r}: {'rejected' if decision == 'reject' else 'back to review, out of the library'}"


def copy_decide(ws: Workspace, jobs: JobRunner, job_id: str, ids: Sequence[str], decision: str, username: str) -> str:
    """Approve (the title becomes a library element), reject or un-approve (it leaves the library) one or more candidates."""
    if decision not in DECISIONS:
        raise CreativeError(f"decision must be one of {', '.join(DECISIONS)}")
    if not ids:
        raise CreativeError("tick at least one title first")
    with _DECIDING:
        result, candidates = _candidates(jobs, job_id)
        by_id = {c["id"]: c for c in candidates}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise CreativeError(f"no candidate {missing[0]!r} in this run; reload the page")
        messages = []
        try:
            for i in dict.fromkeys(ids):
                messages.append(_decide_one(ws, by_id[i], decision, username))
        finally:  # what was done before a refusal stays recorded
            jobs.set_result(job_id, {**result, "candidates": candidates})
    if len(messages) == 1:
        return messages[0]
    verb = {"approve": "approved", "reject": "rejected", "unapprove": "back to review"}[decision]
    return f"{len(messages)} titles {verb}"


def copy_edit(ws: Workspace, jobs: JobRunner, job_id: str, index: str, text: str) -> str:
    """A reviewer's rewrite replaces the candidate's text after the guardrails ran on it again; an approved one leaves the library."""
    if len(text) > MAX_EDIT_CHARS:
        raise CreativeError(f"an edited title has at most {MAX_EDIT_CHARS} characters and this one has {len(text)}; shorten it "
                            "(nothing was changed)")
    with _DECIDING:
        result, candidates = _candidates(jobs, job_id)
        cand = next((c for c in candidates if c["id"] == index), None)
        if cand is None:
            raise CreativeError(f"no candidate {index!r} in this run; reload the page")
        others = [c["text"] for c in candidates if c["id"] != index and c["style"] == cand["style"] and c["status"] == "accepted"]
        edited = edit_title(ws, Candidate(**{k: v for k, v in cand.items() if k in CANDIDATE_FIELDS}), text, others)
        if cand.get("code"):
            withdraw_title(ws, cand["code"])
        cand.update({**edited.to_json(), "id": index, "review": None, "code": None, "edited_from": cand.get("edited_from") or cand["text"]})
        jobs.set_result(job_id, {**result, "candidates": candidates})
    if edited.status == "accepted":
        return f"{edited.text!r} passed the guardrails; approve it to add it to the library"
    return f"{edited.text!r} fails the guardrails: {'; '.join(edited.reasons)}"
