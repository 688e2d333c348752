"""Text fitting without drawing: line breaking (Latin by words, CJK per character with kinsoku rules)
and shrink-to-fit down to a minimum size. Text that cannot fit is rejected, never truncated.

Widths come from a caller-supplied `TextMeasurer`, so this module knows no font library; the
composer passes one backed by cached Pillow fonts, tests may pass a synthetic one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from layouts.errors import TextDoesNotFit

# Kinsoku shori: characters that may not start a line (closing punctuation, small kana, prolonged
# sound mark, iteration marks) and characters that may not end one (opening brackets, currency).
NO_LINE_START = frozenset(
    ")]}〕〉》」』】〙〗〟’”｠»、。，．・：；？！‼⁇⁈⁉ー－ゝゞヽヾ々〻ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶ"
    "ㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ%％‰℃,.:;?!）］｝〜～"
)
NO_LINE_END = frozenset("([{〔〈《「『【〘〖〝‘“｟«（［｛$＄¥￥£€#＃")


def is_cjk_char(ch: str) -> bool:
    """Ideographs, kana, hangul and full-width forms: each is its own break opportunity."""
    o = ord(ch)
    return (
        0x2E80 <= o <= 0x9FFF
        or 0xAC00 <= o <= 0xD7AF
        or 0xF900 <= o <= 0xFAFF
        or 0xFE30 <= o <= 0xFE4F
        or 0xFF00 <= o <= 0xFFEF
        or 0x20000 <= o <= 0x2FFFF
    )


def script_of(text: str) -> str:
    """'cjk' when any character needs a CJK font, else 'latin'; a block uses one font throughout."""
    return "cjk" if any(is_cjk_char(ch) for ch in text) else "latin"


@dataclass(frozen=True)
class FontSpec:
    script: str  # latin | cjk
    weight: str  # regular | bold
    size: int  # pixels


class TextMeasurer(Protocol):
    def width(self, text: str, font: FontSpec) -> float:
        """Advance width of `text` in pixels, as drawn."""

    def ascent_descent(self, font: FontSpec) -> tuple[int, int]:
        """The font's ascent and descent in pixels at this size."""


@dataclass(frozen=True)
class Unit:
    """An unbreakable run: a word, a CJK character with its kinsoku neighbours."""

    text: str
    space_before: bool


@dataclass(frozen=True)
class TextFit:
    """Text set in lines at one size; width/height are the block's extents in pixels."""

    lines: tuple[str, ...]
    font: FontSpec
    line_gap: int  # baseline-to-baseline distance
    ascent: int
    descent: int
    line_widths: tuple[float, ...]
    width: float
    height: float

    @property
    def size(self) -> int:
        return self.font.size


def break_units(text: str) -> list[Unit]:
    """Split text into units that line breaking may not split, applying kinsoku rules."""
    raw: list[Unit] = []
    word = ""
    space = False
    for ch in text:
        if ch.isspace():
            if word:
                raw.append(Unit(word, space))
                word = ""
            space = bool(raw)
            continue
        if is_cjk_char(ch):
            if word:
                raw.append(Unit(word, space))
                word, space = "", False
            raw.append(Unit(ch, space))
            space = False
            continue
        word += ch
        if ch == "-" and len(word) > 1:  # a hyphen is a break opportunity after it
            raw.append(Unit(word, space))
            word, space = "", False
    if word:
        raw.append(Unit(word, space))

    units: list[Unit] = []
    glue_next = False
    for unit in raw:
        if units and not unit.space_before and (glue_next or unit.text[0] in NO_LINE_START):
            prev = units.pop()
            unit = Unit(prev.text + unit.text, prev.space_before)
        units.append(unit)
        glue_next = unit.text[-1] in NO_LINE_END
    return units


def _join(units: list[Unit]) -> str:
    out = ""
    for i, unit in enumerate(units):
        out += (" " if unit.space_before and i else "") + unit.text
    return out


def wrap(units: list[Unit], max_width: float, font: FontSpec, measure: TextMeasurer) -> list[str] | None:
    """Greedy line breaking by summed unit widths; None when one unit alone is wider than the line."""
    space = measure.width(" ", font)
    lines: list[list[Unit]] = []
    current: list[Unit] = []
    width = 0.0
    for unit in units:
        w = measure.width(unit.text, font)
        if w > max_width:
            return None
        extra = w + (space if unit.space_before and current else 0.0)
        if current and width + extra > max_width:
            lines.append(current)
            current, width = [unit], w
        else:
            current.append(unit)
            width += extra
    if current:
        lines.append(current)
    return [_join(line) for line in lines]


def block_height(lines: int, font: FontSpec, line_spacing: float, measure: TextMeasurer) -> tuple[int, int, int, float]:
    """Baseline gap, ascent, descent and total height of a block of `lines` lines."""
    ascent, descent = measure.ascent_descent(font)
    gap = round(font.size * line_spacing)
    return gap, ascent, descent, ascent + descent + (lines - 1) * gap


def _try(units, text, box_w, box_h, font, max_lines, line_spacing, measure, balance) -> TextFit | None:
    lines = wrap(units, box_w, font, measure)
    if lines is None or len(lines) > max_lines:
        return None
    gap, ascent, descent, height = block_height(len(lines), font, line_spacing, measure)
    if height > box_h:
        return None
    if balance and len(lines) > 1:
        lines = _balance(units, lines, box_w, font, measure)
    widths = tuple(measure.width(line, font) for line in lines)
    if max(widths) > box_w:  # kerning across units made a line wider than the sum said
        return None
    return TextFit(tuple(lines), font, gap, ascent, descent, widths, max(widths), height)


def _balance(units: list[Unit], lines: list[str], box_w: float, font: FontSpec, measure: TextMeasurer) -> list[str]:
    """Narrow the measure while the line count holds, so a headline does not end on an orphan."""
    best = lines
    lo, hi = box_w * 0.5, box_w
    for _ in range(6):
        mid = (lo + hi) / 2
        trial = wrap(units, mid, font, measure)
        if trial is not None and len(trial) == len(lines):
            best, hi = trial, mid
        else:
            lo = mid
    return best


def fit_text(
    text: str,
    box_w: float,
    box_h: float,
    measure: TextMeasurer,
    *,
    weight: str = "bold",
    min_size: int = 10,
    max_size: int = 48,
    max_lines: int = 2,
    line_spacing: float = 1.15,
    balance: bool = True,
    what: str = "text",
) -> TextFit:
    """The largest size in [min_size, max_size] at which `text` fits the box; raises TextDoesNotFit."""
    text = " ".join(text.split())
    if not text:
        raise TextDoesNotFit(f"{what} is empty")
    script = script_of(text)
    units = break_units(text)
    max_size = max(min_size, int(max_size))

    def attempt(size: int) -> TextFit | None:
        return _try(units, text, box_w, box_h, FontSpec(script, weight, size), max_lines, line_spacing, measure, balance)

    # Binary search on size (fit is monotone up to kerning noise), then step down to confirm.
    lo, hi = min_size, max_size
    if attempt(lo) is None:
        raise TextDoesNotFit(_reason(text, units, box_w, box_h, min_size, max_lines, weight, script, measure, what))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if attempt(mid) is not None:
            lo = mid
        else:
            hi = mid - 1
    for size in range(lo, min_size - 1, -1):
        fit = attempt(size)
        if fit is not None:
            return fit
    raise TextDoesNotFit(_reason(text, units, box_w, box_h, min_size, max_lines, weight, script, measure, what))


def _reason(text, units, box_w, box_h, min_size, max_lines, weight, script, measure, what) -> str:
    font = FontSpec(script, weight, min_size)
    shown = text if len(text) <= 40 else text[:37] + "..."
    lines = wrap(units, box_w, font, measure)
    where = f"a {box_w:.0f}x{box_h:.0f} px box"
    if lines is None:
        longest = max(units, key=lambda u: measure.width(u.text, font)).text
        return f"{what} {shown!r} does not fit {where}: the word {longest!r} alone is wider than the box at the minimum {min_size} px"
    if len(lines) > max_lines:
        return f"{what} {shown!r} does not fit {where}: it needs {len(lines)} lines at the minimum {min_size} px, at most {max_lines} allowed; shorten it"
    return f"{what} {shown!r} does not fit {where}: {len(lines)} lines at {min_size} px are taller than the box; shorten it"
