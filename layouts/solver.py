"""The layout engine: solve a template for a canvas size and content, in pure geometry.

`solve` picks the template's layout for the size's aspect class, turns relative boxes into pixels,
fits images (contain or cover, keeping aspect) and text (shrink to fit, never truncate), and drops
optional slots that cannot work at this size with a note. The result is plain data the metrics can
score and the composer can draw without solving again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

from layouts.errors import LayoutError, TextDoesNotFit
from layouts.geometry import Box
from layouts.legibility import min_text_px
from layouts.sizes import Size
from layouts.template import LayoutTemplate, Slot
from layouts.text import TextFit, TextMeasurer, fit_text


@dataclass(frozen=True)
class ImageContent:
    """An image's shape: aspect (w/h) and its salient region as a relative (l, t, r, b) box."""

    aspect: float
    salient: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    # A photo's subject (relative box): a 'contain' slot may crop the photo toward its own shape around it,
    # never into it. None: the picture is shown whole (cut-outs, whose alpha box is their subject already).
    subject: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class TextContent:
    text: str
    weight: str | None = None  # a brand's chosen face (regular | bold) instead of the slot's


# A person's head and face: the top of the model picture's alpha box. A crop must keep it whole and
# nothing may be drawn over it (layouts.metrics checks both).
FACE_REGION = (0.15, 0.0, 0.85, 0.3)
SALIENT_CUT_ALLOWED = 0.01  # share of the salient region a 'cover' crop may leave out before 'contain' is used
SUBJECT_MARGIN = 0.1  # room kept on each side of a photo's subject when it is cropped, as a share of the subject's size

Content = Mapping[str, "ImageContent | TextContent"]
"""Keyed by role: background, product, model, logo (images); title, subtitle, price, discount, cta (text)."""


@dataclass(frozen=True)
class PlacedSlot:
    """One solved slot. `box` is the padded slot box; `content_box` is what gets drawn (image,
    text block, or button/badge shape); `underlay_box` is where a scrim would go under text."""

    slot: Slot
    role: str
    box: Box
    content_box: Box
    text: TextFit | None = None
    text_box: Box | None = None
    underlay_box: Box | None = None
    salient: Box | None = None
    crop: tuple[float, float, float, float] | None = None  # relative source crop for 'cover'
    salient_cut: float = 0.0  # share of the salient region a 'cover' crop leaves out

    @property
    def name(self) -> str:
        return self.slot.name

    @property
    def kind(self) -> str:
        return self.slot.kind


@dataclass(frozen=True)
class SolvedLayout:
    template: str
    size: Size
    variant: str
    slots: tuple[PlacedSlot, ...]  # in z order
    notes: tuple[str, ...] = field(default=())  # soft: why optional slots dropped out
    absent: tuple[str, ...] = field(default=())  # those of `notes` for slots this size's layout leaves out by design

    @property
    def canvas(self) -> Box:
        return Box(0, 0, self.size.width, self.size.height)

    def get(self, name: str) -> PlacedSlot | None:
        return next((p for p in self.slots if p.name == name), None)

    def of_kind(self, *kinds: str) -> list[PlacedSlot]:
        return [p for p in self.slots if p.kind in kinds]


def type_scale(size: Size) -> float:
    """The length a slot's `max_font` is a fraction of: the canvas' geometric-mean side. The short side
    alone starves elongated formats (8 px titles on a 728x90, 97 px on a 1080x1920 story)."""
    return math.sqrt(size.width * size.height)


def content_role(slot: Slot, content: Content) -> str:
    """Which content a slot shows; a badge shows a discount or a price."""
    if slot.kind != "badge":
        return slot.kind
    if slot.content == "discount_or_price":
        return "discount" if "discount" in content else "price"
    return slot.content or "discount"


def solve(template: LayoutTemplate, size: Size, content: Content, measure: TextMeasurer, fit: Callable = fit_text,
          slot_cache: dict | None = None) -> SolvedLayout:
    """Solve `template` at `size`; raises LayoutError naming the slot when a required one cannot work.
    `fit` is `fit_text` or a caller's memoised equivalent (same arguments, same result). Slots are
    solved independently of each other, so `slot_cache` (a dict the caller keeps) memoises each one."""
    variant = template.variant_for(size)
    canvas = Box(0, 0, size.width, size.height)
    short = size.short_side
    placed: list[PlacedSlot] = []
    notes: list[str] = []  # optional slots that did not fit
    absent: list[str] = []  # optional slots with content that the variant has no place for
    where = f"template {template.name!r} at {size.name}"

    for placement in template.layouts[variant]:
        slot = placement.slot
        role = content_role(slot, content)
        item = content.get(role)
        if slot.kind == "background":
            placed.append(_background(slot, canvas, item))
            continue
        if slot.kind == "decoration":
            box = placement.box.scaled(size.width, size.height).inset(slot.padding * short)
            placed.append(PlacedSlot(slot, "decoration", box, box))
            continue
        if item is None:
            if slot.required:
                raise LayoutError(f"{where}: required slot {slot.name!r} has no {role}; select one or pick another template")
            continue
        key = (template.name, variant, slot.name, size, role, item)
        hit = slot_cache.get(key) if slot_cache is not None else None
        try:
            if hit is None:
                try:
                    hit = _slot(placement, slot, role, item, size, where, measure, fit)
                except LayoutError as exc:
                    hit = exc
                if slot_cache is not None:
                    slot_cache[key] = hit
            if isinstance(hit, LayoutError):
                raise type(hit)(str(hit))
            placed.append(hit)
        except LayoutError as exc:
            if slot.required:
                raise type(exc)(f"{where}: {exc}") from None
            notes.append(f"{slot.name} dropped: {exc}")
    for slot in template.slots.values():
        if not slot.required and slot.kind not in ("background",) and all(p.slot.name != slot.name for p in placed):
            if all(p.slot.name != slot.name for p in template.layouts[variant]):
                role = content_role(slot, content)
                if slot.kind == "decoration" or role in content:
                    absent.append(f"{slot.name} not in the {variant} layout")
    placed.sort(key=lambda p: p.slot.z)
    return SolvedLayout(template.name, size, variant, tuple(placed), tuple(notes + absent), tuple(absent))


def _slot(placement, slot: Slot, role: str, item, size: Size, where: str, measure: TextMeasurer, fit: Callable) -> PlacedSlot:
    outer = placement.box.scaled(size.width, size.height)
    box = outer.inset(slot.padding * size.short_side)
    if slot.is_image:
        if not isinstance(item, ImageContent):
            raise LayoutError(f"{where}: slot {slot.name!r} needs an image, got text")
        return _image(slot, role, box, item, where)
    if not isinstance(item, TextContent):
        raise LayoutError(f"{where}: slot {slot.name!r} needs text, got an image")
    return _text(slot, role, outer, box, item.text, size, measure, fit, item.weight)


def _background(slot: Slot, canvas: Box, item) -> PlacedSlot:
    if isinstance(item, ImageContent):
        return PlacedSlot(slot, "background", canvas, canvas, crop=_cover_crop(item.aspect, canvas, slot.anchor, item.salient))
    return PlacedSlot(slot, "background", canvas, canvas)


Rel = tuple[float, float, float, float]  # a relative (left, top, right, bottom) box


def _band(wide: bool, start: float, keep: float) -> Rel:
    """The relative crop keeping `keep` of the source from `start`: across its width when `wide`, else its height."""
    return (start, 0.0, start + keep, 1.0) if wide else (0.0, start, 1.0, start + keep)


def _centred(region: Rel, wide: bool, keep: float) -> float:
    """Where a crop keeping `keep` starts to centre on `region` along the cropped axis, inside the source."""
    lo, hi = (region[0], region[2]) if wide else (region[1], region[3])
    return min(max((lo + hi) / 2 - keep / 2, 0.0), 1 - keep)


def _cover_crop(aspect: float, box: Box, anchor: str, salient: Rel = (0.0, 0.0, 1.0, 1.0)) -> Rel:
    """Relative crop of a source of `aspect` that fills `box` exactly. Along an axis the anchor leaves
    free, the crop centres on the salient region (an off-centre subject stays in frame)."""
    target = box.w / box.h if box.h else 1.0
    parts = set(anchor.split("-"))
    wide = aspect > target  # source wider: crop left/right, else top/bottom
    keep = target / aspect if wide else aspect / target
    first, last = ("left", "right") if wide else ("top", "bottom")
    start = 0.0 if first in parts else 1 - keep if last in parts else _centred(salient, wide, keep)
    return _band(wide, start, keep)


def _subject_crop(aspect: float, box: Box, subject: Rel) -> Rel | None:
    """Relative crop of a photo of `aspect` toward the shape of `box` that keeps `subject` and a margin whole,
    centred on the subject as far as the photo reaches; None when no crop gets closer to the box's shape."""
    target = box.w / box.h if box.h else 1.0
    l, t, r, b = subject
    wide = aspect > target  # photo wider than the box: crop left/right
    keep = max(target / aspect, (r - l) * (1 + 2 * SUBJECT_MARGIN)) if wide else max(aspect / target, (b - t) * (1 + 2 * SUBJECT_MARGIN))
    if keep >= 1:
        return None
    return _band(wide, _centred(subject, wide, keep), keep)


def _image(slot: Slot, role: str, box: Box, item: ImageContent, where: str) -> PlacedSlot:
    if min(box.w, box.h) < slot.min_px:
        raise LayoutError(f"its box is {box.w:.0f}x{box.h:.0f} px, under the {slot.min_px} px minimum")
    l, t, r, b = item.salient
    if slot.fit == "cover":
        crop = _cover_crop(item.aspect, box, slot.anchor, item.salient)
        # salient region mapped through the crop, clipped to the box
        cw, ch = crop[2] - crop[0], crop[3] - crop[1]
        sal = Box.from_ltrb(
            box.x + (l - crop[0]) / cw * box.w, box.y + (t - crop[1]) / ch * box.h,
            box.x + (r - crop[0]) / cw * box.w, box.y + (b - crop[1]) / ch * box.h,
        )
        kept = sal.clamp_to(box)
        cut = max(0.0, 1 - kept.area / sal.area) if sal.area > 0 else 0.0
        if cut <= SALIENT_CUT_ALLOWED:
            return PlacedSlot(slot, role, box, box, salient=kept, crop=crop, salient_cut=cut)
        # the box is too narrow (or flat) for the subject: show it whole rather than cut through it
    aspect, crop = item.aspect, None
    if item.subject is not None and (crop := _subject_crop(item.aspect, box, item.subject)) is not None:
        cw, ch = crop[2] - crop[0], crop[3] - crop[1]
        aspect = item.aspect * cw / ch
        l, r = min(max((l - crop[0]) / cw, 0.0), 1.0), min(max((r - crop[0]) / cw, 0.0), 1.0)
        t, b = min(max((t - crop[1]) / ch, 0.0), 1.0), min(max((b - crop[1]) / ch, 0.0), 1.0)
    drawn = box.fit_aspect(aspect, slot.anchor)
    drawn = Box(math.floor(drawn.x), math.floor(drawn.y), max(1, round(drawn.w)), max(1, round(drawn.h))).clamp_to(box.inset(-0.5))
    sal = Box.from_ltrb(drawn.x + l * drawn.w, drawn.y + t * drawn.h, drawn.x + r * drawn.w, drawn.y + b * drawn.h)
    return PlacedSlot(slot, role, box, drawn, salient=sal, crop=crop)


def _text(slot: Slot, role: str, outer: Box, box: Box, text: str, size: Size, measure: TextMeasurer, fit_text: Callable = fit_text,
          weight: str | None = None) -> PlacedSlot:
    weight = weight or slot.weight
    min_size = max(slot.min_font_px, min_text_px(slot.kind, size))  # the template may ask for more, never less
    max_size = max(min_size, math.floor(slot.max_font * type_scale(size)))
    shape = slot.shape if slot.kind in ("badge", "cta") else None
    what = f"{slot.name} text"
    if shape == "circle":
        d = min(box.w, box.h)
        circle = box.place(d, d, slot.anchor)
        inner = circle.inset(d * 0.16)
        fit = fit_text(text, inner.w, inner.h, measure, weight=weight, min_size=min_size,
                       max_size=max_size, max_lines=slot.max_lines, line_spacing=slot.line_spacing, what=what)
        text_box = circle.place(fit.width, fit.height, "center")
        return PlacedSlot(slot, role, box, circle, fit, text_box)
    if shape in ("pill", "rect", "band"):
        pad_y = max(2.0, box.h * 0.12)  # room kept for the shape around the text; the shape then hugs the text
        pad_x = max(4.0, pad_y * (1.6 if shape == "pill" else 1.2))
        fit = fit_text(text, box.w - 2 * pad_x, box.h - 2 * pad_y, measure, weight=weight,
                       min_size=min_size, max_size=max_size, max_lines=slot.max_lines,
                       line_spacing=slot.line_spacing, what=what)
        # the shape hugs its text with padding proportional to the font, within the slot box
        px = max(4.0, fit.size * (0.95 if shape == "pill" else 0.6))
        py = max(2.0, fit.size * 0.45)
        shape_box = box.place(min(box.w, fit.width + 2 * px), min(box.h, fit.height + 2 * py), slot.anchor)
        shape_box = Box(round(shape_box.x), round(shape_box.y), round(shape_box.w), round(shape_box.h))
        text_box = shape_box.place(fit.width, fit.height, "center")
        return PlacedSlot(slot, role, box, shape_box, fit, text_box)
    fit = fit_text(text, box.w, box.h, measure, weight=weight, min_size=min_size,
                   max_size=max_size, max_lines=slot.max_lines, line_spacing=slot.line_spacing,
                   balance=slot.align == "center", what=what)
    halign = {"left": "left", "center": "", "right": "right"}[slot.align]
    valign = {"top": "top", "middle": "", "bottom": "bottom"}[slot.valign]
    anchor = "-".join(p for p in (valign, halign) if p) or "center"
    text_box = box.place(fit.width, fit.height, anchor)
    pad = max(2.0, fit.size * 0.4)
    underlay = text_box.inset(-pad).clamp_to(outer)
    return PlacedSlot(slot, role, box, text_box, fit, text_box, underlay_box=underlay)


def required_roles(template: LayoutTemplate) -> set[str]:
    """Content roles a template cannot do without (a badge's price, a model photo, ...)."""
    roles = set()
    for slot in template.slots.values():
        if slot.required and slot.kind not in ("background", "decoration"):
            roles.add(content_role(slot, {}) if slot.kind == "badge" else slot.kind)
    return roles


__all__ = ["FACE_REGION", "ImageContent", "TextContent", "PlacedSlot", "SolvedLayout", "solve", "content_role", "required_roles", "TextDoesNotFit"]
