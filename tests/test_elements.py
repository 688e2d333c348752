"""Element library: sample uploads, content addressing, derived data, and every refused input."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from assets.samples import sample_files
from creative.elements import FOLDER_KINDS
from creative.errors import ElementRejected
from creative.tables import elements as elements_table

PRODUCTS = sample_files("products")


def _row_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(elements_table)).scalar_one()


def _stored_files(home) -> list[Path]:
    return [p for p in home.objects_dir.rglob("*") if p.is_file()] if home.objects_dir.exists() else []


def _png(img: Image.Image, path: Path, **kw) -> Path:
    img.save(path, **kw)
    return path


@pytest.mark.parametrize("folder", sorted(FOLDER_KINDS))
def test_every_sample_asset_adds_cleanly(store, folder):
    results = store.add_images(sample_files(folder), FOLDER_KINDS[folder])
    assert results and all(r.created for r in results)
    for r in results:
        e = r.element
        assert e.code.startswith(e.kind[0].upper() + "-") and len(e.code) == 8
        assert len(e.attributes["palette"]) == 5 and all(c.startswith("#") for c in e.attributes["palette"])
        assert store.original_path(e).read_bytes() == (sample_files(folder)[results.index(r)]).read_bytes()
        with Image.open(store.derived_path(e, "rgba")) as rgba:
            assert rgba.mode == "RGBA" and rgba.size == (e.width, e.height)
        with Image.open(store.derived_path(e, "thumb")) as thumb:
            assert max(thumb.size) <= 256


def test_same_bytes_twice_returns_the_same_element(store, engine):
    first = store.add_images([PRODUCTS[0]], "product")[0]
    again = store.add_images([PRODUCTS[0]], "product", name="another label")[0]
    assert not again.created and again.element.code == first.element.code
    assert _row_count(engine) == 1


def test_products_on_plain_light_background_get_a_cutout(store):
    by_name = {r.element.name: r.element for r in store.add_images(PRODUCTS, "product")}
    inside = {"sneaker-red": (500, 500), "backpack-blue": (400, 400), "headphones": (230, 450), "bottle-green": (400, 300)}
    for name, (x, y) in inside.items():
        element = by_name[name]
        assert element.attributes["has_cutout"] and element.cutout_method == "flood fill", name
        with Image.open(store.derived_path(element, "cutout")) as cut:
            alpha = np.asarray(cut.getchannel("A"))
        assert alpha[0, 0] == 0 and alpha[-1, -1] == 0  # background corners gone
        assert alpha[y, x] == 255  # the product itself stays
        assert 0.05 < (alpha > 128).mean() < 0.7
    for name in ("watch-classic", "teapot-clay"):  # gradient and striped backdrops: GrabCut, not the flood fill
        assert by_name[name].cutout_method == "grabcut", name


def test_alpha_trimmed_box_of_a_transparent_model(store):
    element = store.add_images([sample_files("models")[0]], "model")[0].element
    left, top, right, bottom = element.attributes["bbox"]
    assert 0 < left and right < element.width and 0 < top  # transparent margins trimmed
    assert bottom == element.height  # the body reaches the bottom edge


def test_exif_orientation_is_applied(store, tmp_path):
    img = Image.new("RGB", (200, 100), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 100, 100))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif, quality=95)
    result = store.add_images([path], "background")[0]
    assert (result.element.width, result.element.height) == (100, 200)
    assert "EXIF orientation applied" in result.notes
    with Image.open(store.derived_path(result.element, "rgba")) as rgba:
        r, g, b, _ = rgba.getpixel((50, 20))
    assert b > 200 and r < 60  # top of the upright image is the former left (blue) half


@pytest.mark.parametrize("mode,note", [("CMYK", "CMYK converted to RGB"), ("I;16", "16-bit greyscale scaled to 8 bits"), ("P", "transparency key converted to alpha")])
def test_cmyk_16bit_and_palette_transparency_are_converted(store, tmp_path, mode, note):
    if mode == "CMYK":
        path = _png(Image.new("CMYK", (64, 64), (0, 255, 255, 0)), tmp_path / "cmyk.jpg")
    elif mode == "I;16":
        arr = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16)
        path = _png(Image.frombytes("I;16", (64, 64), arr.tobytes()), tmp_path / "grey16.png")
    else:
        pal = Image.new("P", (64, 64), 0)
        pal.putpalette([255, 255, 255, 200, 30, 30] + [0] * 762)
        pal.paste(1, (16, 16, 48, 48))
        path = _png(pal, tmp_path / "palette.png", transparency=0)
    result = store.add_images([path], "logo")[0]
    assert note in result.notes
    with Image.open(store.derived_path(result.element, "rgba")) as rgba:
        assert rgba.mode == "RGBA"
        if mode == "CMYK":
            assert rgba.getpixel((5, 5))[:3][0] > 200 and rgba.getpixel((5, 5))[1] < 60  # red survives
        if mode == "P":
            assert rgba.getpixel((0, 0))[3] == 0 and rgba.getpixel((32, 32))[3] == 255
        if mode == "I;16":
            assert rgba.getpixel((63, 63))[0] > 200  # scaled, not clipped to white everywhere
            assert rgba.getpixel((0, 2))[0] < 10


def _bomb_png(path: Path) -> Path:
    """A tiny file whose header claims 100000x100000 pixels."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    return path


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = io.BytesIO()
    Image.new("RGB", (300, 300), (10, 200, 30)).save(good, "PNG")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    svg = tmp_path / "drawing.png"
    svg.write_text('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>')
    html = tmp_path / "page.png"
    html.write_text("<!DOCTYPE html><html><body>hi</body></html>")
    text = tmp_path / "notes.png"
    text.write_text("just some text, not an image")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    return {
        "not an image": (text, "not an image"),
        "empty file": (empty, "empty"),
        "truncated": (truncated, "truncated or corrupt"),
        "decompression bomb": (_bomb_png(tmp_path / "bomb.png"), "decompression bomb"),
        "one pixel": (_png(Image.new("RGB", (1, 1)), tmp_path / "dot.png"), "too small"),
        "svg named png": (svg, "SVG/HTML/XML"),
        "html named png": (html, "SVG/HTML/XML"),
    }


@pytest.mark.parametrize("case", ["not an image", "empty file", "truncated", "decompression bomb", "one pixel", "svg named png", "html named png"])
def test_bad_upload_is_refused_naming_the_file_and_storing_nothing(store, engine, home, tmp_path, case):
    path, why = _bad_inputs(tmp_path)[case]
    with pytest.raises(ElementRejected) as err:
        store.add_images([path], "product")
    message = str(err.value)
    assert str(path) in message and why in message and "\n" not in message
    assert _row_count(engine) == 0 and _stored_files(home) == []


def test_name_with_path_traversal_is_refused(store, engine, home):
    with pytest.raises(ElementRejected, match=r"contains '\.\.'"):
        store.add_images([PRODUCTS[0]], "product", name="../../etc/passwd")
    assert _row_count(engine) == 0 and _stored_files(home) == []


def test_one_bad_file_in_a_batch_stores_none_of_them(store, engine, home, tmp_path):
    bad, _ = _bad_inputs(tmp_path)["truncated"]
    with pytest.raises(ElementRejected, match="truncated"):
        store.add_images([PRODUCTS[0], bad, PRODUCTS[1]], "product")
    assert _row_count(engine) == 0 and _stored_files(home) == []


def test_failed_database_insert_leaves_no_files(store, engine, home, monkeypatch):
    def broken_row(_element):
        raise RuntimeError("database went away")
    monkeypatch.setattr(store, "_row", broken_row)
    with pytest.raises(RuntimeError):
        store.add_images([PRODUCTS[0]], "product")
    assert _row_count(engine) == 0 and _stored_files(home) == []


def test_remove_deletes_row_and_files(store, engine, home):
    element = store.add_images([PRODUCTS[0]], "product")[0].element
    store.remove(element.code)
    assert _row_count(engine) == 0 and _stored_files(home) == []


def test_title_elements_are_content_addressed_too(store):
    first = store.add_text("title", "Run lighter every day", name="SKU-1", attributes={"style": "benefit"})
    again = store.add_text("title", "Run lighter every day", name="SKU-1", attributes={"style": "benefit"})
    assert first.code == again.code and first.code.startswith("T-")
