"""Content-addressed element store: files under home/objects, one metadata row per element.

An upload is all-or-nothing: files are checked, decoded and derived one at a time into a staging
directory (so a batch's memory is one image's, whatever its length), then moved into place and
their rows inserted in one transaction; on any failure the staged and placed files are removed.
Bytes already in the library are recognised by their hash before anything is decoded.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from PIL import Image
from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import OperationalError

from creative.elements import CODE_PREFIX, IMAGE_KINDS, KINDS, TEXT_KINDS, Element
from creative.elements.derive import derive
from creative.elements.validation import check_file, load_image
from creative.errors import ElementNotFound, ElementRejected, StorageFull
from creative.home import Home
from creative.tables import elements as elements_table

_UNSAFE_NAME = re.compile(r"(\.\.|[/\\\x00-\x1f\x7f])")
MAX_NAME_LENGTH = 200
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_SQLITE_FULL = "database or disk is full"
_PG_DISK_FULL = "53100"


@dataclass(frozen=True)
class AddResult:
    element: Element
    created: bool  # False when the same bytes were already in the library
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Staged:
    """One new file of a batch, checked and derived, waiting for the transaction: no pixels kept."""
    source_name: str
    label: str
    sha256: str
    width: int
    height: int
    original: str  # file name in the object directory
    notes: tuple[str, ...]
    derived: dict[str, Any]  # bbox, palette, has_cutout, cutout_method, subject
    directory: Path | None  # staged files to move into the object directory; None when nothing to add


@contextmanager
def _storage_errors(where: Path) -> Iterator[None]:
    """A full disk or database becomes one line with a next step, not a traceback."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _FULL_ERRNOS:
            raise
        raise StorageFull(f"no space left on the disk holding {where} ({exc.strerror}); free some space and run it again; nothing was stored") from None
    except OperationalError as exc:
        if _SQLITE_FULL not in str(exc.orig) and getattr(exc.orig, "sqlstate", None) != _PG_DISK_FULL:
            raise
        raise StorageFull(f"the database is full ({str(exc.orig).splitlines()[0]}); free disk space for it and run it again; nothing was stored") from None


def check_name(name: str, source: str, todo: str = "pass --name with") -> str:
    """Element names are labels, never paths: refuse traversal, separators and control characters.

    `todo` starts the next step in the caller's words (a CLI flag, or a form field)."""
    name = name.strip()
    if not name:
        raise ElementRejected(f"{source}: the element name is empty; {todo} a short label")
    if _UNSAFE_NAME.search(name):
        raise ElementRejected(f"{source}: the name {name!r} contains '..', a slash or a control character; {todo} a plain label")
    if len(name) > MAX_NAME_LENGTH:
        raise ElementRejected(f"{source}: the name is {len(name)} characters, over {MAX_NAME_LENGTH}; {todo} a shorter label")
    return name


def check_brand(brand: str | None) -> str | None:
    """A brand as stored (trimmed; empty is None), refused when it is too long or holds control or bidi characters."""
    from creative.text import unsafe_character

    brand = (brand or "").strip() or None
    if brand is not None and (len(brand) > 200 or unsafe_character(brand)):
        raise ElementRejected(f"brand {brand[:40]!r} is not usable: at most 200 characters, no control or bidi characters")
    return brand


def _derived_name(kind: str) -> str:
    # Only products get a cut-out, so their palette and box can differ from the same bytes as a logo.
    return "derived-product.json" if kind == "product" else "derived-image.json"


def _write_derived(image: Image.Image, kind: str, directory: Path) -> dict[str, Any]:
    """Derive and write the derived files; `image` may be made the cut-out in place (written already as rgba.png)."""
    derived = derive(image, kind)
    derived.thumbnail.save(directory / "thumb.png")
    if derived.cutout is not None:
        derived.cutout.save(directory / "cutout.png")
    meta = {"bbox": list(derived.bbox), "palette": derived.palette, "has_cutout": derived.cutout is not None,
            "cutout_method": derived.cutout_method, "subject": list(derived.subject) if derived.subject else None}
    (directory / _derived_name(kind)).write_text(json.dumps(meta))
    return meta


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
        """Path of a derived PNG: 'rgba' (oriented sRGB), 'thumb', or 'cutout' (products whose backdrop could be removed)."""
        if which == "cutout" and not element.attributes.get("has_cutout"):
            raise ElementNotFound(f"{element.code} has no cut-out (only products whose background could be told from them get one)")
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

    def with_bytes(self, sha256: str) -> list[Element]:
        """Every element made of these exact bytes (one per kind at most), oldest first."""
        query = select(elements_table).where(elements_table.c.sha256 == sha256).order_by(elements_table.c.created_at)
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
        """Validate and store every file, or none; memory stays that of one image whatever the batch size."""
        if kind not in IMAGE_KINDS:
            raise ElementRejected(f"kind {kind!r} is not an image kind; use one of {', '.join(IMAGE_KINDS)}")
        paths = [Path(p) for p in paths]
        if not paths:
            raise ElementRejected("no files given; pass one or more image paths")
        if name is not None and len(paths) > 1:
            raise ElementRejected("--name applies to one file; add files one at a time to name each, or omit --name to use file names")
        labels = [check_name(name or p.stem, str(p)) for p in paths]
        brand = check_brand(brand)
        staging_root = self.home.objects_dir / ".staging"
        plan: list[AddResult | _Staged] = []
        try:
            with _storage_errors(self.home.objects_dir):
                staging_root.mkdir(parents=True, exist_ok=True)
                seen: dict[str, _Staged] = {}
                for path, label in zip(paths, labels):
                    plan.append(self._plan_one(path, label, kind, staging_root, seen))
                return self._commit(plan, kind, brand, dict(tags or {}))
        finally:
            for item in plan:
                if isinstance(item, _Staged) and item.directory is not None:
                    shutil.rmtree(item.directory, ignore_errors=True)  # gone already once moved into place

    def _plan_one(self, path: Path, label: str, kind: str, staging_root: Path, seen: dict[str, _Staged]) -> AddResult | _Staged:
        """Hash first: known bytes are never decoded; new ones are decoded, derived and staged, then let go."""
        sha = check_file(path)
        if sha in seen:
            return seen[sha]  # the same bytes twice in one batch: one element
        with self.engine.connect() as conn:
            existing = self._existing(conn, kind, sha)
        if existing is not None:
            return AddResult(existing, created=False, notes=("same bytes already in the library",))
        staged = self._stage_known(path, label, sha, kind, staging_root) if self.object_dir(sha).exists() \
            else self._stage_new(path, label, sha, kind, staging_root)
        seen[sha] = staged
        return staged

    def _stage_new(self, path: Path, label: str, sha: str, kind: str, staging_root: Path) -> _Staged:
        upload = load_image(path)
        directory = Path(tempfile.mkdtemp(dir=staging_root))
        original = f"original.{upload.extension}"
        try:
            shutil.copyfile(path, directory / original)
            upload.image.save(directory / "rgba.png")
            derived = _write_derived(upload.image, kind, directory)
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return _Staged(path.name, label, sha, upload.image.width, upload.image.height, original, upload.notes, derived, directory)

    def _stage_known(self, path: Path, label: str, sha: str, kind: str, staging_root: Path) -> _Staged:
        """The same bytes stored under another kind: reuse its files, derive only what this kind adds."""
        final = self.object_dir(sha)
        original = next(final.glob("original.*")).name
        with self.engine.connect() as conn:
            known = conn.execute(select(elements_table.c.attributes).where(elements_table.c.sha256 == sha)).first()
        notes = tuple((known.attributes or {}).get("notes", ())) if known else ()
        derived_file, directory = final / _derived_name(kind), None
        with Image.open(final / "rgba.png") as img:
            width, height = img.size
            if derived_file.exists():
                derived = json.loads(derived_file.read_text())
            else:
                directory = Path(tempfile.mkdtemp(dir=staging_root))
                try:
                    derived = _write_derived(img.convert("RGBA"), kind, directory)
                except BaseException:
                    shutil.rmtree(directory, ignore_errors=True)
                    raise
        return _Staged(path.name, label, sha, width, height, original, notes, derived, directory)

    def _commit(self, plan: list[AddResult | _Staged], kind: str, brand: str | None, tags: dict[str, str]) -> list[AddResult]:
        """One transaction for the whole batch; the object directories it placed are removed if it fails."""
        now = datetime.now(timezone.utc)
        results: list[AddResult] = []
        placed: list[Path] = []
        try:
            with self.engine.begin() as conn:
                made: dict[str, Element] = {}
                taken: set[str] = set()  # codes given out in this batch, not yet inserted
                for item in plan:
                    if isinstance(item, AddResult):
                        results.append(item)
                        continue
                    existing = made.get(item.sha256) or self._existing(conn, kind, item.sha256)
                    if existing is not None:
                        results.append(AddResult(existing, created=False, notes=("same bytes already in the library",)))
                        continue
                    code = self._new_code(conn, kind, item.sha256, taken)
                    taken.add(code)
                    attributes = {"original": item.original, "source_name": item.source_name,
                                  "format": item.original.split(".", 1)[1], "notes": list(item.notes), "tags": tags, **item.derived}
                    made[item.sha256] = Element(code=code, kind=kind, sha256=item.sha256, name=item.label, brand=brand,
                                                width=item.width, height=item.height, text=None, attributes=attributes, created_at=now)
                    results.append(AddResult(made[item.sha256], created=True, notes=item.notes))
                    placed.extend(self._place(item))
                if made:
                    conn.execute(elements_table.insert(), [self._row(e) for e in made.values()])
        except Exception:
            for directory in placed:
                shutil.rmtree(directory, ignore_errors=True)
            raise
        return results

    def _place(self, item: _Staged) -> list[Path]:
        """Move staged files into the object directory; return the directories this created (to undo on failure)."""
        if item.directory is None:
            return []
        final = self.object_dir(item.sha256)
        if not final.exists():
            final.parent.mkdir(parents=True, exist_ok=True)
            item.directory.rename(final)
            return [final]
        # derived files for one more kind: the data file last, so it never names a missing picture
        for staged_file in sorted(item.directory.iterdir(), key=lambda f: f.suffix == ".json"):
            os.replace(staged_file, final / staged_file.name)
        return []

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

    def set_brand(self, code: str, brand: str | None) -> Element:
        """Assign (or clear, with None) the brand that owns an element: a logo goes only on its brand's products."""
        brand = check_brand(brand)
        self.get(code)
        with self.engine.begin() as conn:
            conn.execute(elements_table.update().where(elements_table.c.code == code).values(brand=brand))
        return self.get(code)

    def rename(self, code: str, name: str) -> Element:
        """Give an element a new label; its code, bytes and the creatives made from it do not change."""
        name = check_name(name, code, todo="type")
        self.get(code)
        with self.engine.begin() as conn:
            conn.execute(elements_table.update().where(elements_table.c.code == code).values(name=name))
        return self.get(code)

    def remove(self, code: str) -> Element:
        """Delete the row; delete the files when no other element shares the bytes."""
        element = self.get(code)
        with self.engine.begin() as conn:
            conn.execute(delete(elements_table).where(elements_table.c.code == code))
            shared = conn.execute(select(elements_table.c.code).where(elements_table.c.sha256 == element.sha256)).first()
        if element.kind in IMAGE_KINDS and shared is None:
            shutil.rmtree(self.object_dir(element.sha256), ignore_errors=True)
        return element
