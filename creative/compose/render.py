"""Rendering a CreativeSpec: content, layout, plan, drawing and scoring, wired through the caches.

A banner is drawn in two passes. The *base* (background, decorations, product, model) is what text
sits on; it is cached per combination of those layers, so a batch that varies titles and logos copies
it instead of redrawing. Text colour and scrim are chosen against the base's pixels under each text
block (cached), then scrims, text blocks, badges, buttons and logos are pasted from cached blocks.
What a solved layout needs whatever its elements is worked out once per layout (`LayoutPlan`).
`Renderer(pack, caching=False)` is the naive baseline: the same drawing, nothing kept between banners.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageFont

from creative.brands import brand_key
from creative.compose import draw
from creative.compose.attributes import ElementAttributes, creative_attributes, element_attributes
from creative.compose.caches import CACHE_MB, RenderCaches
from creative.compose.content import image_roles, text_content
from creative.compose.draw import encode
from creative.compose.errors import CompositionError
from creative.compose.plan import RGB, BadgeStep, Crop, LayoutPlan, TextStep, plan_layout
from creative.compose.selection import product_brand
from creative.compose.spec import CreativeSpec, ElementInfo, ElementPack
from creative.fonts import FontFile, available_fonts
from layouts import colour as col
from layouts.errors import LayoutError
from layouts.metrics import LayoutMetrics, Readability, Violation, evaluate
from layouts.sizes import Size, parse_size
from layouts.solver import FACE_REGION, Content, ImageContent, PlacedSlot, SolvedLayout, solve
from layouts.template import LayoutTemplate, get_template
from layouts.text import FontSpec, TextFit, fit_text

__all__ = ["Rendered", "Renderer", "encode"]

BADGE_RED = (214, 40, 57)


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

    @property
    def quality(self) -> float:
        """The layout's quality score (0 when it could not be laid out)."""
        return self.metrics.quality if self.metrics else 0.0


# Faces kept open: a pan-CJK bold face takes ~3.7 MB at each size it is opened at (0.3-0.5 ms to open
# again), so a batch of many sizes keeps the recent ones rather than every size it ever drew.
MAX_OPEN_FONTS = 24
MEASURE_PX = 100  # the one size a shaped pan-CJK face is opened at for measuring


class PillowMeasurer:
    """Text widths for the layout engine, from the renderer's cached FreeType fonts.

    The pan-CJK bold face costs about 3 MB and 9 ms per size opened, and fitting tries many sizes; its
    shaped (RAQM) advances scale linearly with size (within 0.05 px), so a text is measured once at
    MEASURE_PX whatever the size asked, and the face is opened at a size only to draw."""

    def __init__(self, renderer: "Renderer"):
        self.renderer = renderer

    def _reference(self, font: FontSpec) -> FontSpec | None:
        return FontSpec(font.script, font.weight, MEASURE_PX) if draw.font_language(font) else None

    def width(self, text: str, font: FontSpec) -> float:
        cache = self.renderer.cache
        key = (text, font)
        w = cache.widths.get(key)
        if w is None:
            ref = self._reference(font)
            if ref is None:
                w = self.renderer.font(font).getlength(text)
            else:
                ref_key = (text, ref)
                ref_w = cache.reference_widths.get(ref_key)
                if ref_w is None:
                    ref_w = cache.reference_widths[ref_key] = self.renderer.font(ref).getlength(text, language=draw.font_language(font))
                w = ref_w * font.size / MEASURE_PX
            cache.widths[key] = w
        return w

    def ascent_descent(self, font: FontSpec) -> tuple[int, int]:
        metrics = self.renderer.cache.font_metrics
        hit = metrics.get(font)
        if hit is None:
            ref = self._reference(font)
            if ref is None:
                hit = self.renderer.font(font).getmetrics()
            else:
                ascent, descent = self.renderer.font(ref).getmetrics()
                hit = (math.ceil(ascent * font.size / MEASURE_PX), math.ceil(descent * font.size / MEASURE_PX))
            metrics[font] = hit
        return hit


def _rgb(hexes) -> list[RGB]:
    out = []
    for h in hexes or ():
        try:
            out.append(col.parse_hex(h))
        except ValueError:
            pass
    return out


class Renderer:
    """Renders CreativeSpecs of one ElementPack; one per process, caches kept across calls."""

    def __init__(self, pack: ElementPack, caching: bool = True, cache_mb: float = CACHE_MB):
        self.pack = pack
        self.caching = caching
        self.cache_mb = cache_mb
        self.measurer = PillowMeasurer(self)
        self.cache = RenderCaches(cache_mb)

    def reset(self) -> None:
        self.cache = RenderCaches(self.cache_mb)

    # ---- elements, fonts, pictures
    def element(self, code: str) -> ElementInfo:
        try:
            return self.pack.elements[code]
        except KeyError:
            raise CompositionError(f"element {code} is not in this batch's element pack") from None

    def font(self, spec: FontSpec) -> ImageFont.FreeTypeFont:
        fonts = self.cache.fonts  # least recently used first
        font = fonts.pop(spec, None)
        if font is None:
            font = draw.load_font(spec)
            if len(fonts) >= MAX_OPEN_FONTS:
                del fonts[next(iter(fonts))]
        fonts[spec] = font
        return font

    def picture(self, code: str) -> Image.Image:
        image = self.cache.pictures.get(code)
        if image is None:
            image = self.cache.pictures[code] = draw.load_picture(self.element(code))
        return image

    def is_photo(self, code: str) -> bool:
        """A picture without transparency: a photo on its own backdrop, not a cut-out."""
        hit = self.cache.photos.get(code)
        if hit is None:
            hit = self.cache.photos[code] = self.picture(code).getchannel("A").getextrema()[0] == 255
        return hit

    def _premultiplied(self, code: str) -> Image.Image:
        image = self.cache.premultiplied.get(code)
        if image is None:
            image = self.cache.premultiplied[code] = self.picture(code).convert("RGBa")
        return image

    def fitted(self, code: str, w: int, h: int, crop: Crop | None, mode: str) -> Image.Image:
        """The element's picture resized (and cropped) into a w x h box."""
        key = (code, w, h, crop, mode)
        image = self.cache.resized.get(key)
        if image is None:
            image = draw.resize_picture(self.picture(code), w, h, crop, mode, lambda: self._premultiplied(code))
            self.cache.resized.put(key, image, draw.nbytes(image))
        return image

    # ---- content and layout
    def fit(self, text, box_w, box_h, measure, **kw) -> TextFit:
        """fit_text, memoised: the same title in the same box is fitted once per batch."""
        key = (text, box_w, box_h, tuple(sorted(kw.items())))
        hit = self.cache.fits.get(key)
        if hit is None:
            try:
                hit = fit_text(text, box_w, box_h, measure, **kw)
            except LayoutError as exc:
                hit = exc
            self.cache.fits[key] = hit
        if isinstance(hit, Exception):
            raise type(hit)(str(hit))
        return hit

    def content(self, spec: CreativeSpec, roles: tuple[str, ...]) -> tuple[Content, str, tuple]:
        """The banner's content by role, its language, and the content as a layout-cache key."""
        key = (spec.template, spec.product, spec.offer, spec.model, spec.logo, spec.background, spec.title)
        hit = self.cache.contents.get(key)
        if hit is None:
            content: dict[str, Any] = {}
            for role in roles:
                code = getattr(spec, role)
                if code:
                    aspect = self.cache.aspects.get(code)
                    if aspect is None:
                        picture = self.picture(code)
                        salient = FACE_REGION if role == "model" else (0.0, 0.0, 1.0, 1.0)
                        subject = self.element(code).subject if role == "product" and self.is_photo(code) else None
                        aspect = self.cache.aspects[code] = ImageContent(picture.width / picture.height, salient, subject)
                    content[role] = aspect
            text_key = (spec.product, spec.offer, spec.title)
            texts = self.cache.texts.get(text_key)
            if texts is None:
                texts = self.cache.texts[text_key] = text_content(
                    self.element(spec.product), self.element(spec.title) if spec.title else None, self._offer(spec), self._face(spec))
            content.update(texts[0])
            hit = self.cache.contents[key] = (content, texts[1], tuple(sorted(content.items())))
        return hit

    def _offer(self, spec: CreativeSpec):
        return self.pack.offers.get(spec.offer) if spec.offer else None

    def _brand(self, spec: CreativeSpec) -> str:
        """The banner's brand as brand kits are keyed: its catalog offer's, else the product picture's."""
        return brand_key(product_brand((spec.product, spec.offer), self.pack.elements, self.pack.offers))

    def _face(self, spec: CreativeSpec) -> FontFile | None:
        """The font the banner's brand kit chose, if any."""
        name = self.pack.brand_fonts.get(self._brand(spec)) if self.pack.brand_fonts else None
        return available_fonts().get(name) if name else None

    def plan(self, template: LayoutTemplate, size: Size, content: Content, items: tuple) -> LayoutPlan:
        """solve() and plan_layout(), memoised per template, size and content (`items`)."""
        key = (template.name, size, items)
        hit = self.cache.layouts.get(key)
        if hit is None:
            try:
                hit = plan_layout(template, solve(template, size, content, self.measurer, self.fit, self.cache.slots))
            except LayoutError as exc:
                hit = exc
            self.cache.layouts[key] = hit
        if isinstance(hit, LayoutError):
            raise hit
        return hit

    # ---- colours
    def _palette(self, spec: CreativeSpec) -> tuple[RGB, tuple[RGB, ...]]:
        """The brand accent of a product and logo and its text colour candidates, cached per pair;
        a brand kit's primary colour, when the banner's brand has one, is the accent."""
        kits = self.pack.brand_colours
        kit = _rgb(kits.get(self._brand(spec))) if kits else []
        key = (spec.product, spec.logo, tuple(kit))
        hit = self.cache.palettes.get(key)
        if hit is None:
            product = _rgb(self.element(spec.product).palette)
            logo = _rgb(self.element(spec.logo).palette) if spec.logo else []
            accent = kit[0] if kit else col.accent(logo, fallback=None) or col.accent(product)
            hit = self.cache.palettes[key] = (accent, tuple(col.brand_text_candidates(kit + logo + product)))
        return hit

    def role(self, role: str, accent: RGB) -> RGB:
        key = (role, accent)
        hit = self.cache.roles.get(key)
        if hit is None:
            hit = self.cache.roles[key] = col.role_colour(role, [accent])
        return hit

    def family(self, rgb: RGB) -> str:
        hit = self.cache.families.get(rgb)
        if hit is None:
            hit = self.cache.families[rgb] = col.colour_family(rgb)
        return hit

    def _text_colour(self, base_id: int, base: Image.Image, step: TextStep, candidates: tuple[RGB, ...]) -> col.TextColour:
        key = (base_id, step.text_ltrb, candidates, step.required, step.scrim)
        choice = self.cache.colours.get(key)
        if choice is None:
            # Only the pixels under the text: a whole base as a numpy array costs more than cropping every
            # text box of it (300x250: 0.2 ms against 12 us a box; 1080x1920: 7 ms against 0.1 ms).
            pixels = np.asarray(base.crop(step.text_ltrb))
            choice = self.cache.colours[key] = col.choose_text_colour(pixels, candidates, step.required, scrim=step.scrim)
        return choice

    def _badge_colours(self, p: PlacedSlot, accent: RGB, required: float) -> tuple[RGB, RGB, float]:
        """(fill, text colour, their contrast) of a badge or button: brand accent, darkened until text reads."""
        key = (p.kind, p.role, accent, required)
        hit = self.cache.badge_colours.get(key)
        if hit is None:
            fill = self.role("dark", accent) if p.role == "price" else accent if p.kind == "cta" else BADGE_RED
            text_colour = max((col.WHITE, col.INK), key=lambda c: col.contrast(c, fill))
            while col.contrast(text_colour, fill) < required:  # mid-tone brand colour: darken the fill
                fill = col.mix(fill, (0, 0, 0), 0.15)
                text_colour = col.WHITE
            hit = self.cache.badge_colours[key] = (fill, text_colour, round(col.contrast(text_colour, fill), 3))
        return hit

    # ---- drawing
    def _base(self, plan: LayoutPlan, template: LayoutTemplate, spec: CreativeSpec, accent: RGB) -> tuple[int, Image.Image]:
        """The banner's base image and a small id for it (equal bases of different layouts share it)."""
        ref = (id(plan), accent, spec.background, spec.product, spec.model)
        hit = self.cache.base_refs.get(ref)
        if hit is None:
            base = plan.base(spec, self.role(template.background, accent), lambda role: self.role(role, accent), self.is_photo)
            base_id = self.cache.base_ids.setdefault(base, len(self.cache.base_ids))
            hit = self.cache.base_refs[ref] = (base, base_id)
        base, base_id = hit
        image = self.cache.bases.get(base_id)
        if image is None:
            image = draw.draw_base(base, self.fitted, self._card_masks)
            self.cache.bases.put(base_id, image, draw.nbytes(image))
        return base_id, image

    def _card_masks(self, w: int, h: int) -> draw.CardMasks:
        """A photo card's corners and shadow, drawn once per size."""
        key = ("card", w, h)
        masks = self.cache.blocks.get(key)
        if masks is None:
            masks = draw.card_masks(w, h)
            self.cache.blocks.put(key, masks, masks.nbytes)
        return masks

    def _text_block(self, p: PlacedSlot, colour: RGB) -> tuple[Image.Image, int]:
        """The slot's fitted text as an RGBA block in `colour`, and the block's margin."""
        fit = p.text
        align = p.slot.align if p.kind in ("title", "subtitle") else "center"
        key = ("text", fit.lines, fit.font, colour, align, round(fit.width))
        block = self.cache.blocks.get(key)
        if block is None:
            mask_key = ("mask", fit.lines, fit.font, align, round(fit.width))  # the glyphs, whatever their colour
            mask = self.cache.blocks.get(mask_key)
            if mask is None:
                mask = draw.text_mask(fit, self.font(fit.font), align)
                self.cache.blocks.put(mask_key, mask, draw.nbytes(mask))
            block = draw.coloured(mask, colour)
            self.cache.blocks.put(key, block, draw.nbytes(block))
        return block, draw.text_pad(fit.font)

    def _shape(self, wh: tuple[int, int], fill: tuple[int, ...], kind: str) -> Image.Image:
        key = ("shape", kind, wh, fill)
        block = self.cache.blocks.get(key)
        if block is None:
            block = draw.shape_block(wh[0], wh[1], fill, kind)
            self.cache.blocks.put(key, block, draw.nbytes(block))
        return block

    def _template(self, spec: CreativeSpec) -> tuple[LayoutTemplate, Size, tuple[str, ...]]:
        key = (spec.template, spec.size)
        hit = self.cache.templates.get(key)
        if hit is None:
            template = get_template(spec.template)
            hit = self.cache.templates[key] = (template, parse_size(spec.size), image_roles(template))
        return hit

    def render(self, spec: CreativeSpec) -> Rendered:
        if not self.caching:
            self.reset()
        template, size, roles = self._template(spec)
        try:
            content, language, items = self.content(spec, roles)
            plan = self.plan(template, size, content, items)
        except LayoutError as exc:
            return Rendered(spec, None, None, None, [], {}, [str(exc)])
        accent, candidates = self._palette(spec)
        base_id, base = self._base(plan, template, spec, accent)
        canvas = base.copy()
        readability: list[Readability] = []
        scrims = False
        for step in plan.steps:
            if isinstance(step, TextStep):
                choice = self._text_colour(base_id, base, step, candidates)
                if choice.scrim is not None:
                    scrims = True
                    draw.paste(canvas, self._shape(step.scrim_wh, choice.scrim, "scrim"), *step.scrim_ltrb[:2])
                block, pad = self._text_block(step.slot, choice.text)
                draw.paste(canvas, block, step.text_ltrb[0] - pad, step.text_ltrb[1] - pad)
                readability.append(Readability(step.slot.name, round(choice.contrast, 3), step.required,
                                               round(choice.busyness, 4), choice.scrim is not None))
            elif isinstance(step, BadgeStep):
                fill, text_colour, shown = self._badge_colours(step.slot, accent, step.required)
                draw.paste(canvas, self._shape(step.shape_wh, fill, step.shape), *step.shape_ltrb[:2])
                block, pad = self._text_block(step.slot, text_colour)
                draw.paste(canvas, block, step.text_ltrb[0] - pad, step.text_ltrb[1] - pad)
                readability.append(Readability(step.slot.name, shown, step.required, 0.0, True))
            else:
                l, t, r, b = step.ltrb
                draw.paste(canvas, self.fitted(spec.logo, r - l, b - t, None, "RGBA"), l, t)
        metrics, violations, hard = self._score(plan, template, readability)
        attributes = self._attributes(plan, template, spec, language, accent, scrims)
        return Rendered(spec, None if hard else canvas, plan.layout, metrics, violations, attributes, list(hard))

    # ---- scoring and attributes
    def _score(self, plan: LayoutPlan, template: LayoutTemplate, readability: list[Readability]) -> tuple:
        """(metrics, violations, hard violations' messages), cached per layout and readability."""
        key = (id(plan), tuple(readability))
        hit = self.cache.scores.get(key)
        if hit is None:
            metrics, violations = evaluate(plan.layout, readability, template.may_overlap, plan.geometry)
            hit = self.cache.scores[key] = (metrics, violations, [v.message for v in violations if v.hard])
        return hit

    def _attributes(self, plan: LayoutPlan, template: LayoutTemplate, spec: CreativeSpec, language: str, accent: RGB,
                    scrims: bool) -> dict[str, Any]:
        key = (spec.title, spec.offer, spec.product)
        elements: ElementAttributes | None = self.cache.element_attributes.get(key)
        if elements is None:
            elements = self.cache.element_attributes[key] = element_attributes(
                self.element(spec.product), self.element(spec.title) if spec.title else None, self._offer(spec))
        image_bg = bool(spec.background) and plan.has_background
        family_key = (image_bg, spec.background if image_bg else None, template.background, accent)
        families = self.cache.colour_families.get(family_key)
        if families is None:
            if image_bg:
                palette = self.element(spec.background).palette
                dominant = col.parse_hex(palette[0]) if palette else accent
            else:
                dominant = self.role(template.background, accent)
            families = self.cache.colour_families[family_key] = (self.family(dominant), self.family(accent))
        return creative_attributes(plan.attributes, elements, language=language, background_kind="image" if image_bg else "colour",
                                   colour_family=families[0], accent_family=families[1], has_scrim=scrims)
