"""Layout quality metrics after PosterLayout (CVPR 2023) and CGL-GAN (IJCAI 2022), from the solved
boxes plus readability measured on the rendered pixels under each text block.

Hard violations reject a creative (out of bounds, text over text or over the product, contrast under
the WCAG limit, product hidden, a person's face cut by the crop or covered); everything else is a soft
metric or note for the manifest, and costs quality (layouts.quality).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from itertools import combinations
from typing import Sequence

import numpy as np

from layouts.geometry import Box
from layouts.legibility import min_text_px
from layouts.solver import PlacedSlot, SolvedLayout

PRODUCT_HIDDEN = 0.5  # more than half the product's salient region covered is "hidden"
FACE_TOLERANCE = 0.02  # share of a face a crop may shave or an element may touch (anti-aliasing, rounding)
# Product, model and title together should cover at least this share of the canvas: designed posters
# give them about half (PosterLayout's test set), our templates aim at 0.35 and more.
MIN_OCCUPANCY = 0.2
BUSY_UNDER_TEXT = 0.12  # mean luminance gradient above which text without a scrim is hard to read
_GRID = 32

# Every message a violation can carry lives here.
MESSAGES = {
    "out_of_bounds": "{slot} reaches outside the canvas",
    "text_overlap": "{slot} text overlaps {other} text",
    "text_on_product": "{slot} text covers the {other} itself",
    "low_contrast": "{slot} contrast {contrast:.2f}:1 is under the {required:g}:1 WCAG limit",
    "product_hidden": "{slot} is {occlusion:.0%} hidden by other elements",
    "product_occluded": "{slot} is {occlusion:.0%} covered by other elements",
    "element_overlap": "{slot} overlaps {other} ({iou:.0%} IoU)",
    "small_text": "{slot} text is {size} px, under the {limit} px this format needs",
    "face_cut": "{slot}: the crop cuts {cut:.0%} of the face",
    "face_covered": "{slot}: {occlusion:.0%} of the face is covered by other elements",
    "low_occupancy": "product and title cover {occupancy:.0%} of the canvas, under {floor:.0%}",
    "busy_background": "{slot} sits on a busy background (gradient {busy:.2f}) without a scrim",
    "slot_dropped": "{note}",
    "slot_absent": "{note}",
}
HARD = frozenset({"out_of_bounds", "text_overlap", "text_on_product", "low_contrast", "product_hidden", "face_cut", "face_covered"})

# The quality score: 1.0 is clean; a hard violation scores 0 and each soft finding, of the layout or of
# a caller's own checks (copy), costs its penalty. A launch gate's threshold then reads as "how many of
# which findings a banner may carry" (creative.services.batches.DEFAULT_MIN_QUALITY).
PENALTIES = {
    "small_text": 0.3,  # under the format's legible size
    "low_occupancy": 0.2,  # product and title lost in an empty canvas
    "product_occluded": 0.15,
    "busy_background": 0.15,
    "element_overlap": 0.05,
    "slot_dropped": 0.05,  # an optional slot (logo, badge) did not fit this size
    "slot_absent": 0.0,  # the size's layout has no place for it, by design
    "copy": 0.6,  # the title fails a copy check (wrong facts, cut off, another product's name)
}
DEFAULT_PENALTY = 0.2  # a finding the table does not name


def penalty(code: str) -> float:
    return 1.0 if code in HARD else PENALTIES.get(code, DEFAULT_PENALTY)


def penalised(score: float, codes: Sequence[str]) -> float:
    """`score` less the penalty of each finding code, never below 0."""
    return round(max(0.0, score - sum(penalty(c) for c in codes)), 3)


@dataclass(frozen=True)
class Violation:
    code: str
    message: str

    @property
    def hard(self) -> bool:
        return self.code in HARD

    def as_dict(self) -> dict:
        return {"code": self.code, "hard": self.hard, "message": self.message}


def violation(code: str, **values) -> Violation:
    return Violation(code, MESSAGES[code].format(**values))


@dataclass(frozen=True)
class Readability:
    """Measured on the pixels under one text block (scrim included)."""

    slot: str
    contrast: float
    required: float
    busyness: float
    scrim: bool = False


@dataclass(frozen=True)
class LayoutMetrics:
    overlap: float  # mean pairwise IoU of non-underlay elements (lower is better)
    alignment: float  # mean normalised distance to the nearest alignment line (lower is better)
    out_of_bounds: float  # share of element area outside the canvas
    occlusion: float  # share of the product/model salient region covered by other elements
    readability: float  # worst contrast / required over text blocks (>= 1 passes)
    busyness: float  # mean gradient under text (lower is better)
    utility: float  # share of the non-salient canvas used by elements
    min_text_px: int
    elements: int
    occupancy: float = 0.0  # share of the canvas covered by product, model and title
    quality: float = 1.0  # 1 less the penalty of every finding (see PENALTIES)

    def as_dict(self) -> dict:
        # asdict() without its deep copy: every field is a number
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in ((f, getattr(self, f)) for f in _METRIC_FIELDS)}


_METRIC_FIELDS = tuple(f.name for f in fields(LayoutMetrics))


def element_box(p: PlacedSlot) -> Box:
    return p.content_box


def _is_text(p: PlacedSlot) -> bool:
    return p.text is not None


def _mask_rows(boxes: Sequence[Box], frame: Box, grid: int = _GRID) -> list[int] | None:
    """`_mask` as one bit row (an int) per grid row, in plain Python: the same cells, set the same way."""
    if frame.w <= 0 or frame.h <= 0:
        return None
    sx, sy = grid / frame.w, grid / frame.h
    fx, fy = frame.x, frame.y
    g = float(grid)
    rows = [0] * grid
    floor = math.floor
    for b in boxes:
        # floor(clip(v)) == clip(floor(v)) for the integer bounds 0 and grid
        x0 = floor(min(max((b.x - fx) * sx + 0.5, 0.0), g))
        x1 = floor(min(max((b.x + b.w - fx) * sx + 0.5, 0.0), g))
        y0 = floor(min(max((b.y - fy) * sy + 0.5, 0.0), g))
        y1 = floor(min(max((b.y + b.h - fy) * sy + 0.5, 0.0), g))
        if x1 <= x0 or y1 <= y0:
            continue
        bits = ((1 << x1) - 1) ^ ((1 << x0) - 1)
        for y in range(y0, y1):
            rows[y] |= bits
    return rows


def _mask(boxes: Sequence[Box], frame: Box, grid: int = _GRID) -> np.ndarray:
    """Coverage of `frame` by the union of boxes on a grid x grid raster."""
    mask = np.zeros((grid, grid), dtype=bool)
    rows = _mask_rows(boxes, frame, grid)
    for y, bits in enumerate(rows or ()):
        for x in range(grid):
            if bits >> x & 1:
                mask[y, x] = True
    return mask


def _mask_mean(boxes: Sequence[Box], frame: Box, grid: int = _GRID) -> float:
    """float(_mask(boxes, frame).mean()): covered cells over all cells (exact either way)."""
    rows = _mask_rows(boxes, frame, grid)
    return sum(r.bit_count() for r in rows) / (grid * grid) if rows else 0.0


def _alignment(boxes: Sequence[Box], w: float, h: float) -> float:
    if len(boxes) < 2:
        return 0.0
    edges = [(b.x, b.x + b.w / 2, b.x + b.w, b.y, b.y + b.h / 2, b.y + b.h) for b in boxes]  # x, cx, right, y, cy, bottom
    total = 0.0
    for i, (ax, acx, ar, ay, acy, ab) in enumerate(edges):
        best = 1.0
        for j, (bx, bcx, br, by, bcy, bb) in enumerate(edges):
            if i == j:
                continue
            dx = min(abs(ax - bx), abs(acx - bcx), abs(ar - br)) / w
            dy = min(abs(ay - by), abs(acy - bcy), abs(ab - bb)) / h
            best = min(best, dx, dy)
        total += best
    return total / len(boxes)


@dataclass(frozen=True)
class GeometryScore:
    """The part of the score that depends on boxes only; a composer caches it per solved layout."""

    overlap: float
    alignment: float
    out_of_bounds: float
    occlusion: float
    utility: float
    min_text_px: int
    elements: int
    violations: tuple[Violation, ...]
    occupancy: float = 0.0


def _edges(box: Box) -> tuple[float, float, float, float, float]:
    return (box.x, box.y, box.x + box.w, box.y + box.h, max(0.0, box.w) * max(0.0, box.h))


def _inter_area(a: tuple, b: tuple) -> float:
    """Box.intersection_area on _edges tuples."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[2], b[2]), min(a[3], b[3])
    if right <= left or bottom <= top:
        return 0.0
    return max(0.0, right - left) * max(0.0, bottom - top)


def score_geometry(layout: SolvedLayout, may_overlap: frozenset = frozenset()) -> GeometryScore:
    canvas = layout.canvas
    W, H = layout.size.width, layout.size.height
    content = [p for p in layout.slots if not p.slot.is_underlay]
    found: list[Violation] = []

    outside = 0.0
    total = 0.0
    for p in layout.slots:
        box = element_box(p)
        total += box.area
        inside = box.intersection_area(canvas)
        if box.area - inside > 0.5 or not canvas.contains(box):
            found.append(violation("out_of_bounds", slot=p.name))
        if box.area - inside > 0.5:
            outside += box.area - inside

    ious = []
    # Box.iou / intersection_area inlined on (left, top, right, bottom, area) tuples: the same arithmetic
    edges = [_edges(element_box(p)) for p in content]
    texts = [_is_text(p) for p in content]
    for i, j in combinations(range(len(content)), 2):
        a, b = content[i], content[j]
        ea, eb = edges[i], edges[j]
        inter = _inter_area(ea, eb)
        union = ea[4] + eb[4] - inter
        iou = inter / union if union > 0 else 0.0
        ious.append(iou)
        ta, tb = texts[i], texts[j]
        if ta and tb and inter > 0:
            found.append(violation("text_overlap", slot=a.name, other=b.name))
        elif iou > 0 and not (ta or tb):
            found.append(violation("element_overlap", slot=a.name, other=b.name, iou=iou))
        if (ta and b.kind == "product" and b.salient) or (tb and a.kind == "product" and a.salient):
            allowed = frozenset((a.name, b.name)) in may_overlap
            for t, other, et in ((a, b, ea), (b, a, eb)):
                if (ta if t is a else tb) and other.kind == "product" and other.salient and _inter_area(et, _edges(other.salient)) > 0:
                    found.append(violation("element_overlap" if allowed else "text_on_product", slot=t.name, other=other.name, iou=iou))

    occlusions = []
    for p in content:
        if p.kind not in ("product", "model") or p.salient is None or p.salient.area <= 0:
            continue
        covers = [element_box(q) for q in content if q is not p and q.slot.z > p.slot.z]
        occ = _mask_mean(covers, p.salient) if covers else 0.0
        occlusions.append(occ)
        if p.kind == "model":
            if p.salient_cut > FACE_TOLERANCE:
                found.append(violation("face_cut", slot=p.name, cut=p.salient_cut))
            if occ > FACE_TOLERANCE:
                found.append(violation("face_covered", slot=p.name, occlusion=occ))
        elif p.kind == "product" and occ > PRODUCT_HIDDEN:
            found.append(violation("product_hidden", slot=p.name, occlusion=occ))
        elif occ > 0.01:
            found.append(violation("product_occluded", slot=p.name, occlusion=occ))

    text_sizes = [p.text.size for p in content if p.text is not None]
    for p in content:
        if p.text is not None and p.text.size < (limit := min_text_px(p.kind, layout.size)):
            found.append(violation("small_text", slot=p.name, size=p.text.size, limit=limit))
    for note in layout.notes:  # a slot the size's layout leaves out by design is noted, not penalised
        found.append(violation("slot_absent" if note in layout.absent else "slot_dropped", note=note))

    salient = [p.salient for p in content if p.salient is not None and p.kind in ("product", "model")]
    used = _mask_rows([element_box(p) for p in content], canvas)
    taken = _mask_rows(salient, canvas)
    if used is None:  # an empty canvas: nothing used, nothing free
        utility = 0.0
    else:
        full = (1 << _GRID) - 1
        free_rows = [full & ~t for t in taken]
        free = sum(f.bit_count() for f in free_rows)
        utility = sum((u & f).bit_count() for u, f in zip(used, free_rows)) / free if free else 0.0
    occupancy = _mask_mean([element_box(p) for p in content if p.kind in ("product", "model", "title")], canvas)
    if occupancy < MIN_OCCUPANCY:
        found.append(violation("low_occupancy", occupancy=occupancy, floor=MIN_OCCUPANCY))
    return GeometryScore(
        overlap=float(np.mean(ious)) if ious else 0.0,
        alignment=_alignment([element_box(p) for p in content], W, H),
        out_of_bounds=outside / total if total else 0.0,
        occlusion=max(occlusions, default=0.0),
        utility=utility,
        min_text_px=min(text_sizes, default=0),
        elements=len(content),
        violations=tuple(found),
        occupancy=occupancy,
    )


def evaluate(layout: SolvedLayout, readability: Sequence[Readability] = (), may_overlap: frozenset = frozenset(),
             geometry: GeometryScore | None = None) -> tuple[LayoutMetrics, list[Violation]]:
    """Score a solved layout; returns the metrics and every violation, hard ones first.
    Pass `geometry` (from score_geometry, cached) to skip recomputing the box-only part."""
    g = geometry or score_geometry(layout, may_overlap)
    found = list(g.violations)
    worst = min((r.contrast / r.required for r in readability), default=1.0)
    for r in readability:
        if r.contrast + 1e-6 < r.required:
            found.append(violation("low_contrast", slot=r.slot, contrast=r.contrast, required=r.required))
        if r.busyness > BUSY_UNDER_TEXT and not r.scrim:
            found.append(violation("busy_background", slot=r.slot, busy=r.busyness))
    metrics = LayoutMetrics(
        overlap=g.overlap,
        alignment=g.alignment,
        out_of_bounds=g.out_of_bounds,
        occlusion=g.occlusion,
        readability=float(worst),
        busyness=float(np.mean([r.busyness for r in readability])) if readability else 0.0,
        utility=g.utility,
        min_text_px=g.min_text_px,
        elements=g.elements,
        occupancy=g.occupancy,
        quality=penalised(1.0, [v.code for v in found]),
    )
    found.sort(key=lambda v: (not v.hard, v.code))
    return metrics, found


def hard_violations(violations: Sequence[Violation]) -> list[Violation]:
    return [v for v in violations if v.hard]
