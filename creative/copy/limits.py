"""Length and pixel-width limits for copy: the one place that knows how long a title or article may be."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from creative.fonts import font_for_text, is_cjk

_CJK_CHAR = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’.-][A-Za-z0-9]+)*")


@dataclass(frozen=True)
class LengthLimit:
    """A slot's text budget: characters (each CJK character counts one) and optional pixel width."""

    name: str
    max_chars: int
    min_chars: int = 4
    font_size: int = 48
    max_width_px: int | None = None
    weight: str = "bold"


HEADLINE = LengthLimit("headline", max_chars=30, min_chars=4, font_size=48, max_width_px=760)
LONG_HEADLINE = LengthLimit("long_headline", max_chars=90, min_chars=10, font_size=32, max_width_px=1400)
LIMITS = {limit.name: limit for limit in (HEADLINE, LONG_HEADLINE)}

# Long-form copy: words for English, characters for Chinese.
ARTICLE_WORDS = (150, 400)
ARTICLE_ZH_CHARS = (300, 800)


def char_length(text: str) -> int:
    """Characters as a reader sees them: collapsed whitespace, one per CJK character."""
    return len(" ".join(text.split()))


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def cjk_count(text: str) -> int:
    return len(_CJK_CHAR.findall(text))


def article_length(text: str, language: str) -> tuple[int, tuple[int, int], str]:
    """(measured length, allowed range, unit) of an article body in its language's unit."""
    if language == "zh":
        return cjk_count(text), ARTICLE_ZH_CHARS, "characters"
    return word_count(text), ARTICLE_WORDS, "words"


@lru_cache(maxsize=16)
def _font(path: str, index: int, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(path, size, index=index)


def pixel_width(text: str, font_size: int, weight: str = "bold") -> int:
    """Rendered width in pixels of one line with the font the compositor picks for this text."""
    font_file = font_for_text(text, weight)
    return int(round(_font(str(font_file.path), font_file.index, font_size).getlength(text)))


__all__ = ["LengthLimit", "HEADLINE", "LONG_HEADLINE", "LIMITS", "ARTICLE_WORDS", "ARTICLE_ZH_CHARS",
           "char_length", "word_count", "cjk_count", "article_length", "pixel_width", "is_cjk"]
