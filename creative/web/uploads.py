"""Uploaded files: a safe name for display and for the temporary copy, never a path the client chose."""

from __future__ import annotations

import re
import shutil
import tempfile
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

_KEEP = re.compile(r"[^\w.\- ]+", re.UNICODE)
_DOTS = re.compile(r"\.{2,}")
MAX_NAME = 120


def safe_filename(raw: str | None, default: str = "upload") -> str:
    """The last path component, with separators, control characters and '..' removed."""
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/").split("/")[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = _DOTS.sub(".", _KEEP.sub("_", name)).strip(" .")
    if not name:
        return default
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: MAX_NAME - len(ext) - 1] + "." + ext) if dot and len(ext) <= 8 else name[:MAX_NAME]
    return name


@contextmanager
def staged_upload(root: Path, filename: str, data: bytes) -> Iterator[Path]:
    """The bytes in a private temporary directory under the home, removed afterwards."""
    staging = root / ".uploads"
    staging.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(dir=staging))
    try:
        path = directory / filename
        assert path.resolve().parent == directory.resolve()  # safe_filename guarantees one component
        path.write_bytes(data)
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)
