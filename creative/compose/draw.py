"""Pillow drawing: element pictures, a banner's base, text blocks and shapes, pasting, and encoding.

Each function draws one thing from plain values and keeps nothing; the renderer caches what they
return. Text and shapes are drawn as RGBA blocks (colour with coverage as alpha) so a block drawn
once is pasted into every banner that shows it.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from creative.compose.errors import CompositionError
from creative.compose.plan import RGB, Base, Crop, Picture
from creative.compose.spec import FORMATS, ElementInfo
from creative.fonts import find_font
from layouts.text import FontSpec, TextFit

ENCODE_OPTIONS = {"jpeg": {"quality": 85}, "png": {"compress_level": 1}, "webp": {"quality": 80, "method": 2}}

Fitted = Callable[[str, int, int, "Crop | None", str], Image.Image]
"""(code, width, height, crop, mode) -> the element's picture at that size, as the renderer caches it."""


def nbytes(image: Image.Image) -> int:
    return image.width * image.height * len(image.getbands())


def load_font(spec: FontSpec) -> ImageFont.FreeTypeFont:
    found = find_font(spec.script, spec.weight)
    return ImageFont.truetype(str(found.path), spec.size, index=found.index)


def font_language(spec: FontSpec) -> str | None:
    """The language a font shapes text in (a pan-CJK bold face needs zh-Hans for Chinese forms)."""
    return find_font(spec.script, spec.weight).language


def load_picture(info: ElementInfo) -> Image.Image:
    """The element's picture as RGBA, trimmed to its opaque pixels (backgrounds as they are)."""
    if not info.path or not Path(info.path).is_file():
        raise CompositionError(f"the picture of element {info.code} is missing at {info.path}; re-add the element")
    with Image.open(info.path) as im:
        image = im.convert("RGBA")
    if info.kind != "background":
        box = image.getchannel("A").getbbox()
        if box and box != (0, 0, image.width, image.height):
            image = image.crop(box)
    return image


def resize_picture(source: Image.Image, w: int, h: int, crop: Crop | None, mode: str,
                   premultiplied: Callable[[], Image.Image]) -> Image.Image:
    """`source` cropped to the relative `crop` and resized to w x h, converted to `mode`.
    `premultiplied` gives the source as RGBa (the renderer converts it once per element)."""
    box = None
    if crop is not None:
        box = (crop[0] * source.width, crop[1] * source.height, crop[2] * source.width, crop[3] * source.height)
    size = (max(1, w), max(1, h))
    if source.mode == "RGBA" and not (source.size == size and box in (None, (0, 0, *source.size))):
        # What Image.resize does for RGBA (premultiply, resize, un-premultiply), with the premultiplied
        # source converted once per element instead of once per size.
        image = premultiplied().resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=2.0).convert("RGBA")
    else:
        image = source.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=2.0)
    return image if image.mode == mode else image.convert(mode)


def draw_base(base: Base, fitted: Fitted, masks: Callable[[int, int], "CardMasks"] | None = None) -> Image.Image:
    """The base's layers drawn in order; `masks` gives a card's masks by size (default: `card_masks`)."""
    size = base.size
    canvas = Image.new("RGB", (size.width, size.height), base.fill or (0, 0, 0))
    for layer in base.layers:
        l, t, r, b = layer.ltrb
        if isinstance(layer, Picture):
            if layer.card:
                photo = fitted(layer.code, r - l, b - t, layer.crop, "RGB")
                draw_card(canvas, photo, l, t, (masks or card_masks)(*photo.size))
            elif layer.opaque:
                canvas.paste(fitted(layer.code, r - l, b - t, layer.crop, "RGB"), (l, t))
            else:
                image = fitted(layer.code, r - l, b - t, layer.crop, "RGBA")
                canvas.paste(image, (l, t), image)
            continue
        mask = Image.new("L", (max(1, r - l), max(1, b - t)), 0)
        alpha = round(layer.opacity * 255)
        if layer.shape == "circle":
            d = min(r - l, b - t)
            ox, oy = ((r - l) - d) // 2, ((b - t) - d) // 2
            ImageDraw.Draw(mask).ellipse((ox, oy, ox + d - 1, oy + d - 1), fill=alpha)
        else:
            mask.paste(alpha, (0, 0, mask.width, mask.height))
        canvas.paste(Image.new("RGB", mask.size, layer.colour), (l, t), mask)
    return canvas


def _supersampled_mask(w: int, h: int, radius: float | None) -> Image.Image:
    """A shape's coverage (L) drawn at 2x and reduced, for smooth edges: a rounded rectangle of `radius`
    (px at 1x), or an ellipse when `radius` is None."""
    mask = Image.new("L", (w * 2, h * 2), 0)
    draw = ImageDraw.Draw(mask)
    if radius is None:
        draw.ellipse((0, 0, w * 2 - 1, h * 2 - 1), fill=255)
    else:
        draw.rounded_rectangle((0, 0, w * 2 - 1, h * 2 - 1), radius=radius * 2, fill=255)
    return mask.resize((w, h), Image.Resampling.BOX)


def rounded_mask(w: int, h: int, radius: float) -> Image.Image:
    """A rounded rectangle's coverage, drawn at 2x and reduced for smooth corners. Only the corners are
    drawn (cut from a small rectangle of the same radius: the same pixels): the rest is fully covered."""
    reach = math.ceil(radius) + 1  # a corner's curve and its antialiased edge
    if 2 * reach >= min(w, h):
        return _supersampled_mask(w, h, radius)
    corners = _supersampled_mask(2 * reach, 2 * reach, radius)
    mask = Image.new("L", (w, h), 255)
    for cx, cy, x, y in ((0, 0, 0, 0), (reach, 0, w - reach, 0), (0, reach, 0, h - reach), (reach, reach, w - reach, h - reach)):
        mask.paste(corners.crop((cx, cy, cx + reach, cy + reach)), (x, y))
    return mask


@dataclass(frozen=True)
class CardMasks:
    """What a card of one size needs whatever its photo: the rounded corners and the drop shadow."""

    corners: Image.Image  # L, the photo's rounded-rectangle coverage
    shadow: Image.Image  # L, blurred; 2 * blur wider than the photo on every side
    blur: int
    drop: int  # how far the shadow falls below the photo

    @property
    def nbytes(self) -> int:
        return nbytes(self.corners) + nbytes(self.shadow)


def card_masks(w: int, h: int) -> CardMasks:
    side = min(w, h)
    radius = max(3, round(side * 0.06))
    blur = max(2, round(side * 0.03))
    drop = max(1, round(side * 0.02))
    # the shadow is blurred at a quarter of its size and scaled up: the same soft edge for a sixteenth of the work
    q = 4
    small = Image.new("L", (max(1, (w + 4 * blur) // q), max(1, (h + 4 * blur) // q)), 0)
    ImageDraw.Draw(small).rounded_rectangle((2 * blur // q, 2 * blur // q, (2 * blur + w) // q - 1, (2 * blur + h) // q - 1),
                                            radius=radius / q, fill=90)
    shadow = small.filter(ImageFilter.GaussianBlur(blur / q)).resize((w + 4 * blur, h + 4 * blur), Image.Resampling.BILINEAR)
    return CardMasks(rounded_mask(w, h, radius), shadow, blur, drop)


def draw_card(canvas: Image.Image, photo: Image.Image, x: int, y: int, masks: CardMasks) -> None:
    """A product photo with its own backdrop, shown on purpose: rounded corners over a soft drop shadow.
    `masks` are `card_masks(*photo.size)`, which a renderer keeps per size."""
    canvas.paste((0, 0, 0), (x - 2 * masks.blur, y - 2 * masks.blur + masks.drop), masks.shadow)
    canvas.paste(photo, (x, y), masks.corners)


def text_pad(font: FontSpec) -> int:
    """The margin around a text block, so overhangs of bold glyphs are not clipped."""
    return 2 + font.size // 20


def text_mask(fit: TextFit, font: ImageFont.FreeTypeFont, align: str) -> Image.Image:
    """The fitted lines' coverage (L), aligned within the block; its margin is `text_pad(fit.font)`.
    Drawing the glyphs is the costly part of a text block, and one mask serves every colour."""
    pad = text_pad(fit.font)
    language = font_language(fit.font)
    w, h = math.ceil(fit.width) + 2 * pad, math.ceil(fit.height) + 2 * pad
    mask = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(mask)
    for i, (line, lw) in enumerate(zip(fit.lines, fit.line_widths)):
        x = {"left": 0, "center": (fit.width - lw) / 2, "right": fit.width - lw}[align]
        draw.text((pad + x, pad + fit.ascent + i * fit.line_gap), line, font=font, fill=255, anchor="ls", language=language)
    return mask


def coloured(mask: Image.Image, colour: RGB) -> Image.Image:
    """An RGBA block in `colour` with `mask` as its alpha."""
    block = Image.new("RGBA", mask.size, (*colour, 255))
    block.putalpha(mask)
    return block


def shape_block(w: int, h: int, fill: tuple[int, ...], kind: str) -> Image.Image:
    """A badge, button or scrim shape (circle, pill, scrim, else a rounded rect) in `fill` (RGB or RGBA)."""
    radius = None if kind == "circle" else h / 2 if kind == "pill" else min(h, w) / 8 if kind == "scrim" else min(6, h // 4)
    mask = _supersampled_mask(w, h, radius)
    if len(fill) == 4:
        mask = mask.point(lambda v, a=fill[3]: v * a // 255)
    block = Image.new("RGBA", (w, h), (*fill[:3], 255))
    block.putalpha(mask)
    return block


def paste(canvas: Image.Image, block: Image.Image, x: int, y: int) -> None:
    """Alpha-paste an RGBA block at (x, y): what Image.paste ends in, without its argument checks."""
    canvas.im.paste(block.im, (x, y, x + block.width, y + block.height), block.im)


def encode(image: Image.Image, fmt: str, quality: int | None = None) -> bytes:
    """The banner's file bytes; the same settings in batches and in the benchmark's encode-only run."""
    if fmt not in FORMATS:
        raise CompositionError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    options = dict(ENCODE_OPTIONS[fmt])
    if quality is not None and "quality" in options:
        options["quality"] = quality
    buf = io.BytesIO()
    image.save(buf, format=fmt.upper(), **options)
    return buf.getvalue()
