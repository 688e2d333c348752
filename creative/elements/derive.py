"""Derived data computed once at upload: trimmed box, palette, thumbnail, product cut-out and subject box.

A product photo gets a cut-out by flood fill when its background is plain and light (exact there), else
by GrabCut when the result can be trusted (`creative.elements.segment`); a photo left as it is keeps
the box of its subject, so composition can crop around it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

from creative.elements import FLOOD_FILL, GRABCUT, segment

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
    cutout_method: str | None = None  # FLOOD_FILL or GRABCUT when there is a cut-out
    subject: segment.Box | None = None  # a product photo's subject (relative box) when it is not cut out


def alpha_bbox(img: Image.Image) -> tuple[int, int, int, int]:
    box = img.getchannel("A").point(lambda a: 255 if a > 8 else 0).getbbox()
    return box or (0, 0, img.width, img.height)


def palette(img: Image.Image, colours: int = PALETTE_SIZE) -> list[str]:
    """Dominant colours of the opaque pixels, by median cut on a small copy."""
    arr = np.asarray(thumbnail(img, 128, Image.Resampling.BICUBIC))
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


def thumbnail(img: Image.Image, side: int = THUMBNAIL_SIDE, resample: Image.Resampling = Image.Resampling.LANCZOS) -> Image.Image:
    """A small copy; Image.reduce first, so a large image is never copied at full size."""
    factor = max(1, max(img.size) // (2 * side))  # still twice the final size: reduce() is a box filter
    thumb = img.reduce(factor) if factor > 1 else img.copy()
    thumb.thumbnail((side, side), resample)
    return thumb


def _border_width(img: Image.Image) -> int:
    return max(2, min(img.size) // 50)


def _border(img: Image.Image) -> np.ndarray:
    """The RGB pixels of the four border strips, without touching the inside of the image."""
    w, h, b = img.width, img.height, _border_width(img)
    strips = [img.crop(box).convert("RGB") for box in ((0, 0, w, b), (0, h - b, w, h), (0, 0, b, h), (w - b, 0, w, h))]
    return np.concatenate([np.asarray(s).reshape(-1, 3) for s in strips]).astype(np.float32)


def has_plain_light_background(img: Image.Image) -> bool:
    if img.getextrema()[3][0] < 250:
        return False  # already transparent somewhere: nothing to cut
    border = _border(img)
    luma = border @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return float(luma.mean()) >= LIGHT_BORDER_MIN_LUMA and float(border.std(axis=0).max()) <= LIGHT_BORDER_MAX_STD


def _near(img: Image.Image, colour: np.ndarray, distance: float, rows: int = 256) -> np.ndarray:
    """Pixels within `distance` (RGB) of `colour`, a band of rows at a time: one byte a pixel at most."""
    near = np.empty((img.height, img.width), dtype=bool)
    for top in range(0, img.height, rows):
        band = np.asarray(img.crop((0, top, img.width, min(img.height, top + rows))).convert("RGB"), dtype=np.float32)
        near[top:top + rows] = ((band - colour) ** 2).sum(axis=2) < distance**2
    return near


def cutout(img: Image.Image) -> Image.Image:
    """Make the light background connected to the image border transparent, with a soft edge."""
    close = _near(img, np.median(_border(img), axis=0), BACKGROUND_DISTANCE)
    labels, count = ndimage.label(close)
    del close
    edge_labels = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    is_edge = np.zeros(count + 1, dtype=bool)
    is_edge[edge_labels[edge_labels > 0]] = True
    background = is_edge[labels]
    del labels
    background = ndimage.binary_opening(background, iterations=1, border_value=1)
    np.logical_not(background, out=background)
    alpha = Image.fromarray(background.view(np.uint8) * np.uint8(255), "L").filter(ImageFilter.GaussianBlur(0.8))
    del background
    out = img.convert("RGBA")
    out.putalpha(alpha)
    return out


def product_cutout(img: Image.Image) -> tuple[Image.Image | None, str | None, segment.Box | None]:
    """(cut-out, method, subject box) of a product picture. Already transparent: nothing to do; a plain light
    background: flood fill; otherwise GrabCut on a small copy, kept only when trusted, else the subject box."""
    if img.getextrema()[3][0] < 250:
        return None, None, None
    if has_plain_light_background(img):
        return cutout(img), FLOOD_FILL, None
    rgb = segment.small_rgb(img)
    found = segment.grabcut(rgb)
    if not found.trusted:
        return None, None, segment.subject_box(found, rgb)
    img.putalpha(segment.feathered_alpha(found.foreground, img.size))  # in place: see derive()
    return img, GRABCUT, None


def derive(img: Image.Image, kind: str) -> Derived:
    """The derived data of an RGBA image. A product's image may become its GrabCut cut-out in place (its
    alpha replaced) rather than copied, which keeps the worst accepted upload within its memory budget
    (benchmarks/elements_bench.py): callers hand over an image they no longer need as it was."""
    cut, method, box = product_cutout(img) if kind == "product" else (None, None, None)
    picture = cut if cut is not None else img
    return Derived(bbox=alpha_bbox(picture), palette=palette(picture), thumbnail=thumbnail(picture), cutout=cut,
                   cutout_method=method, subject=box)
