"""The composed creative: one typed record, its versioned JSON form, and the registry that is its home.

A batch's `manifest.json` carries these records for people and tools; the `creatives` table is the
registry that serving, experiments and the web read. A manifest is untrusted input (it can be
edited or come from elsewhere): every file it names must lie inside its own batch folder, and it
carries no URLs — a creative's landing page is its offer's, taken from the catalog.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import Engine, delete, select

from creative.catalog import landing_pages
from creative.errors import CreativeError
from creative.tables import creatives as creatives_table
from creative.tables import json_mentions
from creative.text import unsafe_character
from experiments.model import MAX_CREATIVE_ID_LENGTH

SCHEMA_VERSION = 2  # 1: the offer was an "offer" slot inside "elements"
MANIFEST = "manifest.json"
Scalar = str | bool | int | float


class ManifestRejected(CreativeError):
    """A manifest cannot be used: unreadable, or a record names a file outside its batch folder."""


@dataclass(frozen=True)
class Creative:
    """One composed banner: what it is made of, where its file is, and what experiments learn on."""

    creative_id: str
    template: str
    size: str
    elements: Mapping[str, str]  # slot -> element code (product, model, logo, background, title)
    offer_id: str | None  # the catalog product it advertises; its landing page is the offer's
    file: str  # absolute path of the banner
    attributes: Mapping[str, Scalar] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    violations: tuple[str, ...] = ()  # hard layout violations: such a creative is never an experiment arm
    batch: str = ""
    files: Mapping[str, str] = field(default_factory=dict)  # format -> file name, beside `file`

    @property
    def usable(self) -> bool:
        return not self.violations

    @property
    def quality(self) -> float | None:
        """The banner's quality score (layout and copy checks, 0..1), kept with its metrics; None for older batches."""
        value = self.metrics.get("quality")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    def to_json(self) -> dict[str, Any]:
        """The manifest form: file names relative to the batch folder."""
        return {
            "schema": SCHEMA_VERSION, "id": self.creative_id, "template": self.template, "size": self.size,
            "elements": dict(self.elements), "offer": self.offer_id, "file": Path(self.file).name,
            "files": dict(self.files),
            "attributes": dict(self.attributes), "metrics": dict(self.metrics),
            "warnings": list(self.warnings), "violations": list(self.violations),
        }

    @classmethod
    def from_json(cls, raw: Any, *, batch_dir: Path, batch: str = "", where: str = "creative") -> "Creative":
        """Check one manifest record; `where` names it in errors ("manifest.json: creative #3")."""
        if not isinstance(raw, Mapping):
            raise ManifestRejected(f"{where}: expected an object, got {type(raw).__name__}")
        cid = raw.get("id")
        if not isinstance(cid, str) or not cid.strip() or len(cid) > MAX_CREATIVE_ID_LENGTH:
            raise ManifestRejected(f"{where}: 'id' must be a non-empty string of at most {MAX_CREATIVE_ID_LENGTH} characters")
        where = f"{where} ({cid!r})"
        if bad := unsafe_character(cid):
            raise ManifestRejected(f"{where}: the id contains {bad}; compose the batch again")
        for key in ("template", "size", "file"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise ManifestRejected(f"{where}: '{key}' must be a non-empty string")
        elements = dict(raw.get("elements") or {})
        offer = raw.get("offer", elements.pop("offer", None))  # schema 1 kept the offer among the slots
        if offer is not None and not isinstance(offer, str):
            raise ManifestRejected(f"{where}: 'offer' must be a catalog product id or null")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in elements.items()):
            raise ManifestRejected(f"{where}: 'elements' must map slot names to element codes")
        attributes = dict(raw.get("attributes") or {})
        for key, value in attributes.items():
            if not isinstance(value, (str, bool, int, float)):
                raise ManifestRejected(f"{where}: attribute {key!r} is {type(value).__name__}; attributes must be text, true/false or numbers")
        files = raw.get("files") or {}
        if not isinstance(files, Mapping):
            raise ManifestRejected(f"{where}: 'files' must map formats to file names")
        path = confined(batch_dir, raw["file"], where)
        for name in files.values():
            confined(batch_dir, name, where)
        return cls(
            creative_id=cid, template=raw["template"], size=raw["size"], elements=elements, offer_id=offer, file=str(path),
            attributes=attributes, metrics=dict(raw.get("metrics") or {}),
            warnings=_messages(raw.get("warnings")), violations=_messages(raw.get("violations")),
            batch=batch, files=dict(files))


def _messages(items: Any) -> tuple[str, ...]:
    """Notes as text; schema 1 stored them as {"message": ...} objects."""
    return tuple(str(i.get("message", i)) if isinstance(i, Mapping) else str(i) for i in items or ())


def confined(folder: Path, name: Any, where: str) -> Path:
    """`folder/name`, refused unless it stays inside `folder` (no `..`, no absolute path, no symlink out)."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ManifestRejected(f"{where}: file {name!r} is not a file name")
    root = folder.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or path == root:
        raise ManifestRejected(f"{where}: file {name!r} is outside the batch folder {root}; a manifest may only name files inside its own folder")
    return path


@dataclass(frozen=True)
class Manifest:
    """A batch as its manifest describes it."""

    batch: str
    folder: Path
    creatives: tuple[Creative, ...]

    @property
    def usable(self) -> tuple[Creative, ...]:
        return tuple(c for c in self.creatives if c.usable)


def load_manifest(path: str | Path) -> Manifest:
    """Read and check a batch's manifest.json (or the folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST
    if not path.is_file():
        raise ManifestRejected(f"no manifest at {path}; pass the manifest.json (or the folder) that `creative compose` wrote")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ManifestRejected(f"{path} is not a readable manifest ({type(exc).__name__}: {str(exc)[:200]}); compose the batch again") from None
    items = raw.get("creatives") if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise ManifestRejected(f"{path} has no 'creatives' list; pass the manifest.json that `creative compose` wrote")
    batch = str(raw.get("batch", "")) if isinstance(raw, dict) else ""
    folder = path.resolve().parent
    creatives = tuple(Creative.from_json(item, batch_dir=folder, batch=batch, where=f"{path}: creative #{i + 1}")
                      for i, item in enumerate(items))
    return Manifest(batch, folder, creatives)


# ---- the registry --------------------------------------------------------------------------------
def register(engine: Engine, creatives: Sequence[Creative]) -> None:
    """Store (or replace) creatives in one transaction."""
    now = datetime.now(timezone.utc)
    rows = [{"creative_id": c.creative_id, "template": c.template, "size": c.size, "elements": dict(c.elements),
             "offer_id": c.offer_id, "attributes": dict(c.attributes), "metrics": dict(c.metrics), "warnings": list(c.warnings),
             "violations": list(c.violations), "file": c.file, "files": dict(c.files), "batch": c.batch, "created_at": now}
            for c in creatives]
    ids = [r["creative_id"] for r in rows]
    with engine.begin() as conn:
        for i in range(0, len(ids), 500):
            conn.execute(delete(creatives_table).where(creatives_table.c.creative_id.in_(ids[i : i + 500])))
        if rows:
            conn.execute(creatives_table.insert(), rows)


def _from_row(r) -> Creative:
    return Creative(creative_id=r.creative_id, template=r.template, size=r.size, elements=r.elements, offer_id=r.offer_id,
                    file=r.file, attributes=r.attributes, metrics=r.metrics, warnings=tuple(r.warnings or ()),
                    violations=tuple(r.violations or ()), batch=r.batch, files=r.files or {})


def get_creatives(engine: Engine, ids: Iterable[str]) -> dict[str, Creative]:
    """The registered creatives among `ids` (unknown ids are simply absent)."""
    wanted = list(dict.fromkeys(ids))
    out: dict[str, Creative] = {}
    with engine.connect() as conn:
        for i in range(0, len(wanted), 500):
            rows = conn.execute(select(creatives_table).where(creatives_table.c.creative_id.in_(wanted[i : i + 500])))
            out.update((r.creative_id, _from_row(r)) for r in rows)
    return out


def batch_creatives(engine: Engine, batch: str) -> list[Creative]:
    with engine.connect() as conn:
        rows = conn.execute(select(creatives_table).where(creatives_table.c.batch == batch).order_by(creatives_table.c.creative_id))
        return [_from_row(r) for r in rows]


def creatives_using(engine: Engine, code: str) -> list[Creative]:
    """The registered creatives made with the element `code`, by batch."""
    query = select(creatives_table).where(json_mentions(creatives_table.c.elements, code)).order_by(creatives_table.c.batch, creatives_table.c.creative_id)
    with engine.connect() as conn:
        found = [_from_row(r) for r in conn.execute(query)]
    return [c for c in found if code in c.elements.values()]


def landing_urls(engine: Engine, creatives: Iterable[Creative]) -> dict[str, str | None]:
    """Each creative's landing page: its offer's, from the catalog (None without an offer in the catalog)."""
    creatives = list(creatives)
    urls = landing_pages(engine, (c.offer_id for c in creatives if c.offer_id))
    return {c.creative_id: urls.get(c.offer_id) if c.offer_id else None for c in creatives}
