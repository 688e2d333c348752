"""The renderer's caches, in one place: what each keeps, and how one memory budget is split.

Pictures at a size, bases, and text and shape blocks are the big ones: each is a
least-recently-used cache with a share of `CACHE_MB`. The rest hold small values (fonts, widths,
fits, layouts, colours, scores) or one entry per element of the batch's pack, and are kept whole for
the life of the renderer: a batch's pack bounds them.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Hashable

CACHE_MB = 384  # the whole budget of the bounded caches, per renderer (one renderer per process)
BUDGET_SHARES = {"bases": 0.49, "resized": 0.34, "blocks": 0.17}  # of CACHE_MB
assert abs(sum(BUDGET_SHARES.values()) - 1.0) < 1e-9


class BoundedCache:
    """A least-recently-used cache bounded by an estimate of the bytes it holds."""

    def __init__(self, budget: int):
        self.budget = budget
        self.used = 0
        self.data: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()  # key -> (value, nbytes)

    def get(self, key: Hashable) -> Any:
        hit = self.data.get(key)
        if hit is None:
            return None
        self.data.move_to_end(key)
        return hit[0]

    def put(self, key: Hashable, value: Any, nbytes: int) -> Any:
        self.data[key] = (value, nbytes)
        self.used += nbytes
        while self.used > self.budget and len(self.data) > 1:
            _, (_, old) = self.data.popitem(last=False)
            self.used -= old
        return value


class RenderCaches:
    """Everything a Renderer keeps between banners; a new instance is a cold renderer."""

    def __init__(self, total_mb: float = CACHE_MB):
        budget = {name: int(share * total_mb * 1024 * 1024) for name, share in BUDGET_SHARES.items()}
        # bounded, by bytes
        self.resized = BoundedCache(budget["resized"])  # (code, w, h, crop, mode) -> picture at that size
        self.bases = BoundedCache(budget["bases"])  # base id -> drawn base
        self.blocks = BoundedCache(budget["blocks"])  # text and shape blocks
        # one entry per element of the pack
        self.pictures: dict = {}  # code -> RGBA picture, trimmed
        self.premultiplied: dict = {}  # code -> the picture as RGBa
        self.aspects: dict = {}  # code -> ImageContent
        self.photos: dict = {}  # code -> the picture has no transparency (a photo, drawn as a card)
        self.palettes: dict = {}  # (product, logo) -> (accent, text colour candidates)
        # small values
        self.fonts: dict = {}  # FontSpec -> FreeTypeFont
        self.widths: dict = {}  # (text, FontSpec) -> width
        self.reference_widths: dict = {}  # (text, FontSpec at MEASURE_PX) -> a pan-CJK face's width at that size
        self.font_metrics: dict = {}  # FontSpec -> (ascent, descent)
        self.fits: dict = {}  # fit_text arguments -> TextFit or the LayoutError it raised
        self.slots: dict = {}  # the solver's per-slot memo
        self.templates: dict = {}  # (template, size) names -> (LayoutTemplate, Size, picture roles)
        self.texts: dict = {}  # (product, offer, title) -> (text content, language)
        self.contents: dict = {}  # the spec's elements -> (content, language, layout key)
        self.layouts: dict = {}  # (template, size, content) -> LayoutPlan or the LayoutError
        self.base_refs: dict = {}  # (plan, accent, background, product, model) -> (Base, base id)
        self.base_ids: dict = {}  # Base -> base id
        self.roles: dict = {}  # (colour role, accent) -> RGB
        self.families: dict = {}  # RGB -> colour family
        self.colours: dict = {}  # (base id, box, candidates, required, scrim) -> TextColour
        self.badge_colours: dict = {}  # (kind, role, accent, required) -> (fill, text colour, contrast)
        self.scores: dict = {}  # (layout, readability) -> (metrics, violations, hard reasons)
        self.element_attributes: dict = {}  # (title, offer, product) -> ElementAttributes
        self.colour_families: dict = {}  # background and accent -> (colour family, accent family)
