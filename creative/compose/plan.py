"""What drawing a solved layout needs that does not depend on the banner's elements, worked out once.

A `LayoutPlan` lists the base layers (what text sits on), the steps drawn over the base (text blocks,
badges and buttons, logos) with their boxes, and the layout's own attributes and geometry score. A
banner then costs resolving the base for its elements (`LayoutPlan.base`), a copy of that base and a
few pastes. Everything here is plain data: no Pillow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

from creative.compose.attributes import LayoutAttributes, layout_attributes
from creative.compose.spec import CreativeSpec
from layouts import colour as col
from layouts.metrics import GeometryScore, score_geometry
from layouts.sizes import Size
from layouts.solver import PlacedSlot, SolvedLayout
from layouts.template import LayoutTemplate

Ltrb = tuple[int, int, int, int]
Crop = tuple[float, float, float, float]  # relative (l, t, r, b) of the source picture
RGB = tuple[int, int, int]


# ---- base layers of a plan: slots, with the element or colour still to be chosen per banner
@dataclass(frozen=True, slots=True)
class BackgroundLayer:
    crop: Crop | None  # how a background picture covers the canvas; without one the canvas is a fill


@dataclass(frozen=True, slots=True)
class DecorationLayer:
    shape: str | None  # circle, else a rectangle
    ltrb: Ltrb
    colour: str  # a colour role of the template, resolved against the banner's accent
    opacity: float


@dataclass(frozen=True, slots=True)
class PictureLayer:
    role: str  # product | model: the CreativeSpec field naming the element
    ltrb: Ltrb
    crop: Crop | None


# ---- a banner's resolved base: what is drawn, and the key its drawing is cached under
@dataclass(frozen=True, slots=True)
class Picture:
    """An element's picture resized into a box; `opaque` pictures (backgrounds) are pasted without alpha,
    a `card` (a product photo that is not cut out) as a rounded card with a soft shadow."""

    code: str
    ltrb: Ltrb
    crop: Crop | None
    opaque: bool = False
    card: bool = False


@dataclass(frozen=True, slots=True)
class Tint:
    """A decoration: a shape in one colour at some opacity."""

    shape: str | None
    ltrb: Ltrb
    colour: RGB
    opacity: float


@dataclass(frozen=True, slots=True)
class Base:
    """Background, decorations, product and model: what a banner's text sits on."""

    size: Size
    fill: RGB | None  # the canvas colour; None when a background picture covers the canvas
    layers: tuple[Picture | Tint, ...]


# ---- steps drawn over the base
@dataclass(frozen=True, slots=True)
class TextStep:
    """A title or subtitle: its colour (and a scrim) is chosen against the base's pixels under it."""

    slot: PlacedSlot
    text_ltrb: Ltrb
    required: float  # the WCAG contrast its size and weight need
    scrim: str  # the slot's scrim mode (auto, always, never)
    scrim_ltrb: Ltrb  # where a scrim goes: the underlay box, else the text box
    scrim_wh: tuple[int, int]


@dataclass(frozen=True, slots=True)
class BadgeStep:
    """A price or discount badge or a call-to-action button: a filled shape with text on it."""

    slot: PlacedSlot
    text_ltrb: Ltrb
    required: float
    shape: str  # rect, pill, circle
    shape_ltrb: Ltrb
    shape_wh: tuple[int, int]


@dataclass(frozen=True, slots=True)
class LogoStep:
    ltrb: Ltrb


Step = Union[TextStep, BadgeStep, LogoStep]


@dataclass(frozen=True, slots=True)
class LayoutPlan:
    layout: SolvedLayout
    layers: tuple[BackgroundLayer | DecorationLayer | PictureLayer, ...]  # in z order
    steps: tuple[Step, ...]  # in z order, over the base
    attributes: LayoutAttributes
    geometry: GeometryScore  # the box-only part of the layout's score
    has_background: bool  # the layout placed a background slot

    def base(self, spec: CreativeSpec, fill: RGB, colour_of: Callable[[str], RGB], is_photo: Callable[[str], bool]) -> Base:
        """The base of this layout for a banner's elements; `colour_of` turns a colour role into RGB,
        `is_photo` tells a product photo with its backdrop (shown as a card) from a cut-out."""
        size = self.layout.size
        layers: list[Picture | Tint] = []
        covered = False
        for layer in self.layers:
            if isinstance(layer, PictureLayer):
                code = getattr(spec, layer.role)
                layers.append(Picture(code, layer.ltrb, layer.crop, card=layer.role == "product" and is_photo(code)))
            elif isinstance(layer, DecorationLayer):
                layers.append(Tint(layer.shape, layer.ltrb, colour_of(layer.colour), layer.opacity))
            elif spec.background:
                layers.append(Picture(spec.background, (0, 0, size.width, size.height), layer.crop, opaque=True))
                covered = True
        return Base(size, None if covered else fill, tuple(layers))


def _box(ltrb: Ltrb) -> tuple[Ltrb, tuple[int, int]]:
    """A box and its at-least-one-pixel size."""
    l, t, r, b = ltrb
    return ltrb, (max(1, r - l), max(1, b - t))


def plan_layout(template: LayoutTemplate, layout: SolvedLayout) -> LayoutPlan:
    layers: list[BackgroundLayer | DecorationLayer | PictureLayer] = []
    steps: list[Step] = []
    for p in layout.slots:
        if p.kind == "background":
            layers.append(BackgroundLayer(p.crop))
        elif p.kind == "decoration":
            layers.append(DecorationLayer(p.slot.shape, p.content_box.ltrb(), p.slot.colour, p.slot.opacity))
        elif p.kind in ("product", "model"):
            layers.append(PictureLayer(p.role, p.content_box.ltrb(), p.crop))
        elif p.kind in ("title", "subtitle"):
            required = col.required_contrast(p.text.size, p.text.font.weight == "bold")
            under = p.underlay_box if p.underlay_box else p.text_box
            steps.append(TextStep(p, p.text_box.ltrb(), required, p.slot.scrim, *_box(under.ltrb())))
        elif p.kind in ("badge", "cta"):
            required = col.required_contrast(p.text.size, p.text.font.weight == "bold")
            steps.append(BadgeStep(p, p.text_box.ltrb(), required, p.slot.shape or "rect", *_box(p.content_box.ltrb())))
        elif p.kind == "logo":
            steps.append(LogoStep(p.content_box.ltrb()))
    return LayoutPlan(
        layout=layout,
        layers=tuple(layers),
        steps=tuple(steps),
        attributes=layout_attributes(template.name, layout),
        geometry=score_geometry(layout, template.may_overlap),
        has_background=any(p.kind == "background" for p in layout.slots),
    )
