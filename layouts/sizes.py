"""The ad sizes we compose for, and how a size's aspect ratio picks a template variant.

One place for the size list: the CLI, the benchmark, the gallery and the tests read it from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from layouts.errors import SizeError


@dataclass(frozen=True, order=True)
class Size:
    width: int
    height: int

    @property
    def name(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def aspect(self) -> float:
        return self.width / self.height

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)

    def __str__(self) -> str:
        return self.name


IAB_SIZES: tuple[Size, ...] = (
    Size(300, 250),  # medium rectangle
    Size(336, 280),  # large rectangle
    Size(728, 90),  # leaderboard
    Size(970, 250),  # billboard
    Size(160, 600),  # wide skyscraper
    Size(300, 600),  # half page
    Size(320, 50),  # mobile banner
    Size(320, 100),  # large mobile banner
)
SOCIAL_SIZES: tuple[Size, ...] = (
    Size(1080, 1080),  # square feed post
    Size(1200, 628),  # link / landscape feed
    Size(1080, 1920),  # story / reel
)
ALL_SIZES: tuple[Size, ...] = IAB_SIZES + SOCIAL_SIZES
SIZE_GROUPS: dict[str, tuple[Size, ...]] = {"all": ALL_SIZES, "iab": IAB_SIZES, "social": SOCIAL_SIZES}

# Custom sizes are allowed inside these bounds; beyond them a banner is not a banner.
MIN_SIDE = 32
MAX_SIDE = 4096
MAX_ASPECT = 12.0

# Aspect classes, from widest to tallest; a template gives one layout per class (or falls back).
ASPECT_CLASSES: tuple[tuple[str, float], ...] = (
    ("strip", 5.0),  # aspect >= 5: 728x90, 320x50
    ("banner", 2.4),  # 970x250, 320x100
    ("wide", 1.4),  # 1200x628
    ("square", 0.8),  # 300x250, 336x280, 1080x1080
    ("tall", 0.42),  # 300x600, 1080x1920
    ("skyscraper", 0.0),  # 160x600
)
ASPECT_CLASS_NAMES: tuple[str, ...] = tuple(name for name, _ in ASPECT_CLASSES)
# When a template has no layout for a class, the nearest class towards square is used.
FALLBACK: dict[str, tuple[str, ...]] = {
    "strip": ("strip", "banner", "wide", "square"),
    "banner": ("banner", "wide", "strip", "square"),
    "wide": ("wide", "square", "banner"),
    "square": ("square", "wide", "tall"),
    "tall": ("tall", "square", "skyscraper"),
    "skyscraper": ("skyscraper", "tall", "square"),
}

_SIZE_RE = re.compile(r"^\s*(\d{1,6})\s*[xX×]\s*(\d{1,6})\s*$")


def aspect_class(size: Size) -> str:
    for name, lower in ASPECT_CLASSES:
        if size.aspect >= lower:
            return name
    return ASPECT_CLASSES[-1][0]


def parse_size(text: str) -> Size:
    """Parse 'WxH' and check it is a usable banner size; raises SizeError with the allowed range."""
    match = _SIZE_RE.match(str(text))
    if not match:
        raise SizeError(f"size {text!r} is not WIDTHxHEIGHT in pixels, e.g. 300x250; known sizes: {', '.join(s.name for s in ALL_SIZES)}")
    size = Size(int(match.group(1)), int(match.group(2)))
    if not (MIN_SIDE <= size.width <= MAX_SIDE and MIN_SIDE <= size.height <= MAX_SIDE):
        raise SizeError(f"size {size.name} is out of range: each side must be {MIN_SIDE}..{MAX_SIDE} px")
    if max(size.aspect, 1 / size.aspect) > MAX_ASPECT:
        raise SizeError(f"size {size.name} is too elongated: the aspect ratio must be at most {MAX_ASPECT:g}:1")
    return size


def parse_sizes(values: str | list[str] | tuple[str, ...]) -> tuple[Size, ...]:
    """Parse comma-separated or repeated sizes and the groups 'all', 'iab', 'social'; keeps order, drops repeats."""
    items = [values] if isinstance(values, str) else list(values)
    out: list[Size] = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            group = SIZE_GROUPS.get(part.lower())
            for size in group if group else (parse_size(part),):
                if size not in out:
                    out.append(size)
    if not out:
        raise SizeError("no size given; pass --sizes all or e.g. --sizes 300x250,728x90")
    return tuple(out)
