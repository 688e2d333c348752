"""Brand kits: what a brand asks of every banner and title made for it (colours, a font, tone and banned words).

A kit is checked whole before anything is stored (one bad field stores nothing) and keyed by the
case-folded brand name, so "Northwind" in a catalog and "northwind" typed at the CLI are one brand.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from sqlalchemy import Engine, delete, select

from creative.errors import BrandKitNotFound, BrandKitRejected
from creative.fonts import available_fonts
from creative.tables import brand_kits as kits_table
from creative.text import unsafe_character

MAX_NAME = 200
MAX_WORD = 60  # characters in one tone or banned word (a short phrase such as "best ever")
MAX_TONE_WORDS = 12
MAX_BANNED_WORDS = 200
FIELDS = ("name", "primary", "accent", "font", "tone", "banned")
_HEX = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass(frozen=True)
class BrandKit:
    name: str
    primary: str | None = None  # #rrggbb, lower case
    accent: str | None = None
    font: str | None = None  # a face creative.fonts can find (see available_fonts)
    tone: tuple[str, ...] = ()
    banned: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return brand_key(self.name)

    @property
    def colours(self) -> tuple[str, ...]:
        """The kit's colours, primary first (empty when it sets none)."""
        return tuple(c for c in (self.primary, self.accent) if c)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tone"], data["banned"] = list(self.tone), list(self.banned)
        return data


def brand_key(name: str | None) -> str:
    """How brands compare everywhere: case and surrounding spaces do not make another brand."""
    return (name or "").strip().casefold()


def _bad(name: str, why: str) -> BrandKitRejected:
    return BrandKitRejected(f"brand kit {name!r}: {why}; nothing was stored — fix it and set the kit again")


def _name(value: Any) -> str:
    name = str(value or "").strip()
    if not name:
        raise BrandKitRejected("a brand kit needs the brand's name (as the catalog spells it); nothing was stored")
    if len(name) > MAX_NAME:
        raise _bad(name[:40] + "…", f"the name is {len(name)} characters, over {MAX_NAME}")
    bad = unsafe_character(name)
    if bad:
        raise _bad(name, f"the name contains {bad}; remove it")
    return name


def _colour(name: str, field: str, value: Any) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if not _HEX.fullmatch(text):
        raise _bad(name, f"{field} colour {text[:40]!r} is not a #rrggbb hex colour (e.g. #0a3d62)")
    return text.lower()


def _font(name: str, value: Any) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    known = available_fonts()
    if text not in known:
        raise _bad(name, f"font {text[:60]!r} is not an installed font; use one of {', '.join(sorted(known))}")
    return text


def _words(name: str, field: str, value: Any, most: int) -> tuple[str, ...]:
    """A list, or one comma-separated string; spaces trimmed, repeats (any case) dropped."""
    if value is None:
        return ()
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        raise _bad(name, f"{field} must be a list of words or one comma-separated string, not {type(value).__name__}")
    words: dict[str, str] = {}
    for item in items:
        if not isinstance(item, str):
            raise _bad(name, f"{field} holds {item!r}, which is not text")
        word = " ".join(item.split())
        if not word:
            continue
        bad = unsafe_character(item)
        if bad:
            raise _bad(name, f"{field} word {word[:40]!r} contains {bad}; remove it")
        if len(word) > MAX_WORD:
            raise _bad(name, f"{field} word {word[:40]!r}… is {len(word)} characters, over {MAX_WORD}")
        words.setdefault(word.casefold(), word)
    if len(words) > most:
        raise _bad(name, f"{field} has {len(words)} words, over {most}")
    return tuple(words.values())


def parse_kit(data: Mapping[str, Any]) -> BrandKit:
    """A checked kit from plain data (a JSON object, CLI options): unknown fields are refused, not ignored."""
    if not isinstance(data, Mapping):
        raise BrandKitRejected(f"a brand kit is an object with {', '.join(FIELDS)}, not {type(data).__name__}; nothing was stored")
    name = _name(data.get("name"))
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise _bad(name, f"unknown field(s) {', '.join(map(repr, unknown))}; a kit has {', '.join(FIELDS)}")
    return BrandKit(name=name, primary=_colour(name, "primary", data.get("primary")), accent=_colour(name, "accent", data.get("accent")),
                    font=_font(name, data.get("font")), tone=_words(name, "tone", data.get("tone"), MAX_TONE_WORDS),
                    banned=_words(name, "banned", data.get("banned"), MAX_BANNED_WORDS))


def _row(kit: BrandKit, now: datetime) -> dict[str, Any]:
    return {"brand_key": kit.key, "name": kit.name, "primary_colour": kit.primary, "accent_colour": kit.accent, "font": kit.font,
            "tone": list(kit.tone), "banned": list(kit.banned), "updated_at": now}


def _kit(row: Any) -> BrandKit:
    return BrandKit(name=row.name, primary=row.primary_colour, accent=row.accent_colour, font=row.font,
                    tone=tuple(row.tone), banned=tuple(row.banned))


def save_kits(engine: Engine, kits: list[BrandKit]) -> list[BrandKit]:
    """Store (replace) every kit in one transaction."""
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        for kit in kits:
            conn.execute(delete(kits_table).where(kits_table.c.brand_key == kit.key))
            conn.execute(kits_table.insert().values(**_row(kit, now)))
    return kits


def set_kit(engine: Engine, name: str, **changes: Any) -> BrandKit:
    """Create a brand's kit or change the fields given (the others keep their value); checked before storing."""
    current = find_kit(engine, _name(name))
    data = current.to_json() if current else {}
    data.update({k: v for k, v in changes.items() if v is not None}, name=current.name if current else name)
    return save_kits(engine, [parse_kit(data)])[0]


def import_kits(engine: Engine, path: Path) -> list[BrandKit]:
    """Every kit of a JSON file (an array of kit objects, or {"brands": [...]}) in one transaction; a bad one stores nothing."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise BrandKitRejected(f"{path}: cannot read the file ({exc.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BrandKitRejected(f"{path}: not a UTF-8 JSON file ({str(exc).splitlines()[0]}); nothing was stored") from None
    if isinstance(data, dict) and "brands" in data:
        data = data["brands"]
    if not isinstance(data, list):
        raise BrandKitRejected(f"{path}: expected a JSON array of brand kits (or {{\"brands\": [...]}}); nothing was stored")
    kits: dict[str, BrandKit] = {}
    for i, item in enumerate(data, start=1):
        try:
            kit = parse_kit(item)
        except BrandKitRejected as exc:
            raise BrandKitRejected(f"{path}: kit {i}: {exc}") from None
        if kit.key in kits:
            raise BrandKitRejected(f"{path}: kit {i}: brand {kit.name!r} appears twice; keep one; nothing was stored")
        kits[kit.key] = kit
    return save_kits(engine, list(kits.values()))


def find_kit(engine: Engine, name: str | None) -> BrandKit | None:
    with engine.connect() as conn:
        row = conn.execute(select(kits_table).where(kits_table.c.brand_key == brand_key(name))).first()
    return _kit(row) if row is not None else None


def get_kit(engine: Engine, name: str) -> BrandKit:
    kit = find_kit(engine, name)
    if kit is None:
        raise BrandKitNotFound(f"no brand kit for {name!r}; list them with `creative brands list`")
    return kit


def list_kits(engine: Engine) -> list[BrandKit]:
    with engine.connect() as conn:
        return [_kit(r) for r in conn.execute(select(kits_table).order_by(kits_table.c.brand_key))]


def kits_by_brand(engine: Engine) -> dict[str, BrandKit]:
    """Every kit by brand_key(name): what composition and the copy guardrails look a product's brand up in."""
    return {kit.key: kit for kit in list_kits(engine)}


def remove_kit(engine: Engine, name: str) -> BrandKit:
    kit = get_kit(engine, name)
    with engine.begin() as conn:
        conn.execute(delete(kits_table).where(kits_table.c.brand_key == kit.key))
    return kit
