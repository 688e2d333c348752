"""The review gallery: one static index.html next to the banners, grouped by template and size."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from layouts.sizes import ALL_SIZES

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(["html", "j2"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_SIZE_ORDER = {s.name: i for i, s in enumerate(ALL_SIZES)}


def _size_key(name: str) -> tuple:
    w, _, h = name.partition("x")
    return (_SIZE_ORDER.get(name, 99), int(w) if w.isdigit() else 0, int(h) if h.isdigit() else 0)


def gallery_context(manifest: dict) -> dict:
    groups: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for c in manifest["creatives"]:
        groups[c["template"]][c["size"]].append(c)
    sizes = sorted({c["size"] for c in manifest["creatives"]} | {r["size"] for r in manifest["rejected"]}, key=_size_key)
    templates = sorted(set(groups) | {r["template"] for r in manifest["rejected"]})
    counts = {t: {s: len(groups[t][s]) for s in sizes} for t in templates}
    rejected = defaultdict(lambda: defaultdict(int))
    for r in manifest["rejected"]:
        rejected[r["template"]][r["size"]] += 1
    hard = sum(len(c["violations"]) for c in manifest["creatives"])
    return {
        "m": manifest,
        "templates": templates,
        "sizes": sizes,
        "groups": {t: [(s, groups[t][s]) for s in sorted(groups[t], key=_size_key)] for t in templates},
        "counts": counts,
        "rejected_counts": rejected,
        "hard": hard,
    }


def write_gallery(path: Path, manifest: dict) -> None:
    html = _ENV.get_template("gallery.html.j2").render(**gallery_context(manifest))
    path.write_text(html, encoding="utf-8")
