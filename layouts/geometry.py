"""Boxes in pixels and the few operations layouts and metrics need."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle: left, top, width, height in pixels."""

    x: float
    y: float
    w: float
    h: float

    @classmethod
    def from_ltrb(cls, left: float, top: float, right: float, bottom: float) -> Box:
        return cls(left, top, max(0.0, right - left), max(0.0, bottom - top))

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    @property
    def area(self) -> float:
        return max(0.0, self.w) * max(0.0, self.h)

    def ltrb(self) -> tuple[int, int, int, int]:
        """Integer pixel edges, rounded the same way everywhere so cached and fresh renders agree."""
        return (round(self.x), round(self.y), round(self.right), round(self.bottom))

    def intersection(self, other: Box) -> Box | None:
        left, top = max(self.x, other.x), max(self.y, other.y)
        right, bottom = min(self.right, other.right), min(self.bottom, other.bottom)
        if right <= left or bottom <= top:
            return None
        return Box(left, top, right - left, bottom - top)

    def intersection_area(self, other: Box) -> float:
        inter = self.intersection(other)
        return inter.area if inter else 0.0

    def iou(self, other: Box) -> float:
        inter = self.intersection_area(other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def contains(self, other: Box, tolerance: float = 0.5) -> bool:
        return (
            other.x >= self.x - tolerance
            and other.y >= self.y - tolerance
            and other.right <= self.right + tolerance
            and other.bottom <= self.bottom + tolerance
        )

    def inset(self, dx: float, dy: float | None = None) -> Box:
        dy = dx if dy is None else dy
        return Box(self.x + dx, self.y + dy, max(0.0, self.w - 2 * dx), max(0.0, self.h - 2 * dy))

    def clamp_to(self, outer: Box) -> Box:
        return Box.from_ltrb(max(self.x, outer.x), max(self.y, outer.y), min(self.right, outer.right), min(self.bottom, outer.bottom))

    def scaled(self, width: float, height: float) -> Box:
        """A relative box (0..1) in a canvas of width x height pixels."""
        return Box(self.x * width, self.y * height, self.w * width, self.h * height)

    def place(self, w: float, h: float, anchor: str = "center") -> Box:
        """A w x h box inside this one, positioned by an anchor such as 'center', 'top-left', 'bottom'."""
        parts = set(anchor.split("-"))
        if "left" in parts:
            x = self.x
        elif "right" in parts:
            x = self.right - w
        else:
            x = self.x + (self.w - w) / 2
        if "top" in parts:
            y = self.y
        elif "bottom" in parts:
            y = self.bottom - h
        else:
            y = self.y + (self.h - h) / 2
        return Box(x, y, w, h)

    def fit_aspect(self, aspect: float, anchor: str = "center") -> Box:
        """The largest box of the given aspect (w/h) inside this one ('contain')."""
        if aspect <= 0 or self.w <= 0 or self.h <= 0:
            return Box(self.x, self.y, 0.0, 0.0)
        if self.w / self.h > aspect:
            h = self.h
            w = h * aspect
        else:
            w = self.w
            h = w / aspect
        return self.place(w, h, anchor)


ANCHORS = frozenset(
    {"center", "top", "bottom", "left", "right", "top-left", "top-right", "bottom-left", "bottom-right"}
)
