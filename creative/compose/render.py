"""Drawing a solved layout with Pillow, with the caches that make batches fast.

A banner is drawn in two passes. The *base* (background, decorations, product, model) is what text
sits on; it is cached per combination of those layers, so a batch that varies titles and logos
copies it instead of redrawing. Text colour and scrim are chosen against the base's pixels under
each text block (cached), then scrims, text blocks, buttons, badges and logos are pasted from caches
of pre-rendered RGBA blocks. Everything about a solved layout that does not depend on the banner's
elements (boxes, drawing steps, layout-only attributes) is worked out once per layout (`_Plan`), so a
banner costs a copy of its base, a few pastes and dictionary lookups, plus the text-colour analysis
and scoring the first time its base, boxes and colours meet. `Renderer(pack, caching=False)` is the
naive baseline: same drawing, nothing kept between banners.
"""

from __future__ import annotations

import io
import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from creative.fonts import find_font
from creative.compose.errors import CompositionError
from creative.catalog import Product
from creative.compose.spec import FORMATS, CreativeSpec, ElementInfo, ElementPack
from layouts import colour as col
from layouts.errors import LayoutError
from layouts.geometry import Box
from layouts.metrics import GeometryScore, LayoutMetrics, Readability, Violation, evaluate, score_geometry
from layouts.sizes import Size, aspect_class, parse_size
from layouts.solver import Content, ImageContent, PlacedSlot, SolvedLayout, TextContent, solve
from layouts.template import LayoutTemplate, get_template
from layouts.text import FontSpec, TextFit, fit_text

CTA_TEXT = {"en": "Shop now", "zh": "立即购买"}
CURRENCY = {"en": "${}", "zh": "¥{}"}
BADGE_RED = (214, 40, 57)
ENCODE_OPTIONS = {"jpeg": {"quality": 85}, "png": {"compress_level": 1}, "webp": {"quality": 80, "method": 2}}


_TEXT, _BADGE, _LOGO = 0, 1, 2  # kinds of drawing step in a _Plan
_PIXELS_CACHED = 400_000  # bases up to this many pixels keep a numpy copy for the text-colour analysis


class _Plan:
    """What drawing a solved layout needs that does not depend on the banner's elements: the base
    layers, one step per text block, badge and logo with its boxes, and the layout-only attributes."""

    __slots__ = ("layout", "layers", "ops", "static", "has_background", "base_keys")

    def __init__(self, layout: SolvedLayout):
        self.layout = layout
        self.base_keys: dict[tuple, tuple] = {}  # (accent, background, product, model) -> (base key, fill)


class _LRU:
    """A small LRU cache bounded by an estimate of the bytes it holds."""

    def __init__(self, budget: int):
        self.budget = budget
        self.used = 0
        self.data: OrderedDict = OrderedDict()  # key -> (value, nbytes)

    def get(self, key):
        hit = self.data.get(key)
        if hit is None:
            return None
        self.data.move_to_end(key)
        return hit[0]

    def put(self, key, value, nbytes: int):
        self.data[key] = (value, nbytes)
        self.used += nbytes
        while self.used > self.budget and len(self.data) > 1:
            _, (_, old) = self.data.popitem(last=False)
            self.used -= old
        return value

    def clear(self):
        self.data.clear()
        self.used = 0


def _nbytes(image: Image.Image) -> int:
    return image.width * image.height * len(image.getbands())


class PillowMeasurer:
    """Text widths from cached FreeType fonts; word and line widths are cached too."""

    def __init__(self, renderer: "Renderer"):
        self.r = renderer

    def width(self, text: str, font: FontSpec) -> float:
        key = (text, font)
        w = self.r.widths.get(key)
        if w is None:
            w = self.r.font(font).getlength(text) + 2 * self.r.stroke(font)
            self.r.widths[key] = w
        return w

    def ascent_descent(self, font: FontSpec) -> tuple[int, int]:
        return self.r.font(font).getmetrics()


@dataclass
class Rendered:
    spec: CreativeSpec
    image: Image.Image | None
    layout: SolvedLayout | None
    metrics: LayoutMetrics | None
    violations: list[Violation]
    attributes: dict[str, Any]
    reasons: list[str]

    @property
    def accepted(self) -> bool:
        return self.image is not None and not self.reasons


def _rgb(hexes) -> list[tuple[int, int, int]]:
    out = []
    for h in hexes or ():
        try:
            out.append(col.parse_hex(h))
        except ValueError:
            pass
    return out


def format_price(offer: Product) -> str:
    value = offer.sale_price if offer.sale_price else offer.price
    text = f"{value:,.0f}" if abs(value - round(value)) < 0.005 else f"{value:,.2f}"
    return CURRENCY.get(offer.language, "{}").format(text)


def logo_position(box: Box | None, size: Size) -> str:
    if box is None:
        return "none"
    col_ = ("left", "center", "right")[min(2, int(box.cx / size.width * 3))]
    row = ("top", "middle", "bottom")[min(2, int(box.cy / size.height * 3))]
    return f"{row}-{col_}"


class Renderer:
    """Renders CreativeSpecs of one ElementPack; one per process, caches kept across calls."""

    def __init__(self, pack: ElementPack, caching: bool = True, cache_mb: int = 384):
        self.pack = pack
        self.caching = caching
        self.measurer = PillowMeasurer(self)
        budget = cache_mb * 1024 * 1024
        self.fonts: dict[FontSpec, ImageFont.FreeTypeFont] = {}
        self.widths: dict[tuple[str, FontSpec], float] = {}
        self.sources: dict[str, Image.Image] = {}
        self.resized = _LRU(budget // 3)
        self.bases = _LRU(budget // 2)
        self.blocks = _LRU(budget // 6)
        self.layouts: dict[tuple, SolvedLayout | LayoutError] = {}
        self.colours: dict[tuple, col.TextColour] = {}
        self.scores: dict[tuple, tuple[LayoutMetrics, list[Violation]]] = {}
        self.geometry: dict[int, GeometryScore] = {}
        self.fits: dict[tuple, TextFit | Exception] = {}
        self.contents: dict[tuple, tuple[Content, str]] = {}
        self.slots: dict[tuple, Any] = {}
        self.palettes: dict[tuple, tuple] = {}
        self.roles: dict[tuple, tuple] = {}
        self.families: dict[tuple, str] = {}
        self.parsed: dict[tuple, tuple] = {}
        self.plans: dict[int, _Plan] = {}
        self.base_ids: dict[tuple, int] = {}
        self.base_arrays = _LRU(budget // 8)
        self.cand_keys: dict[int, tuple] = {}
        self.badge_colours: dict[tuple, tuple] = {}
        self.element_attrs: dict[tuple, tuple] = {}
        self.attr_families: dict[tuple, tuple] = {}
        self.images: dict[str, ImageContent] = {}
        self.texts: dict[tuple, tuple] = {}
        self.template_roles: dict[str, tuple] = {}
        self.premultiplied: dict[str, Image.Image] = {}

    def reset(self) -> None:
        for cache in (self.fonts, self.widths, self.sources, self.layouts, self.colours, self.scores, self.geometry, self.fits, self.contents, self.slots, self.palettes, self.roles, self.families,
                      self.parsed, self.plans, self.base_ids, self.cand_keys, self.badge_colours, self.element_attrs, self.attr_families, self.images, self.texts, self.template_roles, self.premultiplied):
            cache.clear()
        for lru in (self.resized, self.bases, self.blocks, self.base_arrays):
            lru.clear()

    # ---- fonts and sources
    def font(self, spec: FontSpec) -> ImageFont.FreeTypeFont:
        font = self.fonts.get(spec)
        if font is None:
            f = find_font(spec.script, spec.weight)
            font = ImageFont.truetype(str(f.path), spec.size, index=f.index)
            self.fonts[spec] = font
        return font

    @staticmethod
    def stroke(spec: FontSpec) -> int:
        # WenQuanYi Micro Hei has one weight: bold CJK gets a thin stroke once it is big enough to show.
        return max(1, round(spec.size / 30)) if spec.script == "cjk" and spec.weight == "bold" and spec.size >= 16 else 0

    def element(self, code: str) -> ElementInfo:
        try:
            return self.pack.elements[code]
        except KeyError:
            raise CompositionError(f"element {code} is not in this batch's element pack") from None

    def source(self, code: str) -> Image.Image:
        """The element's picture as RGBA, trimmed to its opaque pixels (backgrounds as they are)."""
        image = self.sources.get(code)
        if image is None:
            info = self.element(code)
            if not info.path or not Path(info.path).is_file():
                raise CompositionError(f"the picture of element {code} is missing at {info.path}; re-add the element")
            with Image.open(info.path) as im:
                image = im.convert("RGBA")
            if info.kind != "background":
                box = image.getchannel("A").getbbox()
                if box and box != (0, 0, image.width, image.height):
                    image = image.crop(box)
            self.sources[code] = image
        return image

    def fit(self, text, box_w, box_h, measure, **kw) -> TextFit:
        """fit_text, memoised: the same title in the same box is fitted once per batch."""
        key = (text, box_w, box_h, tuple(sorted(kw.items())))
        hit = self.fits.get(key)
        if hit is None:
            try:
                hit = fit_text(text, box_w, box_h, measure, **kw)
            except LayoutError as exc:
                hit = exc
            self.fits[key] = hit
        if isinstance(hit, Exception):
            raise type(hit)(str(hit))
        return hit

    def fitted(self, code: str, w: int, h: int, crop: tuple[float, float, float, float] | None = None, mode: str = "RGBA") -> Image.Image:
        key = (code, w, h, crop, mode)
        image = self.resized.get(key)
        if image is None:
            src = self.source(code)
            box = None
            if crop is not None:
                box = (crop[0] * src.width, crop[1] * src.height, crop[2] * src.width, crop[3] * src.height)
            size = (max(1, w), max(1, h))
            if src.mode == "RGBA" and not (src.size == size and box in (None, (0, 0, *src.size))):
                # What Image.resize does for RGBA (premultiply, resize, un-premultiply), with the
                # premultiplied source converted once per element instead of once per size.
                premul = self.premultiplied.get(code)
                if premul is None:
                    premul = self.premultiplied[code] = src.convert("RGBa")
                image = premul.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=2.0).convert("RGBA")
            else:
                image = src.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=2.0)
            if mode != image.mode:
                image = image.convert(mode)
            self.resized.put(key, image, _nbytes(image))
        return image

    # ---- content and layout
    def content(self, template: LayoutTemplate, spec: CreativeSpec) -> tuple[Content, str]:
        content, language, _ = self._content_keyed(template, spec)
        return content, language

    def _content_keyed(self, template: LayoutTemplate, spec: CreativeSpec) -> tuple[Content, str, tuple]:
        """content() and its layout-cache key (the sorted items), built once per element combination."""
        key = (spec.template, spec.product, spec.offer, spec.model, spec.logo, spec.background, spec.title)
        hit = self.contents.get(key)
        if hit is None:
            content, language = self._content(template, spec)
            hit = self.contents[key] = (content, language, tuple(sorted(content.items())))
        return hit

    def _content(self, template: LayoutTemplate, spec: CreativeSpec) -> tuple[Content, str]:
        roles = self.template_roles.get(template.name)
        if roles is None:
            roles = self.template_roles[template.name] = tuple(r for r in ("product", "model", "logo", "background") if template.uses(r))
        content: dict[str, Any] = {}
        for role in roles:
            code = getattr(spec, role)
            if code:
                image = self.images.get(code)
                if image is None:
                    src = self.source(code)
                    image = self.images[code] = ImageContent(src.width / src.height)
                content[role] = image
        key = (spec.product, spec.offer, spec.title)
        texts = self.texts.get(key)
        if texts is None:
            texts = self.texts[key] = self._text_content(spec)
        content.update(texts[0])
        return content, texts[1]

    def _text_content(self, spec: CreativeSpec) -> tuple[dict[str, TextContent], str]:
        offer = self.pack.offers.get(spec.offer) if spec.offer else None
        content: dict[str, TextContent] = {}
        product = self.element(spec.product)
        if spec.title:
            title = self.element(spec.title).text or ""
        else:
            title = offer.name if offer else product.name
        content["title"] = TextContent(title)
        language = offer.language if offer else ("zh" if any("\u3000" <= c <= "\u9fff" for c in title) else "en")
        if offer is not None:
            content["price"] = TextContent(format_price(offer))
            if offer.discount_pct and offer.discount_pct >= 1:
                content["discount"] = TextContent(f"-{offer.discount_pct:.0f}%")
            if offer.features:
                feature = offer.features[0]
                content["subtitle"] = TextContent(feature[:1].upper() + feature[1:])
        content["cta"] = TextContent(CTA_TEXT.get(language, CTA_TEXT["en"]))
        return content, language

    def layout(self, template: LayoutTemplate, size: Size, content: Content, items: tuple | None = None) -> SolvedLayout:
        """solve(), memoised per template, size and content (`items`: the content's sorted items, if known)."""
        key = (template.name, size, items if items is not None else tuple(sorted(content.items())))
        hit = self.layouts.get(key)
        if hit is None:
            try:
                hit = solve(template, size, content, self.measurer, self.fit, self.slots)
            except LayoutError as exc:
                hit = exc
            self.layouts[key] = hit
        if isinstance(hit, LayoutError):
            raise hit
        return hit

    # ---- drawing
    def _palette(self, spec: CreativeSpec) -> tuple[list, tuple[int, int, int], list]:
        """Brand colours of a product and logo: (palette, accent, text candidates), cached per pair."""
        key = (spec.product, spec.logo)
        hit = self.palettes.get(key)
        if hit is None:
            product = _rgb(self.element(spec.product).palette)
            logo = _rgb(self.element(spec.logo).palette) if spec.logo else []
            accent = col.accent(logo, fallback=None) or col.accent(product)
            hit = self.palettes[key] = (logo + product, accent, col.brand_text_candidates(logo + product))
        return hit

    def role(self, role: str, accent) -> tuple[int, int, int]:
        key = (role, accent)
        hit = self.roles.get(key)
        if hit is None:
            hit = self.roles[key] = col.role_colour(role, [accent])
        return hit

    def family(self, rgb) -> str:
        hit = self.families.get(rgb)
        if hit is None:
            hit = self.families[rgb] = col.colour_family(rgb)
        return hit

    def _draw_base(self, key: tuple, fill) -> Image.Image:
        """Draw and cache the base of `key` ((size, layers), as _base_for builds it) on a `fill` canvas."""
        size, layers = key
        base = Image.new("RGB", (size.width, size.height), fill)
        for layer in layers:
            if layer[0] == "fill":
                continue  # the canvas was created in this colour
            if layer[0] == "bg":
                base.paste(self.fitted(layer[1], size.width, size.height, layer[2], "RGB"), (0, 0))
            elif layer[0] == "deco":
                _, shape, (l, t, r, b), colour, opacity = layer
                mask = Image.new("L", (max(1, r - l), max(1, b - t)), 0)
                draw = ImageDraw.Draw(mask)
                a = round(opacity * 255)
                if shape == "circle":
                    d = min(r - l, b - t)
                    ox, oy = ((r - l) - d) // 2, ((b - t) - d) // 2
                    draw.ellipse((ox, oy, ox + d - 1, oy + d - 1), fill=a)
                else:
                    mask.paste(a, (0, 0, mask.width, mask.height))
                base.paste(Image.new("RGB", mask.size, colour), (l, t), mask)
            else:
                _, code, (l, t, r, b), crop = layer
                image = self.fitted(code, r - l, b - t, crop)
                base.paste(image, (l, t), image)
        self.bases.put(key, base, _nbytes(base))
        return base

    def _text_block(self, p: PlacedSlot, colour) -> tuple[Image.Image, int]:
        """Pre-rendered text as an RGBA block (colour with coverage as alpha) and its margin."""
        fit = p.text
        key = ("text", fit.lines, fit.font, colour, p.slot.align, round(fit.width))
        pad = 2 + self.stroke(fit.font)
        block = self.blocks.get(key)
        if block is None:
            font = self.font(fit.font)
            stroke = self.stroke(fit.font)
            w, h = math.ceil(fit.width) + 2 * pad, math.ceil(fit.height) + 2 * pad
            mask = Image.new("L", (w, h), 0)
            draw = ImageDraw.Draw(mask)
            for i, (line, lw) in enumerate(zip(fit.lines, fit.line_widths)):
                x = {"left": 0, "center": (fit.width - lw) / 2, "right": fit.width - lw}[p.slot.align if p.kind in ("title", "subtitle") else "center"]
                draw.text((pad + x + stroke, pad + fit.ascent + i * fit.line_gap), line, font=font, fill=255, anchor="ls",
                          stroke_width=stroke, stroke_fill=255)
            block = Image.new("RGBA", (w, h), (*colour, 255))
            block.putalpha(mask)
            self.blocks.put(key, block, _nbytes(block))
        return block, pad

    def _shape_block(self, p: PlacedSlot, fill, radius_kind: str) -> Image.Image:
        l, t, r, b = p.content_box.ltrb()
        return self._shape_wh(max(1, r - l), max(1, b - t), fill, radius_kind)

    def _shape(self, wh: tuple[int, int], fill, radius_kind: str) -> Image.Image:
        return self._shape_wh(wh[0], wh[1], fill, radius_kind)

    def _shape_wh(self, w: int, h: int, fill, radius_kind: str) -> Image.Image:
        key = ("shape", radius_kind, w, h, fill)
        block = self.blocks.get(key)
        if block is None:
            mask = Image.new("L", (w * 2, h * 2), 0)  # drawn at 2x and reduced: smooth edges
            draw = ImageDraw.Draw(mask)
            if radius_kind == "circle":
                draw.ellipse((0, 0, w * 2 - 1, h * 2 - 1), fill=255)
            else:
                radius = h if radius_kind == "pill" else min(h, w) * 0.25 if radius_kind == "scrim" else min(6, h // 4) * 2
                draw.rounded_rectangle((0, 0, w * 2 - 1, h * 2 - 1), radius=radius, fill=255)
            mask = mask.resize((w, h), Image.Resampling.BOX)
            if len(fill) == 4:
                mask = mask.point(lambda v, a=fill[3]: v * a // 255)
            block = Image.new("RGBA", (w, h), (*fill[:3], 255))
            block.putalpha(mask)
            self.blocks.put(key, block, _nbytes(block))
        return block

    def render(self, spec: CreativeSpec) -> Rendered:
        if not self.caching:
            self.reset()
        ts = self.parsed.get((spec.template, spec.size))
        if ts is None:
            ts = (get_template(spec.template), parse_size(spec.size))
            if self.caching:
                self.parsed[(spec.template, spec.size)] = ts
        template, size = ts
        try:
            content, language, items = self._content_keyed(template, spec)
            layout = self.layout(template, size, content, items)
        except LayoutError as exc:
            return Rendered(spec, None, None, None, [], {}, [str(exc)])
        _, accent, candidates = self._palette(spec)
        plan = self._plan(template, layout)
        base_key, base_id, base = self._base_for(plan, template, layout, spec, accent)
        canvas = base.copy()
        paste = canvas.im.paste  # what Image.paste ends in for an RGB canvas and RGBA blocks
        readability: list[Readability] = []
        scrims = False
        cand = self._candidates_key(candidates)
        for op in plan.ops:
            kind = op[0]
            if kind == _TEXT:
                _, p, ltrb, required, scrim_mode, scrim_ltrb, scrim_wh = op
                choice = self._colour_for(base_id, base, ltrb, cand, candidates, required, scrim_mode, p)
                if choice.scrim is not None:
                    scrims = True
                    shape = self._shape(scrim_wh, choice.scrim, "scrim")
                    x, y = scrim_ltrb[0], scrim_ltrb[1]
                    paste(shape.im, (x, y, x + shape.width, y + shape.height), shape.im)
                block, pad = self._text_block(p, choice.text)
                x, y = ltrb[0] - pad, ltrb[1] - pad
                paste(block.im, (x, y, x + block.width, y + block.height), block.im)
                readability.append(Readability(p.name, round(choice.contrast, 3), required, round(choice.busyness, 4), choice.scrim is not None))
            elif kind == _BADGE:
                _, p, ltrb, required, shape_kind, content_ltrb, content_wh = op
                fill, text_colour, shown = self._badge_colours(p, accent, required)
                shape = self._shape(content_wh, fill, shape_kind)
                x, y = content_ltrb[0], content_ltrb[1]
                paste(shape.im, (x, y, x + shape.width, y + shape.height), shape.im)
                block, pad = self._text_block(p, text_colour)
                x, y = ltrb[0] - pad, ltrb[1] - pad
                paste(block.im, (x, y, x + block.width, y + block.height), block.im)
                readability.append(Readability(p.name, shown, required, 0.0, True))
            else:  # logo
                l, t, r, b = op[1]
                image = self.fitted(spec.logo, r - l, b - t)
                paste(image.im, (l, t, l + image.width, t + image.height), image.im)
        score_key = (id(layout), tuple(readability))
        scored = self.scores.get(score_key)
        if scored is None:
            geometry = self.geometry.get(id(layout))
            if geometry is None:
                geometry = self.geometry[id(layout)] = score_geometry(layout, template.may_overlap)
            scored = evaluate(layout, readability, template.may_overlap, geometry)
            self.scores[score_key] = scored + ([v.message for v in scored[1] if v.hard],)
            scored = self.scores[score_key]
        metrics, violations, hard = scored
        attributes = self._attributes(plan, template, layout, spec, language, accent, scrims)
        return Rendered(spec, None if hard else canvas, layout, metrics, violations, attributes, list(hard))

    # ---- per-layout plans: everything about a solved layout that does not depend on the banner's elements
    def _plan(self, template: LayoutTemplate, layout: SolvedLayout) -> "_Plan":
        hit = self.plans.get(id(layout))
        if hit is not None and hit.layout is layout:
            return hit
        plan = _Plan(layout)
        layers: list[tuple] = []
        ops: list[tuple] = []
        for p in layout.slots:
            if p.kind == "background":
                layers.append(("background", p.crop))
            elif p.kind == "decoration":
                layers.append(("deco", p.slot.shape, p.content_box.ltrb(), p.slot.colour, p.slot.opacity))
            elif p.kind in ("product", "model"):
                layers.append(("image", p.kind, p.role, p.content_box.ltrb(), p.crop))
            if p.kind in ("title", "subtitle"):
                required = col.required_contrast(p.text.size, p.text.font.weight == "bold")
                box = p.underlay_box if p.underlay_box else p.text_box
                l, t, r, b = box.ltrb()
                ops.append((_TEXT, p, p.text_box.ltrb(), required, p.slot.scrim, (l, t, r, b), (max(1, r - l), max(1, b - t))))
            elif p.kind in ("badge", "cta"):
                required = col.required_contrast(p.text.size, p.text.font.weight == "bold")
                l, t, r, b = p.content_box.ltrb()
                ops.append((_BADGE, p, p.text_box.ltrb(), required, p.slot.shape or "rect", (l, t, r, b), (max(1, r - l), max(1, b - t))))
            elif p.kind == "logo":
                ops.append((_LOGO, p.content_box.ltrb()))
        plan.layers = tuple(layers)
        plan.ops = tuple(ops)
        placed = {p.name for p in layout.slots}
        logo = next((p for p in layout.slots if p.kind == "logo"), None)
        badges = [p.role for p in layout.slots if p.kind == "badge"]
        title_slot = next((p for p in layout.slots if p.kind == "title"), None)
        plan.has_background = "background" in placed
        plan.static = (
            template.name,
            layout.size.name,
            aspect_class(layout.size),
            layout.variant,
            any(p.kind == "model" for p in layout.slots),
            "price" in badges,
            "discount" in badges,
            any(p.kind == "cta" for p in layout.slots),
            any(p.kind == "subtitle" for p in layout.slots),
            logo_position(logo.content_box if logo else None, layout.size),
            title_slot.text.size if title_slot else None,
            len(title_slot.text.lines) if title_slot else None,
            ",".join(n.split(" ")[0] for n in layout.notes),
        )
        self.plans[id(layout)] = plan
        return plan

    def _base_for(self, plan: "_Plan", template: LayoutTemplate, layout: SolvedLayout, spec: CreativeSpec, accent) -> tuple[tuple, int, Image.Image]:
        """The banner's base image, its cache key and a small id for that key (cached per layout and elements)."""
        ref_key = (accent, spec.background, spec.product, spec.model)
        key = plan.base_keys.get(ref_key)
        if key is None:
            fill = self.role(template.background, accent)
            layers: list[tuple] = []
            for layer in plan.layers:
                if layer[0] == "background":
                    layers.append(("bg", spec.background, layer[1]) if spec.background else ("fill", fill))
                elif layer[0] == "deco":
                    _, shape, ltrb, colour, opacity = layer
                    layers.append(("deco", shape, ltrb, self.role(colour, accent), opacity))
                else:
                    _, kind, role, ltrb, crop = layer
                    layers.append((kind, getattr(spec, role), ltrb, crop))
            key = plan.base_keys[ref_key] = ((layout.size, tuple(layers)), fill)
        base_key, fill = key
        base_id = self.base_ids.get(base_key)
        if base_id is None:
            base_id = self.base_ids[base_key] = len(self.base_ids)
        base = self.bases.get(base_key)
        if base is None:
            base = self._draw_base(base_key, fill)
        return base_key, base_id, base

    def _candidates_key(self, candidates) -> tuple:
        key = self.cand_keys.get(id(candidates))
        if key is None or key[0] is not candidates:
            key = self.cand_keys[id(candidates)] = (candidates, tuple(candidates))
        return key[1]

    def _colour_for(self, base_id: int, base: Image.Image, ltrb, cand: tuple, candidates, required: float, scrim: str, p: PlacedSlot) -> col.TextColour:
        key = (base_id, ltrb, cand, required, scrim)
        choice = self.colours.get(key)
        if choice is None:
            l, t, r, b = ltrb
            if 0 <= l < r <= base.width and 0 <= t < b <= base.height and base.width * base.height <= _PIXELS_CACHED:
                pixels = self._base_pixels(base_id, base)[t:b, l:r]
            else:  # crop pads outside the canvas; keep its exact pixels
                pixels = np.asarray(base.crop(ltrb))
            choice = col.choose_text_colour(pixels, candidates, required, scrim=scrim)
            self.colours[key] = choice
        return choice

    def _base_pixels(self, base_id: int, base: Image.Image) -> np.ndarray:
        pixels = self.base_arrays.get(base_id)
        if pixels is None:
            pixels = np.asarray(base)
            self.base_arrays.put(base_id, pixels, pixels.nbytes)
        return pixels

    def _badge_colours(self, p: PlacedSlot, accent, required: float) -> tuple:
        key = (p.kind, p.role, accent, required)
        hit = self.badge_colours.get(key)
        if hit is None:
            fill = accent if p.kind == "cta" or p.role == "price" else BADGE_RED
            if p.role == "price":
                fill = self.role("dark", accent)
            text_colour = max((col.WHITE, col.INK), key=lambda c: col.contrast(c, fill))
            while col.contrast(text_colour, fill) < required:  # mid-tone brand colour: darken the fill
                fill = col.mix(fill, (0, 0, 0), 0.15)
                text_colour = col.WHITE
            hit = self.badge_colours[key] = (fill, text_colour, round(col.contrast(text_colour, fill), 3))
        return hit

    def _attributes(self, plan: "_Plan", template, layout: SolvedLayout, spec: CreativeSpec, language, accent, scrims) -> dict[str, Any]:
        """`attributes`, from the plan's layout-only values and cached per-element values; same dict."""
        key = (spec.title, spec.offer, spec.product)
        elems = self.element_attrs.get(key)
        if elems is None:
            offer = self.pack.offers.get(spec.offer) if spec.offer else None
            title = self.element(spec.title) if spec.title else None
            elems = self.element_attrs[key] = (
                "element" if title else "catalog",
                (title.attributes.get("style") if title else None) or "catalog_name",
                (offer.brand if offer else None) or self.element(spec.product).brand,
                offer.category if offer else None,
                offer.discount_pct if offer else None,
            )
        image_bg = bool(spec.background) and plan.has_background
        fkey = (image_bg, spec.background if image_bg else None, template.background, accent)
        families = self.attr_families.get(fkey)
        if families is None:
            if image_bg:
                bg = self.element(spec.background).palette
                dominant = col.parse_hex(bg[0]) if bg else accent
            else:
                dominant = self.role(template.background, accent)
            families = self.attr_families[fkey] = (self.family(dominant), self.family(accent))
        st = plan.static
        return {
            "template": st[0],
            "size": st[1],
            "aspect_class": st[2],
            "layout_variant": st[3],
            "title_source": elems[0],
            "title_style": elems[1],
            "language": language,
            "background_kind": "image" if image_bg else "colour",
            "colour_family": families[0],
            "accent_family": families[1],
            "has_model": st[4],
            "has_price_badge": st[5],
            "has_discount_badge": st[6],
            "has_cta": st[7],
            "has_subtitle": st[8],
            "has_scrim": scrims,
            "logo_position": st[9],
            "title_px": st[10],
            "title_lines": st[11],
            "brand": elems[2],
            "category": elems[3],
            "discount_pct": elems[4],
            "dropped_slots": st[12],
        }

    def attributes(self, template, layout: SolvedLayout, spec: CreativeSpec, content, language, accent, scrims) -> dict[str, Any]:
        """What experiments learn from: the design choices of this creative, as plain values."""
        offer = self.pack.offers.get(spec.offer) if spec.offer else None
        title = self.element(spec.title) if spec.title else None
        placed = {p.name: p for p in layout.slots}
        logo = next((p for p in layout.slots if p.kind == "logo"), None)
        badges = [p.role for p in layout.slots if p.kind == "badge"]
        if spec.background and "background" in placed:
            bg = self.element(spec.background).palette
            dominant = col.parse_hex(bg[0]) if bg else accent
        else:
            dominant = self.role(template.background, accent)
        title_slot = next((p for p in layout.slots if p.kind == "title"), None)
        return {
            "template": template.name,
            "size": layout.size.name,
            "aspect_class": aspect_class(layout.size),
            "layout_variant": layout.variant,
            "title_source": "element" if title else "catalog",
            "title_style": (title.attributes.get("style") if title else None) or "catalog_name",
            "language": language,
            "background_kind": "image" if spec.background and "background" in placed else "colour",
            "colour_family": self.family(dominant),
            "accent_family": self.family(accent),
            "has_model": any(p.kind == "model" for p in layout.slots),
            "has_price_badge": "price" in badges,
            "has_discount_badge": "discount" in badges,
            "has_cta": any(p.kind == "cta" for p in layout.slots),
            "has_subtitle": any(p.kind == "subtitle" for p in layout.slots),
            "has_scrim": scrims,
            "logo_position": logo_position(logo.content_box if logo else None, layout.size),
            "title_px": title_slot.text.size if title_slot else None,
            "title_lines": len(title_slot.text.lines) if title_slot else None,
            "brand": (offer.brand if offer else None) or self.element(spec.product).brand,
            "category": offer.category if offer else None,
            "discount_pct": offer.discount_pct if offer else None,
            "dropped_slots": ",".join(n.split(" ")[0] for n in layout.notes),
        }


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
