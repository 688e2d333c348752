"""Uploaded files: a safe name for display and for the temporary copy, never a path the client chose,
and a small pool that decodes them, so many large uploads at once queue instead of taking the server's
memory and threads."""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import tempfile
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, TypeVar

_KEEP = re.compile(r"[^\w.\- ]+", re.UNICODE)
_DOTS = re.compile(r"\.{2,}")
MAX_NAME = 120
# Decoding an upload takes a core and up to ~300 MB: one fewer than the cores, so the event loop keeps one.
DECODE_WORKERS = max(1, (os.cpu_count() or 2) - 1)
_decoders = ThreadPoolExecutor(max_workers=DECODE_WORKERS, thread_name_prefix="upload-decode")
T = TypeVar("T")


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


async def in_decode_pool(work: Callable[..., T], *args: object) -> T:
    """Run `work(*args)` on the bounded decode pool: at most DECODE_WORKERS at once, the rest wait
    in line without holding a thread of the server's shared pool."""
    return await asyncio.get_running_loop().run_in_executor(_decoders, functools.partial(work, *args))


@contextmanager
def staged_upload(root: Path, filename: str, data: bytes | BinaryIO) -> Iterator[Path]:
    """The bytes (or an upload's spooled file, copied in chunks) in a private temporary directory
    under the home, removed afterwards."""
    staging = root / ".uploads"
    staging.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(dir=staging))
    try:
        path = directory / filename
        assert path.resolve().parent == directory.resolve()  # safe_filename guarantees one component
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            data.seek(0)
            with path.open("wb") as out:
                shutil.copyfileobj(data, out)
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)
