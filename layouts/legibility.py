"""How small text may be set on a format: one floor per kind of text, the same for every template.

At banner sizes (728x90, 320x50, 300x250) a title needs 14 px and any other text 11 px to be read at
a glance; on large formats the floors grow with the canvas' short side, since a 14 px title on a
1080 px story is as small to the eye as 5 px on a 300x250.
"""

from __future__ import annotations

from layouts.sizes import Size

TITLE_MIN_PX = 14
TEXT_MIN_PX = 11
FLOOR_SHORT_SIDE = 400  # up to this short side the floors hold as they are; above it they scale with it


def min_text_px(kind: str, size: Size) -> int:
    """The smallest legible size of a `kind` of text (title, subtitle, badge, cta) at `size`."""
    base = TITLE_MIN_PX if kind == "title" else TEXT_MIN_PX
    return max(base, round(base * size.short_side / FLOOR_SHORT_SIDE))
