"""Derived data computed once at upload: trimmed box, palette, thumbnail and product cut-out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

THUMBNAIL_SIDE = 256
PALETTE_SIZE = 5
# A plain light background: the border is bright and nearly uniform.
LIGHT_BORDER_MIN_LUMA = 200.0
LIGHT_BORDER_MAX_STD = 14.0
BACKGROUND_DISTANCE = 28.0  # RGB distance from the border colour still counted as background


@dataclass(frozen=True)
class Derived:
    bbox: tuple[int, int, int, int]  # alpha-trimmed [left, top, right, bottom)
    palette: list[str]  # most frequent first, "#rrggbb"
    thumbnail: Image.Image
    cutout: Image.Image | None  # RGBA with the background made transparent


def alpha_bbox(img: Image.Image) -> tuple[int, int, int, int]:
    box = img.getchannel("A").point(lambda a: 255 if a > 8 else 0).getbbox()
    return box or (0, 0, img.width, img.height)


def palette(img: Image.Image, colours: int = PALETTE_SIZE) -> list[str]:
    """Dominant colours of the opaque pixels, by median cut on a small copy."""
    small = img.copy()
    small.thumbnail((128, 128))
    arr = np.asarray(small)
    opaque = arr[arr[..., 3] > 128][:, :3]
    if len(opaque) == 0:
        opaque = arr.reshape(-1, 4)[:, :3]
    strip = Image.fromarray(opaque.reshape(1, -1, 3).astype(np.uint8), "RGB")
    quant = strip.quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    pal = quant.getpalette()[: 3 * colours]
    counts = sorted(quant.getcolors(), reverse=True)
    result = [f"#{pal[3 * i]:02x}{pal[3 * i + 1]:02x}{pal[3 * i + 2]:02x}" for _, i in counts]
    while len(result) < colours:  # flat images have fewer distinct colours
        result.append(result[-1])
    return result


def thumbnail(img: Image.Image, side: int = THUMBNAIL_SIDE) -> Image.Image:
    thumb = img.copy()
    thumb.thumbnail((side, side), Image.Resampling.LANCZOS)
    return thumb


def _border(arr: np.ndarray, width: int) -> np.ndarray:
    return np.concatenate([arr[:width].reshape(-1, 3), arr[-width:].reshape(-1, 3), arr[:, :width].reshape(-1, 3), arr[:, -width:].reshape(-1, 3)])


def has_plain_light_background(img: Image.Image) -> bool:
    rgb = np.asarray(img.convert("RGB"), dtype=np.float32)
    if np.asarray(img.getchannel("A")).min() < 250:
        return False  # already transparent somewhere: nothing to cut
    border = _border(rgb, max(2, min(img.size) // 50))
    luma = border @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return float(luma.mean()) >= LIGHT_BORDER_MIN_LUMA and float(border.std(axis=0).max()) <= LIGHT_BORDER_MAX_STD


def cutout(img: Image.Image) -> Image.Image:
    """Make the light background connected to the image border transparent, with a soft edge."""
    rgb = np.asarray(img.convert("RGB"), dtype=np.float32)
    bg = np.median(_border(rgb, max(2, min(img.size) // 50)), axis=0)
    close = np.linalg.norm(rgb - bg, axis=2) < BACKGROUND_DISTANCE
    labels, _ = ndimage.label(close)
    edge_labels = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    background = np.isin(labels, edge_labels[edge_labels > 0])
    background = ndimage.binary_opening(background, iterations=1, border_value=1)
    alpha = Image.fromarray(np.where(background, 0, 255).astype(np.uint8), "L").filter(ImageFilter.GaussianBlur(0.8))
    out = img.convert("RGBA")
    out.putalpha(alpha)
    return out


def derive(img: Image.Image, kind: str) -> Derived:
    cut = cutout(img) if kind == "product" and has_plain_light_background(img) else None
    subject = cut if cut is not None else img
    return Derived(bbox=alpha_bbox(subject), palette=palette(subject), thumbnail=thumbnail(subject), cutout=cut)
