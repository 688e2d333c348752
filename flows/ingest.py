"""ingest_elements: a folder of uploads (one sub-folder per kind, catalogs at the top) into the library."""


from pathlib import Path

from prefect import flow, task
from pydantic import field_validator

from creative.catalog import import_catalog
from creative.elements import IMAGE_KINDS
from flows.common import FlowParams, publish

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
FOLDER_KINDS = {f"{kind}s": kind for kind in IMAGE_KINDS}  # products/, logos/, models/, backgrounds/


class IngestParams(FlowParams):
    folder: str
    brand: str | None = None

    @field_validator("folder")
    @classmethod
    def _folder_exists(cls, value: str) -> str:
        if not Path(value).is_dir():
            raise ValueError(f"{value} is not a folder; give a folder with products/, logos/, models/ or backgrounds/ inside")
        return value


@task(retries=2, retry_delay_seconds=1)
def add_kind_folder(params: IngestParams, folder: Path, kind: str) -> list[dict]:
    """All files of one kind in one task: validated together, stored all or none."""
    _, store = params.open()
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        return []
    results = store.add_images(files, kind, brand=params.brand)
    return [{"code": r.element.code, "kind": kind, "name": r.element.name, "new": r.created,
             "cutout": bool(r.element.attributes.get("has_cutout"))} for r in results]


@task
def import_catalog_file(params: IngestParams, path: Path) -> dict:
    home, store = params.open()
    report = import_catalog(store.engine, path, store.image_resolver())
    return {"file": path.name, "added": report.added, "updated": report.updated, "unchanged": report.unchanged}


@flow(name="ingest_elements", log_prints=True)
def ingest_elements(params: IngestParams) -> dict:
    """Add every image under folder/<kind>s/ and import folder/*.csv|*.json catalogs."""
    root = Path(params.folder)
    elements = [row for name, kind in FOLDER_KINDS.items() if (root / name).is_dir()
                for row in add_kind_folder(params, root / name, kind)]
    catalogs = [import_catalog_file(params, p) for p in sorted(root.glob("*")) if p.suffix.lower() in (".csv", ".json")]
    new = sum(r["new"] for r in elements)
    summary = (f"# Elements ingested from `{root}`\n\n{len(elements)} elements ({new} new), "
               f"{sum(r['cutout'] for r in elements)} with automatic cut-outs; "
               f"{len(catalogs)} catalogs: " + ", ".join(f"{c['file']} (+{c['added']}, ~{c['updated']})" for c in catalogs))
    publish("ingest-elements", summary, elements)
    return {"elements": elements, "catalogs": catalogs}
