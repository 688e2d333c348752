"""Turn an uploaded file into a checked, oriented sRGB RGBA image, or refuse it with a reason.

Every refusal names the file and says what to do; nothing is written here. Files are checked and
hashed before any pixel is decoded, and an image is decoded only when it fits the memory budget.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageCms, ImageMode, ImageOps, UnidentifiedImageError

from creative.errors import ElementRejected

MAX_PIXELS = 40_000_000  # 40 MP: beyond any banner source; larger headers are decompression bombs
# One image as the pipeline holds it (8-bit RGBA): 40 MiB is 10.5 MP, far above any banner. Decoding
# and deriving (cut-out included) take about 12 bytes a pixel at the peak, so the worst accepted
# upload stays under 300 MB RSS in the CLI (benchmarks/elements_bench.py). Lossless WebP/PNG/TIFF
# compress a plain 36 MP canvas into a few KB, so the file size says nothing about this.
DECODE_BUDGET_BYTES = 40 * 1024 * 1024
WORKING_BYTES_PER_PIXEL = 4  # every image is worked on as 8-bit RGBA, whatever it decodes to
JPEG_SCALES = (2, 4, 8)  # JPEG decodes at 1/2, 1/4 or 1/8 scale for almost no memory or time
MIN_SIDE = 16
MAX_FILE_BYTES = 50 * 1024 * 1024
ACCEPTED_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tif"}
FORMAT_NAMES = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP", "GIF": "GIF", "BMP": "BMP", "TIFF": "TIFF"}  # as people write them
ACCEPTED_FORMATS_TEXT = ", ".join(list(FORMAT_NAMES.values())[:-1]) + " or " + list(FORMAT_NAMES.values())[-1]
_MARKUP_PREFIXES = (b"<?xml", b"<svg", b"<!doctype", b"<html", b"<head", b"<body", b"<!--")
_SRGB = ImageCms.createProfile("sRGB")
_MB = 1024 * 1024


@dataclass(frozen=True)
class ValidatedImage:
    source: Path
    extension: str
    image: Image.Image  # oriented, sRGB, RGBA
    notes: tuple[str, ...]  # conversions applied, for the user to see


def _reject(path: Path, why: str, todo: str) -> ElementRejected:
    return ElementRejected(f"{path}: {why}; {todo}")


def _to_srgb_rgba(img: Image.Image, path: Path, notes: list[str]) -> Image.Image:
    icc = img.info.get("icc_profile")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: scale to 8 bits instead of clipping at 255.
        img = img.point(lambda v: v / 256).convert("L")
        notes.append("16-bit greyscale scaled to 8 bits")
    elif img.mode == "F":
        raise _reject(path, "floating-point image data cannot be shown in a banner", f"export it as an 8-bit {ACCEPTED_FORMATS_TEXT} file")
    if img.mode == "P":
        img = img.convert("RGBA")
        notes.append("palette converted to RGBA")
    if icc:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out_mode = "RGBA" if "A" in img.getbands() and img.mode in ("RGBA", "LA") else "RGB"
            if img.mode not in ("RGB", "RGBA", "CMYK", "L"):
                img = img.convert("RGBA")
            if img.mode == "LA":
                img = img.convert("RGBA")
            img = ImageCms.profileToProfile(img, src, _SRGB, outputMode=out_mode if img.mode != "CMYK" else "RGB")
            notes.append("embedded colour profile converted to sRGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            notes.append("embedded colour profile unreadable; assumed sRGB")
    if img.mode == "CMYK":
        img = img.convert("RGB")
        notes.append("CMYK converted to RGB")
    return img.convert("RGBA")


def _sniff_markup(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").lower().startswith(_MARKUP_PREFIXES)


def check_file(path: Path) -> str:
    """Cheap checks before any decoding (exists, size, not markup); return the bytes' sha256."""
    path = Path(path)
    if not path.is_file():
        raise _reject(path, "no such file", "check the path")
    size = path.stat().st_size
    if size == 0:
        raise _reject(path, "the file is empty", "upload the real image file")
    if size > MAX_FILE_BYTES:
        raise _reject(path, f"the file is {size / 1e6:.0f} MB, over the {MAX_FILE_BYTES // _MB} MB limit", "export a smaller image")
    with path.open("rb") as f:
        if _sniff_markup(f.read(512)):
            raise _reject(path, "this is an SVG/HTML/XML text file, not a raster image", f"export it as {ACCEPTED_FORMATS_TEXT}")
        f.seek(0)
        return hashlib.file_digest(f, "sha256").hexdigest()


def working_bytes(mode: str, size: tuple[int, int]) -> int:
    """Memory one decoded copy takes: width x height x bands x bytes per band, and never less than RGBA."""
    spec = ImageMode.getmode(mode)
    per_pixel = len(spec.bands) * int(spec.typestr[-1])
    return size[0] * size[1] * max(per_pixel, WORKING_BYTES_PER_PIXEL)


def _fit_budget(img: Image.Image, path: Path, notes: list[str]) -> None:
    """Refuse an image too big to decode, before decoding it; JPEG decodes at a reduced scale instead."""
    need = working_bytes(img.mode, img.size)
    if need <= DECODE_BUDGET_BYTES:
        return
    width, height = img.size
    if img.format == "JPEG":
        scale = next((s for s in JPEG_SCALES if working_bytes(img.mode, (-(-width // s), -(-height // s))) <= DECODE_BUDGET_BYTES), None)
        if scale is not None:
            img.draft(None, (width // scale, height // scale))
            if working_bytes(img.mode, img.size) <= DECODE_BUDGET_BYTES:
                notes.append(f"decoded at 1/{scale} scale ({img.width}x{img.height}) to fit the {DECODE_BUDGET_BYTES // _MB} MB memory budget")
                return
    side = int((DECODE_BUDGET_BYTES / WORKING_BYTES_PER_PIXEL) ** 0.5)
    raise _reject(path, f"{width}x{height} pixels need {need / _MB:.0f} MB to decode, over the {DECODE_BUDGET_BYTES // _MB} MB budget for one image",
                  f"downscale it to at most {DECODE_BUDGET_BYTES // WORKING_BYTES_PER_PIXEL / 1e6:.1f} MP (e.g. {side}x{side}) and upload again")


def _upright_srgb_rgba(img: Image.Image, path: Path, notes: list[str]) -> Image.Image:
    """Alpha from a transparency key, EXIF orientation, sRGB: a new RGBA image, copying as little as possible."""
    if img.info.get("transparency") is not None and img.mode in ("P", "L", "RGB"):
        img = img.convert("RGBA")
        notes.append("transparency key converted to alpha")
    if img.getexif().get(0x0112, 1) != 1:
        ImageOps.exif_transpose(img, in_place=True)
        notes.append("EXIF orientation applied")
    return _to_srgb_rgba(img, path, notes)


def load_image(path: Path) -> ValidatedImage:
    """Decode one file that passed check_file; raise ElementRejected with the file's name and a fix.

    The header is read and checked (format, pixel count, memory budget) before any pixel is decoded."""
    path = Path(path)
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as probe:
                fmt = probe.format
                width, height = probe.size
                if width * height > MAX_PIXELS:
                    raise _reject(path, f"{width}x{height} pixels is over the {MAX_PIXELS // 1_000_000} MP limit", "downscale the image before uploading")
                if fmt not in ACCEPTED_FORMATS:
                    raise _reject(path, f"{FORMAT_NAMES.get(fmt, fmt)} images are not accepted", f"save it as {ACCEPTED_FORMATS_TEXT}")
                if min(width, height) < MIN_SIDE:
                    raise _reject(path, f"{width}x{height} is too small (minimum {MIN_SIDE}x{MIN_SIDE})", "upload the full-resolution image")
                probe.verify()  # checksums and structure; the object is unusable afterwards
            with Image.open(path) as img:
                if getattr(img, "n_frames", 1) > 1:
                    notes.append(f"first of {img.n_frames} frames used")
                _fit_budget(img, path, notes)
                img.load()
                rgba = _upright_srgb_rgba(img, path, notes)
    except ElementRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _reject(path, "the image header claims more pixels than allowed (decompression bomb)", "downscale the image before uploading") from None
    except UnidentifiedImageError:
        raise _reject(path, "not an image file we can read", f"upload a {ACCEPTED_FORMATS_TEXT} file") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _reject(path, f"the image is truncated or corrupt ({exc})", "re-export or re-download the file") from None
    return ValidatedImage(source=path, extension=ACCEPTED_FORMATS[fmt], image=rgba, notes=tuple(notes))
