"""The designer's library: a folder of uploads (one sub-folder per kind, catalogs at the top), one upload with its
duplicates named, search, where an element is used, and removal that spares what running experiments need."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from creative.brands import import_kits
from creative.catalog import ImportReport, Product, import_catalog, products_showing
from creative.creatives import creatives_using
from creative.elements import FOLDER_KINDS, IMAGE_SUFFIXES, Element
from creative.elements.store import AddResult, check_name
from creative.elements.validation import check_file
from creative.errors import CreativeError, ElementInUse
from creative.services.workspace import Workspace
from experiments.model import ExperimentState

CATALOG_SUFFIXES = (".csv", ".json")
BRAND_KITS = Path("brands/kits.json")  # a library folder's brand kits, beside its kind folders


def kind_folders(root: Path) -> list[tuple[Path, str]]:
    """(sub-folder, element kind) for each kind folder present under `root`."""
    if not root.is_dir():
        raise CreativeError(f"{root} is not a folder; give a folder with products/, logos/, models/ or backgrounds/ inside")
    return [(root / name, kind) for name, kind in FOLDER_KINDS.items() if (root / name).is_dir()]


def add_kind_folder(ws: Workspace, folder: Path, kind: str, *, brand: str | None = None,
                    brands: Mapping[str, str] | None = None, tags: Mapping[str, str] | None = None) -> list[AddResult]:
    """Every image in one kind folder; the files of one brand are validated together and stored all or none.

    `brands` names the brand of a file by its stem (a logo belongs to the brand of the products that use it);
    files it does not name get `brand`."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    by_brand: dict[str | None, list[Path]] = {}
    for path in files:
        by_brand.setdefault((brands or {}).get(path.stem, brand), []).append(path)
    results: list[AddResult] = []
    for owner, paths in by_brand.items():
        results += ws.elements.add_images(paths, kind, brand=owner, tags=dict(tags or {}))
    return results


def import_folder_catalogs(ws: Workspace, root: Path, names: tuple[str, ...] | None = None) -> list[ImportReport]:
    """The catalogs at the top of `root` (all *.csv and *.json, or just `names`), in name order; first the
    brand kits in `root`/brands/kits.json when there is one (see creative.brands)."""
    if (root / BRAND_KITS).is_file():
        import_kits(ws.engine, root / BRAND_KITS)
    paths = [root / n for n in names] if names else sorted(p for p in root.iterdir() if p.suffix.lower() in CATALOG_SUFFIXES)
    resolver = ws.elements.image_resolver()
    return [import_catalog(ws.engine, path, resolver) for path in paths]


def add_library_folder(ws: Workspace, root: Path, *, brand: str | None = None, brands: Mapping[str, str] | None = None,
                       tags: Mapping[str, str] | None = None, catalogs: tuple[str, ...] | None = None,
                       on_folder: Callable[[str, int], None] | None = None) -> tuple[list[AddResult], list[ImportReport]]:
    """Images first (catalogs refer to them), then catalogs; running it twice changes nothing."""
    added: list[AddResult] = []
    for folder, kind in kind_folders(root):
        part = add_kind_folder(ws, folder, kind, brand=brand, brands=brands, tags=tags)
        added += part
        if on_folder:
            on_folder(kind, len(part))
    return added, import_folder_catalogs(ws, root, catalogs)


# ---- one upload, search, where-used and guarded removal (the web's designer journey; any front may call them)
@dataclass(frozen=True)
class Uploaded:
    """What one uploaded file became. `element` is None when it was held back: the same bytes are already
    an element of another kind, and the designer did not ask for a second one."""
    element: Element | None
    created: bool
    notes: tuple[str, ...] = ()
    same_bytes: Element | None = None  # the element that already holds these bytes, if any


def upload_image(ws: Workspace, path: Path, kind: str, *, brand: str | None = None, tags: Mapping[str, str] | None = None,
                 as_another_kind: bool = False) -> Uploaded:
    """One file into the library. Bytes already stored as this kind give that element back; bytes stored as
    another kind are not stored again unless `as_another_kind` says the designer means it (a product photo
    reused as a background, say)."""
    same = ws.elements.with_bytes(check_file(path))
    own = next((e for e in same if e.kind == kind), None)
    if own is not None:
        return Uploaded(own, created=False, same_bytes=own)
    if same and not as_another_kind:
        return Uploaded(None, created=False, same_bytes=same[0])
    added = ws.elements.add_images([path], kind, brand=brand, tags=dict(tags or {}))[0]
    return Uploaded(added.element, created=added.created, notes=added.notes, same_bytes=same[0] if same else None)


def find_elements(ws: Workspace, query: str = "", *, kind: str | None = None, brand: str | None = None) -> list[Element]:
    """Elements whose code, name, brand, kind or uploaded file name hold every word of `query` (any case)."""
    words = query.casefold().split()
    found = []
    for e in ws.elements.list(kind):
        if brand and e.brand != brand:
            continue
        haystack = " ".join(str(v) for v in (e.code, e.name, e.brand or "", e.kind, e.attributes.get("source_name") or "")).casefold()
        if all(w in haystack for w in words):
            found.append(e)
    return found


ACTIVE_STATES = (ExperimentState.RUNNING, ExperimentState.PAUSED)


@dataclass(frozen=True)
class ExperimentUse:
    experiment_id: str
    name: str
    status: str
    arms: int  # its creatives made with the element

    @property
    def active(self) -> bool:
        """Rounds still close and a next generation may recombine the element."""
        return self.status in ACTIVE_STATES


@dataclass(frozen=True)
class BatchUse:
    batch: str
    creatives: int


@dataclass(frozen=True)
class ElementUse:
    """Where an element is used: catalog products showing it, batches made with it, experiments over those banners."""
    element: Element
    products: tuple[Product, ...]
    batches: tuple[BatchUse, ...]
    experiments: tuple[ExperimentUse, ...]

    @property
    def blocking(self) -> tuple[ExperimentUse, ...]:
        return tuple(x for x in self.experiments if x.active)

    @property
    def used(self) -> bool:
        return bool(self.products or self.batches or self.experiments)


def where_used(ws: Workspace, code: str) -> ElementUse:
    element = ws.elements.get(code)
    creatives = creatives_using(ws.engine, code)
    per_batch: dict[str, int] = {}
    for c in creatives:
        per_batch[c.batch] = per_batch.get(c.batch, 0) + 1
    experiments = []
    for experiment_id, arms in ws.experiments.experiments_with_arms(c.creative_id for c in creatives).items():
        status = ws.experiments.status(experiment_id)
        experiments.append(ExperimentUse(experiment_id, status.name, status.status, len(arms)))
    return ElementUse(element, tuple(products_showing(ws.engine, code)), tuple(BatchUse(b or "unnamed", n) for b, n in per_batch.items()),
                      tuple(sorted(experiments, key=lambda x: (not x.active, x.name))))


def edit_element(ws: Workspace, code: str, name: str, brand: str) -> Element:
    """Rename an element and set its brand (an empty brand clears it), all or nothing: both are checked before
    either is stored, so a refused brand never leaves a half-saved edit behind."""
    store = ws.elements
    before = store.get(code)
    if name.strip() != before.name:
        check_name(name, code, todo="type")
    if (brand.strip() or None) != before.brand:
        store.set_brand(code, brand)  # checks the brand before writing
    if name.strip() != before.name:
        store.rename(code, name)
    return store.get(code)


def remove_element(ws: Workspace, code: str) -> ElementUse:
    """Remove an element no running or paused experiment is made of; returns where it was used (catalog rows keep
    the code, which pages show as removed; rendered banners keep their own files)."""
    use = where_used(ws, code)
    if use.blocking:
        names = ", ".join(f"{x.name!r} ({x.experiment_id}, {x.status})" for x in use.blocking)
        raise ElementInUse(f"{code} is used by {len(use.blocking)} experiment(s) still running: {names}; "
                           "stop them first (a next generation would recombine it), then remove it")
    ws.elements.remove(code)
    return use
