"""Element uploads in bounded memory: budgets checked before decoding, duplicates never decoded,
batches streamed one image at a time, and a full disk or database refused in one line with nothing kept."""

from __future__ import annotations

import errno
import gc
import io
import os
import shutil
import struct
import subprocess
import threading
import weakref
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import event, func, select

from assets.samples import sample_files
from creative.elements import store as store_module
from creative.elements import validation
from creative.errors import ElementRejected, StorageFull
from creative.tables import elements as elements_table

PRODUCTS = sample_files("products")


def _row_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(elements_table)).scalar_one()


def _stored_files(home) -> list[Path]:
    return [p for p in home.objects_dir.rglob("*") if p.is_file()] if home.objects_dir.exists() else []


def _plain_png(path: Path, width: int, height: int) -> Path:
    """A valid white RGB PNG written row by row: a few KB on disk, width x height x 4 bytes decoded."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    squeeze, row = zlib.compressobj(9), b"\x00" + b"\xff" * (3 * width)
    idat = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> dict[str, Path]:
    """6000x6000 images (36 MP: under the pixel cap, 137 MB decoded) that compress to almost nothing."""
    folder = tmp_path_factory.mktemp("bombs")
    canvas = Image.new("RGB", (6000, 6000), (255, 255, 255))
    canvas.save(folder / "bomb.webp", lossless=True)
    canvas.save(folder / "bomb.tif", compression="tiff_deflate")
    return {"webp": folder / "bomb.webp", "tiff": folder / "bomb.tif", "png": _plain_png(folder / "bomb.png", 6000, 6000)}


@pytest.fixture
def no_decoding(monkeypatch):
    """Any pixel decoding fails the test."""
    def refuse(self, *args, **kwargs):
        raise AssertionError(f"decoded {self.format} {self.size} although it should have been refused or reused")
    monkeypatch.setattr(Image.Image, "load", refuse)
    monkeypatch.setattr(Image.Image, "convert", refuse)  # decodes too, through load


@pytest.mark.parametrize("fmt", ["webp", "png", "tiff"])
def test_image_over_the_memory_budget_is_refused_before_decoding(store, engine, home, bombs, fmt, no_decoding):
    assert bombs[fmt].stat().st_size < 200_000  # the file size says nothing about the memory it needs
    with pytest.raises(ElementRejected) as err:
        store.add_images([bombs[fmt]], "background")
    message = str(err.value)
    assert str(bombs[fmt]) in message and "6000x6000" in message and "40 MB budget" in message
    assert "downscale it to at most 10.5 MP (e.g. 3238x3238)" in message and "\n" not in message
    assert _row_count(engine) == 0 and _stored_files(home) == []


def test_large_jpeg_is_decoded_at_a_reduced_scale_within_the_budget(store, tmp_path, monkeypatch):
    monkeypatch.setattr(validation, "DECODE_BUDGET_BYTES", 1 << 20)  # 1 MB: 512x512 RGBA
    path = tmp_path / "camera.jpg"
    Image.linear_gradient("L").resize((1200, 1000)).convert("RGB").save(path, quality=90)
    result = store.add_images([path], "background")[0]
    assert (result.element.width, result.element.height) == (300, 250)  # 1/2 would still be 1.2 MB
    assert "decoded at 1/4 scale (300x250) to fit the 1 MB memory budget" in result.notes


def test_known_bytes_are_never_decoded_again(store, engine, monkeypatch):
    first = store.add_images([PRODUCTS[0]], "product")[0]
    decoded: list[Path] = []
    real_load = store_module.load_image
    monkeypatch.setattr(store_module, "load_image", lambda path: decoded.append(path) or real_load(path))
    results = store.add_images([PRODUCTS[0], PRODUCTS[1], PRODUCTS[1]], "product")
    assert decoded == [PRODUCTS[1]]  # the stored file and the in-batch duplicate are never decoded
    assert results[0].element.code == first.element.code and not results[0].created
    assert results[1].created and not results[2].created and results[2].element.code == results[1].element.code
    assert _row_count(engine) == 2


def test_same_bytes_under_another_kind_reuse_the_stored_files(store, engine, home, monkeypatch):
    logo = store.add_images([PRODUCTS[0]], "logo")[0].element
    monkeypatch.setattr(store_module, "load_image", lambda path: pytest.fail(f"{path} decoded although its bytes are stored"))
    product = store.add_images([PRODUCTS[0]], "product")[0]
    assert product.created and product.element.code != logo.code and product.element.sha256 == logo.sha256
    assert (product.element.width, product.element.height) == (logo.width, logo.height)
    assert product.element.attributes["has_cutout"] and store.derived_path(product.element, "cutout").is_file()
    assert store.original_path(product.element) == store.original_path(logo)
    assert not list((home.objects_dir / ".staging").iterdir())  # nothing left behind


def test_a_batch_keeps_at_most_one_decoded_image_alive(store, engine, monkeypatch):
    alive_at_each_decode: list[int] = []
    decoded: list[weakref.ref] = []
    real_load = store_module.load_image

    def tracked(path):
        gc.collect()
        alive_at_each_decode.append(sum(ref() is not None for ref in decoded))
        upload = real_load(path)
        decoded.append(weakref.ref(upload.image))
        return upload

    monkeypatch.setattr(store_module, "load_image", tracked)
    results = store.add_images(PRODUCTS, "product")
    assert len(alive_at_each_decode) == len(PRODUCTS) >= 5
    assert alive_at_each_decode == [0] * len(PRODUCTS)  # each image let go before the next is decoded
    gc.collect()
    assert all(ref() is None for ref in decoded)  # and none is kept in the results
    assert all(r.created for r in results) and _row_count(engine) == len(PRODUCTS)


def test_full_disk_during_a_batch_is_one_line_and_stores_nothing(store, engine, home, monkeypatch):
    real_save, saves = Image.Image.save, []

    def save_until_full(self, fp, *args, **kwargs):
        saves.append(fp)
        if len(saves) == 5:  # into the second file of the batch, after part of its bytes
            Path(fp).write_bytes(b"\x89PNG partial")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(fp))
        return real_save(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save_until_full)
    with pytest.raises(StorageFull) as err:
        store.add_images(PRODUCTS[:3], "product")
    message = str(err.value)
    assert "no space left" in message and "free some space" in message and "nothing was stored" in message
    assert "\n" not in message
    assert _row_count(engine) == 0 and _stored_files(home) == []


def test_full_database_is_one_line_and_leaves_no_files(store, engine, home):
    store.add_text("title", "Run lighter every day", name="SKU-1", attributes={})  # the schema exists

    @event.listens_for(engine, "connect")
    def no_room_to_grow(dbapi_connection, _record):
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    engine.dispose()  # new connections get the cap
    with pytest.raises(StorageFull) as err:
        store.add_images(PRODUCTS[:2], "product", tags={"notes": "x" * 50_000})  # rows that need new pages
    message = str(err.value)
    assert "database is full" in message and "database or disk is full" in message and "\n" not in message
    event.remove(engine, "connect", no_room_to_grow)
    engine.dispose()
    assert _row_count(engine) == 1 and _stored_files(home) == []


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 1 MB filesystem (tmpfs); needs root and mount, as on the CI machine."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tiny tmpfs needs root and mount(8)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mountpoint)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def test_real_full_disk_during_elements_add(tiny_disk, tmp_path):
    from creative.db import open_database
    from creative.elements.store import ElementStore
    from creative.home import resolve_home

    noise = tmp_path / "noise.png"  # 1.5 MB that no compression shrinks: its copy cannot fit
    Image.frombytes("RGB", (700, 700), os.urandom(700 * 700 * 3)).save(noise)
    home = resolve_home(tiny_disk / "home", f"sqlite:///{tiny_disk / 'home' / 'creative.db'}")
    engine = open_database(home.db_url)
    with pytest.raises(StorageFull, match="no space left on the disk holding"):
        ElementStore(home, engine).add_images([PRODUCTS[0], noise], "product")
    assert _row_count(engine) == 0 and _stored_files(home) == []


def test_web_uploads_decode_a_few_at_a_time_while_the_server_keeps_answering(tmp_path, monkeypatch):
    from support.processes import wait_until
    from support.web import ADMIN, PASSWORD, LiveServer, login

    from creative.db import open_database
    from creative.home import resolve_home
    from creative.web import WebSettings, create_app, element_pages, uploads
    from creative.web.auth import create_user

    uploads_in, decoding, most, gate, lock = [0], [0], [0], threading.Event(), threading.Lock()
    real_load, real_pool = store_module.load_image, element_pages.in_decode_pool

    def gated_load(path):
        with lock:
            decoding[0] += 1
            most[0] = max(most[0], decoding[0])
        try:
            gate.wait()
            return real_load(path)
        finally:
            with lock:
                decoding[0] -= 1

    async def counted_pool(work, *args):
        uploads_in[0] += 1
        return await real_pool(work, *args)

    monkeypatch.setattr(store_module, "load_image", gated_load)
    monkeypatch.setattr(element_pages, "in_decode_pool", counted_pool)
    home = resolve_home(tmp_path / "home")
    create_user(open_database(home.db_url), ADMIN, PASSWORD)
    server = LiveServer(create_app(home, WebSettings(flush_interval_seconds=0.05, run_scheduler=False))).start()
    try:
        with httpx.Client(base_url=server.url, timeout=None) as admin:
            admin.headers["x-csrf-token"] = login(admin)

            def upload(i: int) -> httpx.Response:
                body = io.BytesIO()
                Image.new("RGB", (400, 300), (i * 40, 120, 200)).save(body, "PNG")
                return admin.post("/elements/upload", data={"kind": "background"}, files={"files": (f"b{i}.png", body.getvalue(), "image/png")})

            with ThreadPoolExecutor(6) as clients:
                answers = [clients.submit(upload, i) for i in range(6)]
                wait_until(lambda: uploads_in[0] == 6 and decoding[0] == uploads.DECODE_WORKERS, "six uploads in, the decode pool full", every=0.05)
                health = admin.get("/healthz")
                still_decoding = decoding[0]
                gate.set()
                results = [a.result() for a in answers]
    finally:
        gate.set()
        server.stop()
    assert health.status_code == 200  # the server answers while six uploads wait for a decoder
    assert still_decoding == most[0] == uploads.DECODE_WORKERS < 6
    assert all(r.status_code == 200 and r.json()["results"][0]["ok"] for r in results)
