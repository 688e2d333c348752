"""Turn an uploaded file into a checked, oriented sRGB RGBA image, or refuse it with a reason.

Every refusal names the file and says what to do; nothing is written here.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from creative.errors import ElementRejected

MAX_PIXELS = 40_000_000  # 40 MP: beyond any banner source; larger headers are decompression bombs
MIN_SIDE = 16
MAX_FILE_BYTES = 50 * 1024 * 1024
ACCEPTED_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tif"}
_MARKUP_PREFIXES = (b"<?xml", b"<svg", b"<!doctype", b"<html", b"<head", b"<body", b"<!--")
_SRGB = ImageCms.createProfile("sRGB")


@dataclass(frozen=True)
class ValidatedImage:
    source: Path
    data: bytes  # the untouched original bytes
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
        raise _reject(path, "floating-point image data cannot be shown in a banner", "export it as 8-bit RGB or RGBA PNG/JPEG")
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


def load_image(path: Path) -> ValidatedImage:
    """Read and check one upload; raise ElementRejected with the file's name and a fix."""
    path = Path(path)
    if not path.is_file():
        raise _reject(path, "no such file", "check the path")
    size = path.stat().st_size
    if size == 0:
        raise _reject(path, "the file is empty", "upload the real image file")
    if size > MAX_FILE_BYTES:
        raise _reject(path, f"the file is {size / 1e6:.0f} MB, over the {MAX_FILE_BYTES // 1024 // 1024} MB limit", "export a smaller image")
    data = path.read_bytes()
    if _sniff_markup(data[:512]):
        raise _reject(path, "this is an SVG/HTML/XML text file, not a raster image", "export it as PNG or JPEG")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            fmt = probe.format
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise _reject(path, f"{width}x{height} pixels is over the {MAX_PIXELS // 1_000_000} MP limit", "downscale the image before uploading")
            if fmt not in ACCEPTED_FORMATS:
                raise _reject(path, f"{fmt} images are not accepted", f"use one of {', '.join(sorted(ACCEPTED_FORMATS))}")
            probe.verify()  # checksums and structure; the object is unusable afterwards
            img = Image.open(io.BytesIO(data))
            if getattr(img, "n_frames", 1) > 1:
                notes.append(f"first of {img.n_frames} frames used")
            img.load()
    except ElementRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _reject(path, "the image header claims more pixels than allowed (decompression bomb)", "downscale the image before uploading") from None
    except UnidentifiedImageError:
        raise _reject(path, "not an image Pillow can read", "upload a PNG, JPEG or WebP file") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise _reject(path, f"the image is truncated or corrupt ({exc})", "re-export or re-download the file") from None
    if min(width, height) < MIN_SIDE:
        raise _reject(path, f"{width}x{height} is too small (minimum {MIN_SIDE}x{MIN_SIDE})", "upload the full-resolution image")
    if img.info.get("transparency") is not None and img.mode in ("P", "L", "RGB"):
        img = img.convert("RGBA")
        notes.append("transparency key converted to alpha")
    oriented = ImageOps.exif_transpose(img)
    if oriented.size != img.size or oriented is not img:
        if (img.getexif() or {}).get(0x0112, 1) != 1:
            notes.append("EXIF orientation applied")
    rgba = _to_srgb_rgba(oriented, path, notes)
    return ValidatedImage(source=path, data=data, extension=ACCEPTED_FORMATS[fmt], image=rgba, notes=tuple(notes))
