"""A designer's folder of uploads into the library: one sub-folder per kind, catalogs at the top."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

from creative.catalog import ImportReport, import_catalog
from creative.elements import FOLDER_KINDS, IMAGE_SUFFIXES
from creative.elements.store import AddResult
from creative.errors import CreativeError
from creative.services.workspace import Workspace

CATALOG_SUFFIXES = (".csv", ".json")


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
    """The catalogs at the top of `root` (all *.csv and *.json, or just `names`), in name order."""
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
