"""The batch pages' data: the launch form's choices, the rendering job, and a batch's gallery under its batch id.

A batch is known everywhere by the id composition gave it (the registry's and the manifest's); the web
job that rendered it is only a way to watch it happen. Counting and launching go through
`creative.services.batches`, so the form's count is the launch's.
"""

from __future__ import annotations

import json
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Callable, Mapping, Sequence

from creative.catalog import list_products
from creative.compose import BatchSelection
from creative.creatives import MANIFEST, Creative, batch_creatives, get_creatives
from creative.errors import CreativeError
from creative.services import Workspace, launch_batch
from creative.services.batches import banner_reviews, count_banners
from creative.services.batches import batch_folder as registered_folder
from creative.services.experiments import placement_winners
from creative.web.jobs import JobRunner, Progress
from layouts.sizes import ALL_SIZES, parse_sizes
from layouts.template import builtin_templates

SELECTION_FIELDS = ("products", "logos", "titles", "models", "backgrounds", "templates", "sizes")
DEFAULT_MAX_CREATIVES = 12
MAX_CREATIVES = 500  # a batch launched from the browser; bigger ones belong to `creative compose` or a flow
DEFAULT_SIZE = "300x250"
PREVIEW_SIZE = "300x250"
VERDICT_WORDS = {"winner": "winner", "leading": "leader so far", "ended": "led when the experiment ended",
                 "on_hold": "leader so far (on hold)", "no_data": "no data yet"}


class BatchUnknown(CreativeError):
    """No batch (and no rendering job) has this id."""


# ---- the launch form --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Choice:
    """One tickable element: its code, what a marketer calls it, and a line of detail."""

    code: str
    label: str
    detail: str = ""
    thumb: bool = False


@dataclass(frozen=True)
class TemplateChoice:
    name: str
    description: str
    boxes: tuple[tuple[str, float, float, float, float], ...]  # slot kind, x, y, w, h in 0..100 of the preview


def _template_choices() -> list[TemplateChoice]:
    size = parse_sizes(PREVIEW_SIZE)[0]
    out = []
    for name, template in builtin_templates().items():
        boxes = tuple((p.slot.kind, round(100 * p.box.x, 1), round(100 * p.box.y, 1), round(100 * p.box.w, 1), round(100 * p.box.h, 1))
                      for p in template.placements(size) if p.slot.kind != "background")
        out.append(TemplateChoice(name, template.description, boxes))
    return out


def batch_options(ws: Workspace) -> dict[str, Any]:
    """Every element a batch can use, named as a marketer knows it: products by their catalog name and brand."""
    catalog = list_products(ws.engine)
    offers: dict[str, list] = {}
    for p in catalog:
        for code in p.images:
            offers.setdefault(code, []).append(p)
    by_kind: dict[str, list[Choice]] = {}
    for e in ws.elements.list():
        if e.kind == "product":
            matched = offers.get(e.code, [])
            label = " / ".join(p.name for p in matched) or e.name
            detail = ", ".join(f"{p.brand} · {p.product_id}" for p in matched) or f"{e.brand or 'no brand'} · not in the catalog"
            choice = Choice(e.code, label, detail, True)
        elif e.kind == "title":
            choice = Choice(e.code, e.text or e.name, " · ".join(str(x) for x in (e.attributes.get("product_id"), e.attributes.get("style_label")) if x))
        elif e.kind in ("logo", "model", "background"):
            choice = Choice(e.code, e.name, e.brand or "", True)
        else:
            continue
        by_kind.setdefault(e.kind, []).append(choice)
    for choices in by_kind.values():
        choices.sort(key=lambda c: c.label.casefold())
    return {"products": by_kind.get("product", []), "logos": by_kind.get("logo", []), "titles": by_kind.get("title", []),
            "models": by_kind.get("model", []), "backgrounds": by_kind.get("background", []),
            "templates": _template_choices(), "sizes": [s.name for s in ALL_SIZES], "default_size": DEFAULT_SIZE,
            "default_max": DEFAULT_MAX_CREATIVES, "max": MAX_CREATIVES}


def selection_of(form: Mapping[str, Sequence[str]]) -> BatchSelection:
    """The form's ticks as a selection; no template ticked means all, no size ticked the default one."""
    if not form.get("products"):
        raise CreativeError("choose at least one product")
    return BatchSelection(
        products=tuple(form["products"]), logos=tuple(form.get("logos", ())), titles=tuple(form.get("titles", ())),
        models=tuple(form.get("models", ())), backgrounds=tuple(form.get("backgrounds", ())),
        templates=tuple(form.get("templates") or ("all",)), sizes=tuple(form.get("sizes") or (DEFAULT_SIZE,)))


def check_max(max_n: int) -> int:
    if not 1 <= max_n <= MAX_CREATIVES:
        raise CreativeError(f"at most must be between 1 and {MAX_CREATIVES}; use `creative compose` for bigger batches")
    return max_n


def count_message(ws: Workspace, form: Mapping[str, Sequence[str]], max_n: int) -> dict[str, Any]:
    """The form's live count: the number launch would render, from the same selection code."""
    count = count_banners(ws, selection_of(form), check_max(max_n))
    if count.banners == 0:
        message = "no banner: " + ("; ".join(count.skipped) or "choose products and templates")
    elif count.banners < count.combinations:
        message = f"{count.banners} banners (a sample of {count.combinations} combinations)"
    else:
        message = f"{count.banners} banner{'s' if count.banners != 1 else ''}"
    return {"banners": count.banners, "combinations": count.combinations, "skipped": list(count.skipped), "message": message}


def batch_work(ws: Workspace, form: Mapping[str, Sequence[str]], max_n: int) -> Callable[[Progress], dict[str, Any]]:
    """A job launching the selection as a batch in HOME/out/web-<id>; checked before it is queued."""
    chosen, max_n = selection_of(form), check_max(max_n)
    out_dir = ws.home.output_dir / (datetime.now(timezone.utc).strftime("web-%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:6])

    def work(progress: Progress) -> dict[str, Any]:
        progress(0, 0, "checking the selection")
        launched = launch_batch(ws, chosen, out_dir, max_n=max_n, workers=1,
                                progress=lambda done, total: progress(done, total, f"rendered {done} of {total}"))
        result = launched.batch
        progress(len(result.creatives), len(result.creatives), f"{len(result.creatives)} banners rendered in {result.seconds:.1f} s")
        return {"out_dir": result.out_dir, "batch": result.batch, "banners": len(result.creatives), "rejected": len(result.rejected),
                "refused": [r.to_json() for r in launched.refused], "min_quality": launched.min_quality}

    return work


# ---- a batch and its gallery ------------------------------------------------------------------------
@dataclass(frozen=True)
class Tile:
    """One banner of the gallery with what it carries, as a reviewer checks it."""

    creative: Creative
    file: str  # name inside the batch folder
    title: str | None
    product: str
    product_id: str | None
    brand: str | None
    logo: str | None  # logo element code
    warnings: tuple[str, ...]
    quality: float | None
    review: str  # approved | rejected | none

    @property
    def has_warnings(self) -> str:
        return "yes" if self.warnings else "no"


@dataclass(frozen=True)
class BatchView:
    batch: str
    folder: Path
    tiles: list[Tile]
    rejected: list[dict[str, Any]]  # failed the layout checks: never rendered
    refused: list[dict[str, Any]]  # under the quality gate's threshold when the web launched it: not published
    skipped: list[str]
    combinations: int | None
    created_at: str | None

    def values(self, attribute: str) -> list[str]:
        return sorted({str(getattr(t, attribute)) for t in self.tiles if getattr(t, attribute)})

    @property
    def products(self) -> list[tuple[str, str]]:
        return sorted({(t.product_id or t.creative.elements.get("product", ""), t.product) for t in self.tiles}, key=lambda p: p[1])


def _quality(c: Creative) -> float | None:
    """A quality score when composition gave one (in the record, its metrics or its attributes)."""
    for source in (getattr(c, "quality", None), c.metrics.get("quality"), c.attributes.get("quality")):
        if isinstance(source, (int, float)) and not isinstance(source, bool):
            return float(source)
    return None


def _web_job(jobs: JobRunner, batch: str):
    """The web job that rendered `batch`, if a recent one did."""
    return next((job for job in jobs.recent("batch", limit=200) if (job.result or {}).get("batch") == batch), None)


def batch_folder(ws: Workspace, jobs: JobRunner, batch: str) -> Path:
    """Where a batch's files are: its registered banners' folder, or (none registered) the folder its web job wrote."""
    folder = registered_folder(ws, batch)
    if folder is None:
        job = _web_job(jobs, batch)
        folder = Path(job.result["out_dir"]) if job is not None else None
    if folder is None:
        raise BatchUnknown(f"no batch {batch!r}; launch one on the Batches page")
    folder = folder.resolve()
    if not folder.is_relative_to(ws.home.root.resolve()):
        raise BatchUnknown(f"batch {batch!r} lies outside this home")
    return folder


def batch_view(ws: Workspace, jobs: JobRunner, batch: str) -> BatchView:
    folder, creatives = batch_folder(ws, jobs, batch), batch_creatives(ws.engine, batch)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    catalog = {p.product_id: p for p in list_products(ws.engine)}
    titles = {c.elements.get("title") for c in creatives} - {None}
    texts = {e.code: e.text for e in ws.elements.list("title") if e.code in titles}
    reviews = banner_reviews(ws, [c.creative_id for c in creatives])
    tiles = []
    for c in creatives:
        offer = catalog.get(c.offer_id) if c.offer_id else None
        tiles.append(Tile(
            creative=c, file=Path(c.file).name, title=texts.get(c.elements.get("title", "")),
            product=offer.name if offer else c.elements.get("product", "–"), product_id=c.offer_id,
            brand=(offer.brand if offer else None) or (str(c.attributes["brand"]) if c.attributes.get("brand") else None),
            logo=c.elements.get("logo"), warnings=tuple(c.violations) + tuple(c.warnings), quality=_quality(c),
            review=reviews.get(c.creative_id, "none")))
    job = _web_job(jobs, batch)
    return BatchView(batch, folder, tiles, list(manifest.get("rejected") or []), list((job.result or {}).get("refused") or []) if job else [],
                     list(manifest.get("skipped") or []),
                     manifest.get("combinations"), manifest.get("created_at"))


def write_zip(out: IO[bytes], root: Path, creatives: Sequence[Creative], extra: Mapping[str, bytes] | None = None) -> int:
    """The banners' files (every format) into a zip, with `extra` named files; files outside `root` are left out.

    Returns how many banners went in."""
    root = root.resolve()
    written = set()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:  # JPEG/PNG/WebP are compressed already
        for c in creatives:
            for name in sorted(set(c.files.values()) or {Path(c.file).name}):
                path = (Path(c.file).parent / name).resolve()
                if path.is_relative_to(root) and path.is_file():
                    z.write(path, arcname=name)
                    written.add(c.creative_id)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return len(written)


def batch_zip(ws: Workspace, jobs: JobRunner, batch: str, out: IO[bytes], only: str | None = None) -> int:
    """A batch's banners and its manifest; `only="approved"` keeps the ones a reviewer approved."""
    folder, creatives = batch_folder(ws, jobs, batch), batch_creatives(ws.engine, batch)
    if only is not None:
        reviews = banner_reviews(ws, [c.creative_id for c in creatives])
        creatives = [c for c in creatives if reviews.get(c.creative_id) == only]
        if not creatives:
            raise CreativeError(f"no banner of batch {batch} is {only}; review the banners first")
    manifest = folder / MANIFEST
    return write_zip(out, folder, creatives, {MANIFEST: manifest.read_bytes()} if manifest.is_file() else None)


def winners_zip(ws: Workspace, experiment_id: str, out: IO[bytes]) -> int:
    """Each placement's winner (or, before one is called, its leader) with a CSV saying which is which."""
    picks = placement_winners(ws, experiment_id)
    creatives = get_creatives(ws.engine, [cid for _, cid, _ in picks])
    found = [(placement, creatives[cid], kind) for placement, cid, kind in picks if cid in creatives]
    if not found:
        raise CreativeError(f"experiment {experiment_id} has no banner on file to download")
    lines = ["placement,creative_id,file,verdict"] + [
        f"{placement},{c.creative_id},{Path(c.file).name},{VERDICT_WORDS.get(kind, kind)}"
        for placement, c, kind in found]
    return write_zip(out, ws.home.root, [c for _, c, _ in found], {"winners.csv": ("\n".join(lines) + "\n").encode()})
