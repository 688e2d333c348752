"""Inline SVG charts drawn on the server: no JavaScript, no chart library, escaped labels."""

from __future__ import annotations

from html import escape
from typing import Mapping, Sequence

from markupsafe import Markup

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d")


def line_chart(series: Mapping[str, Sequence[tuple[float, float]]], *, title: str, y_label: str, chart_id: str,
               width: int = 640, height: int = 260, y_max: float | None = None, percent: bool = False,
               markers: Sequence[tuple[float, str]] = ()) -> Markup:
    """One polyline per series over x = round number; `markers` label rounds (decisions)."""
    left, right, top, bottom = 56, 150, 28, 36
    pw, ph = width - left - right, height - top - bottom
    xs = [x for pts in series.values() for x, _ in pts] or [1]
    ys = [y for pts in series.values() for _, y in pts] or [0]
    x0, x1 = min(xs), max(max(xs), min(xs) + 1)
    y1 = y_max if y_max is not None else max(max(ys) * 1.1, 1e-9)

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + ph - min(y, y1) / y1 * ph

    def fmt(y: float) -> str:
        return f"{100 * y:.1f}%" if percent else f"{y:.2g}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{escape(title)}" data-points="{sum(len(p) for p in series.values())}">',
             f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>']
    for i in range(5):
        y = y1 * i / 4
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" class="grid"/>'
                     f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" text-anchor="end" class="tick">{fmt(y)}</text>')
    for x in sorted(set(int(v) for v in xs)):
        parts.append(f'<text x="{sx(x):.1f}" y="{top + ph + 16}" text-anchor="middle" class="tick">{x}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 4}" text-anchor="middle" class="tick">round</text>'
                 f'<text x="12" y="{top + ph / 2}" transform="rotate(-90 12 {top + ph / 2})" text-anchor="middle" class="tick">{escape(y_label)}</text>')
    for x, label in markers:
        parts.append(f'<line x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{top}" y2="{top + ph}" class="marker"/>'
                     f'<text x="{sx(x) + 3:.1f}" y="{top + 10}" class="marker-label">{escape(label)}</text>')
    for i, (name, pts) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        pts = sorted(pts)
        if len(pts) > 1:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in pts:
            parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colour}" class="point"><title>{escape(name)} round {x:g}: {fmt(y)}</title></circle>')
        ly = top + 12 + i * 16
        short = name if len(name) <= 18 else name[:17] + "…"
        parts.append(f'<rect x="{left + pw + 10}" y="{ly - 9}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{left + pw + 24}" y="{ly}" class="legend">{escape(short)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(bars: Sequence[tuple[str, float]], *, title: str, chart_id: str, width: int = 640, bar_height: int = 18) -> Markup:
    left, top = 180, 28
    height = top + len(bars) * (bar_height + 6) + 10
    top_value = max((v for _, v in bars), default=1) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<text x="4" y="16" class="chart-title">{escape(title)}</text>']
    for i, (label, value) in enumerate(bars):
        y = top + i * (bar_height + 6)
        w = (width - left - 60) * value / top_value
        parts.append(f'<text x="{left - 6}" y="{y + bar_height - 5}" text-anchor="end" class="legend">{escape(label[:28])}</text>'
                     f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_height}" fill="{PALETTE[0]}"/>'
                     f'<text x="{left + w + 4:.1f}" y="{y + bar_height - 5}" class="tick">{value:g}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
