"""Content-addressed element store: files under home/objects, one metadata row per element.

An upload is all-or-nothing: every file is validated before anything is written, files land
through a temporary directory and a rename, and rows are inserted in one transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from PIL import Image
from sqlalchemy import Engine, delete, select

from creative.elements import CODE_PREFIX, IMAGE_KINDS, KINDS, TEXT_KINDS, Element
from creative.elements.derive import derive
from creative.elements.validation import ValidatedImage, load_image
from creative.errors import ElementNotFound, ElementRejected
from creative.home import Home
from creative.tables import elements as elements_table

_UNSAFE_NAME = re.compile(r"(\.\.|[/\\\x00-\x1f\x7f])")
MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class AddResult:
    element: Element
    created: bool  # False when the same bytes were already in the library
    notes: tuple[str, ...] = ()


def check_name(name: str, source: str) -> str:
    """Element names are labels, never paths: refuse traversal, separators and control characters."""
    name = name.strip()
    if not name:
        raise ElementRejected(f"{source}: the element name is empty; pass --name with a short label")
    if _UNSAFE_NAME.search(name):
        raise ElementRejected(f"{source}: the name {name!r} contains '..', a slash or a control character; pass --name with a plain label")
    if len(name) > MAX_NAME_LENGTH:
        raise ElementRejected(f"{source}: the name is {len(name)} characters, over {MAX_NAME_LENGTH}; pass a shorter --name")
    return name


def _derived_name(kind: str) -> str:
    # Only products get a cut-out, so their palette and box can differ from the same bytes as a logo.
    return "derived-product.json" if kind == "product" else "derived-image.json"


def _write_derived(image: Image.Image, kind: str, directory: Path) -> None:
    derived = derive(image, kind)
    derived.thumbnail.save(directory / "thumb.png")
    if derived.cutout is not None:
        derived.cutout.save(directory / "cutout.png")
    meta = {"bbox": list(derived.bbox), "palette": derived.palette, "has_cutout": derived.cutout is not None}
    (directory / _derived_name(kind)).write_text(json.dumps(meta))


def _row_to_element(row: Any) -> Element:
    return Element(
        code=row.code, kind=row.kind, sha256=row.sha256, name=row.name, brand=row.brand,
        width=row.width, height=row.height, text=row.text, attributes=dict(row.attributes or {}),
        created_at=row.created_at,
    )


class ElementStore:
    def __init__(self, home: Home, engine: Engine):
        self.home = home
        self.engine = engine

    # ---- paths
    def object_dir(self, sha256: str) -> Path:
        return self.home.objects_dir / sha256[:2] / sha256

    def original_path(self, element: Element) -> Path:
        return self.object_dir(element.sha256) / element.attributes["original"]

    def derived_path(self, element: Element, which: str) -> Path:
        """Path of a derived PNG: 'rgba' (oriented sRGB), 'thumb', or 'cutout' (products on light backgrounds)."""
        if which == "cutout" and not element.attributes.get("has_cutout"):
            raise ElementNotFound(f"{element.code} has no cut-out (only products on a plain light background get one)")
        return self.object_dir(element.sha256) / f"{which}.png"

    def image_path(self, element: Element) -> Path:
        """The picture a banner should use: the cut-out when there is one, else the RGBA version."""
        return self.derived_path(element, "cutout" if element.attributes.get("has_cutout") else "rgba")

    # ---- queries
    def get(self, code: str) -> Element:
        with self.engine.connect() as conn:
            row = conn.execute(select(elements_table).where(elements_table.c.code == code)).first()
        if row is None:
            raise ElementNotFound(f"no element has code {code!r}; list them with `creative elements list`")
        return _row_to_element(row)

    def list(self, kind: str | None = None) -> list[Element]:
        query = select(elements_table).order_by(elements_table.c.kind, elements_table.c.created_at, elements_table.c.code)
        if kind:
            if kind not in KINDS:
                raise ElementRejected(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
            query = query.where(elements_table.c.kind == kind)
        with self.engine.connect() as conn:
            return [_row_to_element(r) for r in conn.execute(query)]

    def image_resolver(self, kind: str = "product") -> Callable[[str], str | None]:
        """Map catalog image references (element code, name or uploaded file name) to codes.

        The index is read once, at the first lookup, so a catalog import costs one query, not one per row."""
        index: dict[str, str] = {}

        def resolve(ref: str) -> str | None:
            if not index:
                for element in self.list(kind):
                    for key in (element.code, element.name, element.attributes.get("source_name")):
                        if key:
                            index.setdefault(key, element.code)  # the oldest element wins, as listed
            return index.get(ref) or index.get(Path(ref).stem)

        return resolve

    def _existing(self, conn, kind: str, sha256: str) -> Element | None:
        row = conn.execute(
            select(elements_table).where(elements_table.c.kind == kind, elements_table.c.sha256 == sha256)
        ).first()
        return _row_to_element(row) if row else None

    def _new_code(self, conn, kind: str, sha256: str, taken: set[str]) -> str:
        """Kind letter + the shortest sha256 prefix (6 hex at least) no other element uses."""
        for length in range(6, 65, 2):
            code = f"{CODE_PREFIX[kind]}-{sha256[:length]}"
            if code in taken:
                continue
            if conn.execute(select(elements_table.c.code).where(elements_table.c.code == code)).first() is None:
                return code
        raise AssertionError("sha256 prefixes exhausted")

    # ---- writes
    def add_images(
        self, paths: Iterable[Path], kind: str, name: str | None = None, brand: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> list[AddResult]:
        """Validate every file, then store them all or none."""
        if kind not in IMAGE_KINDS:
            raise ElementRejected(f"kind {kind!r} is not an image kind; use one of {', '.join(IMAGE_KINDS)}")
        paths = [Path(p) for p in paths]
        if not paths:
            raise ElementRejected("no files given; pass one or more image paths")
        if name is not None and len(paths) > 1:
            raise ElementRejected("--name applies to one file; add files one at a time to name each, or omit --name to use file names")
        checked = [(load_image(p), check_name(name or p.stem, str(p))) for p in paths]
        return self._store_images(checked, kind, brand, dict(tags or {}))

    def _store_images(self, checked: list[tuple[ValidatedImage, str]], kind: str, brand: str | None, tags: dict[str, str]) -> list[AddResult]:
        now = datetime.now(timezone.utc)
        results: list[AddResult] = []
        placed: list[Path] = []
        staging_root = self.home.objects_dir / ".staging"
        staging_root.mkdir(parents=True, exist_ok=True)
        try:
            with self.engine.begin() as conn:
                taken: set[str] = set()
                rows = []
                for upload, label in checked:
                    sha = hashlib.sha256(upload.data).hexdigest()
                    existing = self._existing(conn, kind, sha) or next(
                        (r.element for r in results if r.element.sha256 == sha), None)
                    if existing is not None:
                        results.append(AddResult(existing, created=False, notes=("same bytes already in the library",)))
                        continue
                    placed.extend(self._write_files(upload, sha, kind, staging_root))
                    derived = self._derived_attributes(sha, kind)
                    code = self._new_code(conn, kind, sha, taken)
                    taken.add(code)
                    attributes = {
                        "original": f"original.{upload.extension}",
                        "source_name": upload.source.name,
                        "format": upload.extension,
                        "notes": list(upload.notes),
                        "tags": tags,
                        **derived,
                    }
                    element = Element(code=code, kind=kind, sha256=sha, name=label, brand=brand,
                                      width=upload.image.width, height=upload.image.height, text=None,
                                      attributes=attributes, created_at=now)
                    rows.append(element)
                    results.append(AddResult(element, created=True, notes=upload.notes))
                if rows:
                    conn.execute(elements_table.insert(), [self._row(e) for e in rows])
        except Exception:
            for directory in placed:
                shutil.rmtree(directory, ignore_errors=True)
            raise
        return results

    def _write_files(self, upload: ValidatedImage, sha: str, kind: str, staging_root: Path) -> list[Path]:
        """Write original + derived files; return the directories this call created (to undo on failure)."""
        final = self.object_dir(sha)
        if final.exists():  # same bytes stored under another kind: derived data is added lazily
            return []
        staging = Path(tempfile.mkdtemp(dir=staging_root))
        try:
            (staging / f"original.{upload.extension}").write_bytes(upload.data)
            upload.image.save(staging / "rgba.png")
            _write_derived(upload.image, kind, staging)
            final.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(final)
        except Exception:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return [final]

    def _derived_attributes(self, sha: str, kind: str) -> dict[str, Any]:
        directory = self.object_dir(sha)
        path = directory / _derived_name(kind)
        if not path.exists():
            with Image.open(directory / "rgba.png") as img:
                _write_derived(img.convert("RGBA"), kind, directory)
        return json.loads(path.read_text())

    @staticmethod
    def _row(e: Element) -> dict[str, Any]:
        return {"code": e.code, "kind": e.kind, "sha256": e.sha256, "name": e.name, "brand": e.brand,
                "width": e.width, "height": e.height, "text": e.text, "attributes": e.attributes,
                "created_at": e.created_at}

    def add_text(self, kind: str, text: str, name: str, attributes: dict[str, Any], brand: str | None = None) -> Element:
        """Store a copy element (title or article); the same text twice returns the same element."""
        if kind not in TEXT_KINDS:
            raise ElementRejected(f"kind {kind!r} is not a text kind; use one of {', '.join(TEXT_KINDS)}")
        if not text.strip():
            raise ElementRejected(f"{name}: empty {kind} text")
        sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        with self.engine.begin() as conn:
            existing = self._existing(conn, kind, sha)
            if existing is not None:
                return existing
            element = Element(code=self._new_code(conn, kind, sha, set()), kind=kind, sha256=sha,
                              name=name[:MAX_NAME_LENGTH], brand=brand, width=None, height=None, text=text,
                              attributes=dict(attributes), created_at=datetime.now(timezone.utc))
            conn.execute(elements_table.insert(), [self._row(element)])
        return element

    def remove(self, code: str) -> Element:
        """Delete the row; delete the files when no other element shares the bytes."""
        element = self.get(code)
        with self.engine.begin() as conn:
            conn.execute(delete(elements_table).where(elements_table.c.code == code))
            shared = conn.execute(select(elements_table.c.code).where(elements_table.c.sha256 == element.sha256)).first()
        if element.kind in IMAGE_KINDS and shared is None:
            shutil.rmtree(self.object_dir(element.sha256), ignore_errors=True)
        return element
