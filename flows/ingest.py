"""ingest_elements: a folder of uploads (one sub-folder per kind, catalogs at the top) into the library."""


from pathlib import Path

from prefect import flow, task
from pydantic import field_validator

from creative.services.library import add_kind_folder, import_folder_catalogs, kind_folders
from flows.common import FlowParams, publish, run_logger, run_name


class IngestParams(FlowParams):
    folder: str
    brand: str | None = None
    brands: dict[str, str] = {}  # file stem -> brand, e.g. each logo's owner

    @field_validator("folder")
    @classmethod
    def _folder_exists(cls, value: str) -> str:
        if not Path(value).is_dir():
            raise ValueError(f"{value} is not a folder; give a folder with products/, logos/, models/ or backgrounds/ inside")
        return value


@task(retries=2, retry_delay_seconds=1)
def add_kind_folder_task(params: IngestParams, folder: Path, kind: str) -> list[dict]:
    """All files of one kind in one task: validated together, stored all or none."""
    results = add_kind_folder(params.workspace(), folder, kind, brand=params.brand, brands=params.brands)
    return [{"code": r.element.code, "kind": kind, "name": r.element.name, "brand": r.element.brand, "new": r.created,
             "cutout": bool(r.element.attributes.get("has_cutout"))} for r in results]


@task
def import_catalogs_task(params: IngestParams) -> list[dict]:
    reports = import_folder_catalogs(params.workspace(), Path(params.folder))
    return [{"file": r.source.name, "added": r.added, "updated": r.updated, "unchanged": r.unchanged} for r in reports]


@flow(name="ingest_elements", flow_run_name=run_name(IngestParams, lambda p: f"ingest · {Path(p.folder).name}", "ingest"))
def ingest_elements(params: IngestParams) -> dict:
    """Add every image under folder/<kind>s/ and import folder/*.csv|*.json catalogs."""
    root = Path(params.folder)
    elements = [row for folder, kind in kind_folders(root) for row in add_kind_folder_task(params, folder, kind)]
    catalogs = import_catalogs_task(params)
    new = sum(r["new"] for r in elements)
    log = run_logger()
    log.info("%d elements from %s: %d new, %d already in the library", len(elements), root, new, len(elements) - new)
    for c in catalogs:
        log.info("catalog %s: %d added, %d updated, %d unchanged", c["file"], c["added"], c["updated"], c["unchanged"])
    summary = (f"# Elements ingested from `{root}`\n\n{len(elements)} elements ({new} new), "
               f"{sum(r['cutout'] for r in elements)} with automatic cut-outs; "
               f"{len(catalogs)} catalogs: " + ", ".join(f"{c['file']} (+{c['added']}, ~{c['updated']})" for c in catalogs))
    publish("ingest-elements", summary, elements)
    return {"elements": elements, "catalogs": catalogs}
