"""Element library: validated, content-addressed uploads with a short stable code per element."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

IMAGE_KINDS = ("product", "logo", "model", "background")
TEXT_KINDS = ("title", "article")
KINDS = IMAGE_KINDS + TEXT_KINDS
FOLDER_KINDS = {f"{kind}s": kind for kind in IMAGE_KINDS}  # a library folder: products/, logos/, models/, backgrounds/
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
CODE_PREFIX = {"product": "P", "logo": "L", "model": "M", "background": "B", "title": "T", "article": "A"}
FLOOD_FILL, GRABCUT = "flood fill", "grabcut"  # how a product's cut-out was made, as element metadata says it


@dataclass(frozen=True)
class Element:
    code: str
    kind: str
    sha256: str
    name: str
    brand: str | None
    width: int | None
    height: int | None
    text: str | None
    attributes: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None

    @property
    def cutout_method(self) -> str | None:
        """How the product's cut-out was made (FLOOD_FILL or GRABCUT), None without one; cut-outs
        stored before GrabCut came in were all made by flood fill."""
        if not self.attributes.get("has_cutout"):
            return None
        return self.attributes.get("cutout_method") or FLOOD_FILL

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "kind": self.kind,
            "name": self.name,
            "brand": self.brand,
            "sha256": self.sha256,
            "width": self.width,
            "height": self.height,
            "text": self.text,
            "attributes": self.attributes,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }
