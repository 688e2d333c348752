"""Layout templates: declarative data files (layouts/templates/*.json) loaded into checked dataclasses.

A template names its slots (what goes where, how text behaves) once, then gives one relative box per
slot for each aspect class (strip, banner, wide, square, tall, skyscraper). Loading rejects a template
that could never be drawn cleanly: an unknown slot or kind, a box outside the canvas, or two hard
content slots whose boxes overlap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from functools import cache
from pathlib import Path
from typing import Any, Mapping

from layouts.errors import TemplateError
from layouts.geometry import ANCHORS, Box
from layouts.sizes import ASPECT_CLASS_NAMES, FALLBACK, Size, aspect_class

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

SLOT_KINDS = ("background", "decoration", "product", "model", "logo", "title", "subtitle", "badge", "cta")
IMAGE_KINDS = frozenset({"background", "product", "model", "logo"})
TEXT_KINDS = frozenset({"title", "subtitle", "badge", "cta"})
# Underlays may sit under anything; everything else is content and must not overlap unless allowed.
UNDERLAY_KINDS = frozenset({"background", "decoration"})
SHAPES = frozenset({"rect", "pill", "circle", "band"})
COLOUR_ROLES = frozenset({"accent", "primary", "tint", "dark", "paper", "light"})
BADGE_CONTENT = frozenset({"discount", "price", "discount_or_price"})


@dataclass(frozen=True)
class Slot:
    """What a slot holds and how it behaves; the box comes from the template's per-aspect layouts."""

    name: str
    kind: str
    z: int
    required: bool = False
    anchor: str = "center"
    padding: float = 0.01  # inset of the box, as a fraction of the canvas short side
    fit: str = "contain"  # images: contain (keep aspect inside the box) or cover (fill, crop)
    min_px: int = 12  # an optional image slot smaller than this drops out
    # text
    weight: str = "bold"
    align: str = "center"
    valign: str = "middle"
    min_font_px: int = 10  # never below the format's legible floor (layouts.legibility)
    max_font: float = 0.12  # largest font size as a fraction of the canvas' mean side (solver.type_scale)
    max_lines: int = 2
    line_spacing: float = 1.15
    scrim: str = "auto"  # auto: only when contrast needs it; always: a design underlay; never
    # shapes and content
    shape: str | None = None
    colour: str = "accent"
    opacity: float = 1.0
    content: str | None = None  # badge: discount | price | discount_or_price

    @property
    def is_text(self) -> bool:
        return self.kind in TEXT_KINDS

    @property
    def is_image(self) -> bool:
        return self.kind in IMAGE_KINDS

    @property
    def is_underlay(self) -> bool:
        return self.kind in UNDERLAY_KINDS


# Keys a per-aspect layout entry may override on its slot.
_OVERRIDABLE = frozenset({"anchor", "align", "valign", "max_lines", "max_font", "min_font_px", "shape", "padding", "fit", "opacity"})
_SLOT_KEYS = frozenset(f.name for f in fields(Slot)) - {"name"}


@dataclass(frozen=True)
class Placement:
    slot: Slot  # the slot with this layout's overrides applied
    box: Box  # relative to the canvas, 0..1


@dataclass(frozen=True)
class LayoutTemplate:
    name: str
    description: str
    slots: Mapping[str, Slot]
    layouts: Mapping[str, tuple[Placement, ...]]  # aspect class -> placements in z order
    may_overlap: frozenset[frozenset[str]] = field(default_factory=frozenset)
    background: str = "tint"  # fill when no background image is given: tint | paper | dark | accent
    best_for: tuple[str, ...] = ()

    def variant_for(self, size: Size) -> str:
        for name in FALLBACK[aspect_class(size)]:
            if name in self.layouts:
                return name
        return next(iter(self.layouts))

    def placements(self, size: Size) -> tuple[Placement, ...]:
        return self.layouts[self.variant_for(size)]

    def slots_of_kind(self, *kinds: str) -> list[Slot]:
        return [slot for slot in self.slots.values() if slot.kind in kinds]

    def uses(self, kind: str) -> bool:
        return any(slot.kind == kind for slot in self.slots.values())

    def requires(self, kind: str) -> bool:
        return any(slot.kind == kind and slot.required for slot in self.slots.values())


def _fail(template: str, message: str) -> TemplateError:
    return TemplateError(f"template {template!r}: {message}")


def _slot(template: str, name: str, raw: Any) -> Slot:
    if not isinstance(raw, dict):
        raise _fail(template, f"slot {name!r} must be an object with at least a 'kind'")
    unknown = set(raw) - _SLOT_KEYS
    if unknown:
        raise _fail(template, f"slot {name!r} has unknown keys {sorted(unknown)}; allowed: {sorted(_SLOT_KEYS)}")
    kind = raw.get("kind")
    if kind not in SLOT_KINDS:
        raise _fail(template, f"slot {name!r} has unknown kind {kind!r}; kinds are {', '.join(SLOT_KINDS)}")
    try:
        slot = Slot(name=name, **{k: v for k, v in raw.items()})
    except TypeError as exc:
        raise _fail(template, f"slot {name!r}: {exc}") from None
    _check_slot(template, slot)
    return slot


def _check_slot(template: str, slot: Slot) -> None:
    if slot.anchor not in ANCHORS:
        raise _fail(template, f"slot {slot.name!r} anchor {slot.anchor!r} is not one of {sorted(ANCHORS)}")
    if slot.align not in ("left", "center", "right") or slot.valign not in ("top", "middle", "bottom"):
        raise _fail(template, f"slot {slot.name!r} align/valign must be left|center|right and top|middle|bottom")
    if slot.fit not in ("contain", "cover"):
        raise _fail(template, f"slot {slot.name!r} fit must be contain or cover")
    if slot.shape is not None and slot.shape not in SHAPES:
        raise _fail(template, f"slot {slot.name!r} shape {slot.shape!r} is not one of {sorted(SHAPES)}")
    if slot.colour not in COLOUR_ROLES:
        raise _fail(template, f"slot {slot.name!r} colour {slot.colour!r} is not one of {sorted(COLOUR_ROLES)}")
    if slot.kind == "badge" and slot.content not in BADGE_CONTENT:
        raise _fail(template, f"badge slot {slot.name!r} needs content: one of {sorted(BADGE_CONTENT)}")
    if slot.min_font_px < 6 or slot.max_lines < 1 or not (0 < slot.max_font <= 0.5):
        raise _fail(template, f"slot {slot.name!r}: min_font_px >= 6, max_lines >= 1 and 0 < max_font <= 0.5")
    if slot.scrim not in ("auto", "always", "never"):
        raise _fail(template, f"slot {slot.name!r} scrim must be auto, always or never")
    if not (0 <= slot.padding < 0.25) or not (0 < slot.opacity <= 1):
        raise _fail(template, f"slot {slot.name!r}: padding must be in [0, 0.25) and opacity in (0, 1]")


def _box(template: str, variant: str, name: str, raw: Any) -> Box:
    if not (isinstance(raw, (list, tuple)) and len(raw) == 4 and all(isinstance(v, (int, float)) for v in raw)):
        raise _fail(template, f"slot {name!r} in the {variant!r} layout needs a box [x, y, w, h] of fractions")
    box = Box(*map(float, raw))
    eps = 1e-6
    if box.w <= 0 or box.h <= 0:
        raise _fail(template, f"slot {name!r} in the {variant!r} layout has an empty box {list(raw)}")
    if box.x < -eps or box.y < -eps or box.right > 1 + eps or box.bottom > 1 + eps:
        raise _fail(template, f"slot {name!r} in the {variant!r} layout has a box {list(raw)} outside the canvas (0..1)")
    return box


def parse_template(data: Mapping[str, Any], source: str = "<data>") -> LayoutTemplate:
    """Build and check a template from its data (the parsed JSON)."""
    name = data.get("name")
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise TemplateError(f"template in {source} needs a 'name' of letters, digits, '-' or '_'")
    known = {"name", "description", "slots", "layouts", "may_overlap", "background", "best_for"}
    if set(data) - known:
        raise _fail(name, f"unknown keys {sorted(set(data) - known)}; allowed: {sorted(known)}")
    raw_slots = data.get("slots")
    if not isinstance(raw_slots, dict) or not raw_slots:
        raise _fail(name, "needs a non-empty 'slots' object")
    slots = {slot_name: _slot(name, slot_name, raw) for slot_name, raw in raw_slots.items()}

    pairs: set[frozenset[str]] = set()
    for pair in data.get("may_overlap", []):
        if len(pair) != 2 or any(p not in slots for p in pair):
            raise _fail(name, f"may_overlap entry {pair!r} must name two declared slots")
        pairs.add(frozenset(pair))

    raw_layouts = data.get("layouts")
    if not isinstance(raw_layouts, dict) or not raw_layouts:
        raise _fail(name, f"needs 'layouts': one entry per aspect class ({', '.join(ASPECT_CLASS_NAMES)})")
    layouts: dict[str, tuple[Placement, ...]] = {}
    for variant, entries in raw_layouts.items():
        if variant not in ASPECT_CLASS_NAMES:
            raise _fail(name, f"layout {variant!r} is not an aspect class; use {', '.join(ASPECT_CLASS_NAMES)}")
        placements: list[Placement] = []
        for slot_name, entry in entries.items():
            if slot_name not in slots:
                raise _fail(name, f"the {variant!r} layout places unknown slot {slot_name!r}; declared slots: {', '.join(slots)}")
            slot = slots[slot_name]
            if isinstance(entry, dict):
                extra = set(entry) - _OVERRIDABLE - {"box"}
                if extra:
                    raise _fail(name, f"slot {slot_name!r} in the {variant!r} layout cannot override {sorted(extra)}")
                slot = replace(slot, **{k: v for k, v in entry.items() if k != "box"})
                _check_slot(name, slot)
                entry = entry.get("box")
            placements.append(Placement(slot, _box(name, variant, slot_name, entry)))
        for slot in slots.values():
            if slot.kind == "background" and all(p.slot.name != slot.name for p in placements):
                placements.append(Placement(slot, Box(0.0, 0.0, 1.0, 1.0)))  # the background is always the canvas
            if slot.required and all(p.slot.name != slot.name for p in placements):
                raise _fail(name, f"required slot {slot.name!r} is missing from the {variant!r} layout")
        _check_overlaps(name, variant, placements, pairs)
        placements.sort(key=lambda p: p.slot.z)
        layouts[variant] = tuple(placements)
    return LayoutTemplate(
        name=name,
        description=str(data.get("description", "")),
        slots=slots,
        layouts=layouts,
        may_overlap=frozenset(pairs),
        background=str(data.get("background", "tint")),
        best_for=tuple(data.get("best_for", ())),
    )


def _check_overlaps(name: str, variant: str, placements: list[Placement], allowed: set[frozenset[str]]) -> None:
    content = [p for p in placements if not p.slot.is_underlay]
    for i, a in enumerate(content):
        for b in content[i + 1 :]:
            if frozenset((a.slot.name, b.slot.name)) in allowed:
                continue
            overlap = a.box.intersection_area(b.box)
            if overlap > 1e-9:
                raise _fail(
                    name,
                    f"hard slots {a.slot.name!r} and {b.slot.name!r} overlap in the {variant!r} layout "
                    f"({overlap:.2%} of the canvas); move their boxes apart or list the pair in may_overlap",
                )


def load_template(path: str | Path) -> LayoutTemplate:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TemplateError(f"cannot read template {path}: {exc}") from None
    if not isinstance(data, dict):
        raise TemplateError(f"template {path} must hold a JSON object")
    template = parse_template(data, str(path))
    if template.name != path.stem:
        raise TemplateError(f"template {path} is named {template.name!r}; name the file {template.name}.json")
    return template


@cache
def builtin_templates() -> dict[str, LayoutTemplate]:
    """Every template shipped in layouts/templates, by name, in file-name order."""
    return {t.name: t for t in (load_template(p) for p in sorted(TEMPLATE_DIR.glob("*.json")))}


def get_template(name: str) -> LayoutTemplate:
    templates = builtin_templates()
    try:
        return templates[name]
    except KeyError:
        raise TemplateError(f"unknown template {name!r}; templates: {', '.join(templates)}") from None


def parse_templates(values: str | list[str] | tuple[str, ...]) -> tuple[LayoutTemplate, ...]:
    """Resolve comma-separated or repeated template names, or 'all'."""
    items = [values] if isinstance(values, str) else list(values)
    names: list[str] = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if part.lower() == "all":
                names.extend(builtin_templates())
            elif part:
                names.append(part)
    if not names:
        raise TemplateError(f"no template given; pass --templates all or some of: {', '.join(builtin_templates())}")
    return tuple(get_template(n) for n in dict.fromkeys(names))
