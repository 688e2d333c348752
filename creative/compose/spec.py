"""Plain data that crosses process and task boundaries: what to compose, and what came out.

Everything here pickles cheaply, so a Prefect task or a worker process receives an `ElementPack`
once and then only `CreativeSpec`s.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from creative.catalog import Product
from experiments.model import MAX_CREATIVE_ID_LENGTH

FORMATS = {"jpeg": "jpg", "png": "png", "webp": "webp"}
SLOT_ORDER = ("product", "offer", "model", "logo", "background", "title")  # fixed order inside an id
_UNSAFE = re.compile(r"[^A-Za-z0-9.\-]+")


@dataclass(frozen=True)
class ElementInfo:
    """What the renderer needs of one element: where its picture is and what it looks like."""

    code: str
    kind: str
    name: str
    brand: str | None = None
    path: str | None = None  # the picture to draw (cut-out for products that have one)
    width: int | None = None
    height: int | None = None
    bbox: tuple[int, int, int, int] | None = None  # alpha-trimmed box in the picture
    subject: tuple[float, float, float, float] | None = None  # a product photo's subject (relative box), to crop around
    palette: tuple[str, ...] = ()
    text: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def aspect(self) -> float:
        if self.bbox:
            l, t, r, b = self.bbox
            return max(1, r - l) / max(1, b - t)
        return (self.width or 1) / (self.height or 1)


@dataclass
class ElementPack:
    """Every element and catalog product a batch refers to, resolved once in the parent process."""

    elements: dict[str, ElementInfo]
    offers: dict[str, Product]  # by catalog product id: name, price, badges and language of a banner
    brand_colours: dict[str, tuple[str, ...]] = field(default_factory=dict)  # brand kits' #rrggbb, primary first, by brand_key
    brand_fonts: dict[str, str] = field(default_factory=dict)  # brand kits' fonts (creative.fonts.available_fonts names), by brand_key

    def fingerprint(self) -> str:
        h = hashlib.sha1()
        for code in sorted(self.elements):
            e = self.elements[code]
            h.update(f"{code}|{e.path}|{e.text}|{e.palette}|{e.bbox}".encode())
        for pid in sorted(self.offers):
            h.update(repr(self.offers[pid]).encode())  # every fact of the product (Product is not hashable)
        for brand in sorted(self.brand_colours):
            h.update(f"{brand}|{self.brand_colours[brand]}".encode())
        for brand in sorted(self.brand_fonts):
            h.update(f"{brand}|font {self.brand_fonts[brand]}".encode())
        return h.hexdigest()[:16]


@dataclass(frozen=True, order=True)
class CreativeSpec:
    """One banner to make: a template, a size and the code in each slot (None when unused)."""

    template: str
    size: str
    product: str
    offer: str | None = None  # catalog product id; None when the product is not in a catalog
    model: str | None = None
    logo: str | None = None
    background: str | None = None
    title: str | None = None  # title element code; None means the catalog name

    @property
    def creative_id(self) -> str:
        parts = [self.template, self.size] + [getattr(self, s) for s in SLOT_ORDER if getattr(self, s)]
        cid = "_".join(_UNSAFE.sub("-", p) for p in parts)
        if len(cid) > MAX_CREATIVE_ID_LENGTH:
            digest = hashlib.sha1(cid.encode()).hexdigest()[:12]
            cid = cid[: MAX_CREATIVE_ID_LENGTH - 13] + "~" + digest
        return cid

    def elements(self) -> dict[str, str]:
        """Slot to code, for the manifest and the library; 'offer' is the catalog product id."""
        return {s: getattr(self, s) for s in SLOT_ORDER if getattr(self, s)}


@dataclass(frozen=True)
class BatchSelection:
    """What a marketer picked; codes are element codes (products may also be catalog product ids)."""

    products: tuple[str, ...]
    logos: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    backgrounds: tuple[str, ...] = ()
    templates: tuple[str, ...] = ("all",)
    sizes: tuple[str, ...] = ("all",)


@dataclass(frozen=True)
class RenderChunk:
    """A slice of a batch one worker or one flow task renders: hundreds of specs, one format."""

    pack: ElementPack
    specs: tuple[CreativeSpec, ...]
    out_dir: str
    format: str = "jpeg"
    quality: int = 85


@dataclass
class BatchResult:
    out_dir: str
    batch: str
    manifest: str
    gallery: str
    creatives: list[dict]
    rejected: list[dict]
    skipped: list[str]
    seconds: float
    combinations: int

    @property
    def rendered(self) -> int:
        return len(self.creatives)


Progress = Callable[[int, int], None]
