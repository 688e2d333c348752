"""Find fonts shipped by PyPI font packages; the only place that knows which files we use.

Latin: Source Sans Pro (Adobe, SIL OFL 1.1; the files carry LICENSE.txt) from `font-source-sans-pro`,
static instances, because variable fonts measure text about 3x slower in FreeType.
CJK regular: WenQuanYi Micro Hei (Apache-2.0 or GPLv3 with font exception) from `paperang-p2-fonts-cjk`;
CJK bold: Noto Sans CJK Bold (SIL OFL 1.1) from `noto-cjk-sans-jp-bold`, a real bold face rather than
a stroked regular one. That file holds every CJK region's glyphs; its default forms are Japanese, so
Chinese text is shaped with the font's `language` (zh-Hans selects the Simplified Chinese forms).
Both CJK faces also cover Latin, so a mixed-script line renders with one font.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from creative.errors import CreativeError


class FontNotFound(CreativeError):
    """No font package that covers the requested script is installed."""


@dataclass(frozen=True)
class FontSource:
    package: str  # importable module name
    pip_name: str
    relative: str  # path inside the package folder
    index: int = 0  # face index inside a .ttc collection
    language: str | None = None  # the OpenType language to shape with (locl forms of a pan-CJK font)


_FONTS: dict[tuple[str, str], FontSource] = {
    ("latin", "regular"): FontSource("font_source_sans_pro", "font-source-sans-pro", "files/SourceSansPro-Regular.ttf"),
    ("latin", "bold"): FontSource("font_source_sans_pro", "font-source-sans-pro", "files/SourceSansPro-Bold.ttf"),
    ("cjk", "regular"): FontSource("paperang_p2_fonts_cjk", "paperang-p2-fonts-cjk", "fonts/wqy-microhei.ttc"),
    ("cjk", "bold"): FontSource("noto_cjk_sans_jp_bold", "noto-cjk-sans-jp-bold", "NotoSansCJKjp-Bold.otf", language="zh-Hans"),
}


@dataclass(frozen=True)
class FontFile:
    path: Path
    index: int
    script: str
    weight: str
    language: str | None = None


def is_cjk(text: str) -> bool:
    """True when the text holds any CJK ideograph, kana or full-width punctuation."""
    return any(
        "\u3000" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\uff00" <= ch <= "\uffef" for ch in text
    )


@cache
def find_font(script: str = "latin", weight: str = "regular") -> FontFile:
    """Locate the font file for a script ('latin' or 'cjk') and weight ('regular' or 'bold')."""
    try:
        source = _FONTS[(script, weight)]
    except KeyError:
        raise FontNotFound(f"no font is configured for script={script!r} weight={weight!r}; use latin|cjk and regular|bold") from None
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
        raise FontNotFound(f"the {script} font is missing: run `pip install {source.pip_name}`")
    path = Path(next(iter(spec.submodule_search_locations))) / source.relative
    if not path.is_file():
        raise FontNotFound(f"{source.pip_name} is installed but {path} is missing: reinstall it with `pip install --force-reinstall {source.pip_name}`")
    return FontFile(path=path, index=source.index, script=script, weight=weight, language=source.language)


def available_fonts() -> dict[str, FontFile]:
    """Every configured face that is installed, by its file's stem (the names a brand kit may choose)."""
    found = {}
    for script, weight in _FONTS:
        try:
            font = find_font(script, weight)
        except FontNotFound:
            continue
        found[font.path.stem] = font
    return found


def font_for_text(text: str, weight: str = "regular") -> FontFile:
    return find_font("cjk" if is_cjk(text) else "latin", weight)
