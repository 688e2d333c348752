"""Colour: WCAG 2.x contrast, text colour and scrim choice against the pixels under the text, and
colour roles (accent, tint, paper, dark) drawn from the product and logo palettes.

Pixel arrays come in as numpy uint8 HxWx3; nothing here draws.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

RGB = tuple[int, int, int]

WHITE: RGB = (255, 255, 255)
INK: RGB = (17, 17, 17)  # near-black reads softer than #000 and still gives 18.9:1 on white
NORMAL_TEXT_CONTRAST = 4.5  # WCAG 1.4.3 AA
LARGE_TEXT_CONTRAST = 3.0  # large text: >= 24 px, or >= 18.66 px bold
# Worst-case pixels: ignore the most extreme 1% (antialiasing, specks) at each end.
PERCENTILE = 1.0
SCRIM_ALPHAS = (0.35, 0.5, 0.65, 0.8, 0.92, 1.0)
_SAMPLE_PIXELS = 1024


def parse_hex(value: str) -> RGB:
    v = value.strip().lstrip("#")
    if len(v) == 3:
        v = "".join(c * 2 for c in v)
    if len(v) != 6:
        raise ValueError(f"not a #rrggbb colour: {value!r}")
    return (int(v[0:2], 16), int(v[2:4], 16), int(v[4:6], 16))


_LINEAR = np.array([c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (np.arange(256) / 255.0)])


# Per-channel weighted tables: `_LR[r] + _LG[g] + _LB[b]` is bit for bit the luminance below.
_LR, _LG, _LB = 0.2126 * _LINEAR, 0.7152 * _LINEAR, 0.0722 * _LINEAR
_REL_LUM: dict[tuple, float] = {}


def relative_luminance(rgb: Sequence[float]) -> float:
    key = tuple(rgb[:3])
    hit = _REL_LUM.get(key)
    if hit is None:
        lin = [_LINEAR[int(round(c))] for c in key]  # numpy scalars, as callers always got
        hit = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
        if len(_REL_LUM) < 65536:
            _REL_LUM[key] = hit
    return hit


def contrast_ratio(lum_a: float, lum_b: float) -> float:
    hi, lo = max(lum_a, lum_b), min(lum_a, lum_b)
    return (hi + 0.05) / (lo + 0.05)


def contrast(a: Sequence[int], b: Sequence[int]) -> float:
    return contrast_ratio(relative_luminance(a), relative_luminance(b))


def required_contrast(size_px: float, bold: bool) -> float:
    """WCAG threshold for text at this pixel size (1 CSS px taken as 1 banner px)."""
    large = size_px >= 24 or (bold and size_px >= 18.66)
    return LARGE_TEXT_CONTRAST if large else NORMAL_TEXT_CONTRAST


def sample(pixels: np.ndarray) -> np.ndarray:
    """A strided subsample (at most ~4k pixels) as float Nx3; enough for percentiles."""
    h, w = pixels.shape[:2]
    step = max(1, int(np.sqrt(h * w / _SAMPLE_PIXELS)))
    return pixels[::step, ::step, :3].reshape(-1, 3).astype(np.float32)


def luminances(rgb: np.ndarray) -> np.ndarray:
    idx = np.clip(np.rint(rgb), 0, 255).astype(np.intp)
    # elementwise, not `@`: a BLAS call per tiny array spins threads and stalls when processes share cores
    return 0.2126 * _LINEAR[idx[..., 0]] + 0.7152 * _LINEAR[idx[..., 1]] + 0.0722 * _LINEAR[idx[..., 2]]


def luminance_range(background_lums: np.ndarray) -> tuple[float, float]:
    """The darkest and lightest background luminance, ignoring the extreme PERCENTILE at each end."""
    lums = np.asarray(background_lums)
    if lums.ndim != 1 or lums.dtype != np.float64 or lums.size < 2:
        lo, hi = np.percentile(background_lums, [PERCENTILE, 100 - PERCENTILE])
        return float(lo), float(hi)
    return _percentile_pair(np.sort(lums))


_Q = (PERCENTILE / 100, (100 - PERCENTILE) / 100)


def _percentile_pair(ordered: np.ndarray) -> tuple[float, float]:
    """np.percentile(..., [PERCENTILE, 100 - PERCENTILE]) ('linear') of a sorted float64 array, bit for
    bit: the same virtual index, neighbours and lerp as numpy, without its per-call overhead."""
    n = ordered.shape[0]
    out = []
    for q in _Q:
        virtual = (n - 1) * q
        if virtual >= n - 1:
            out.append(float(ordered[-1]))
            continue
        prev = math.floor(virtual)
        gamma = virtual - prev
        a, b = float(ordered[prev]), float(ordered[prev + 1])
        diff = b - a
        out.append(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma)
    return out[0], out[1]


def worst_contrast(text_lum: float, background_lums: np.ndarray | tuple[float, float]) -> float:
    """Contrast of the text against the least favourable background pixel (robust percentiles)."""
    lo, hi = background_lums if isinstance(background_lums, tuple) else luminance_range(background_lums)
    if lo <= text_lum <= hi:
        return 1.0
    return float(min(contrast_ratio(float(text_lum), float(lo)), contrast_ratio(float(text_lum), float(hi))))


def _mean32(a: np.ndarray):
    """a.mean() of a float32 array, as numpy computes it (float32 sum, divided in float32)."""
    total = np.add.reduce(a, axis=None)
    return total.dtype.type(total / a.size)


def busyness(pixels: np.ndarray) -> float:
    """Mean luminance gradient (0..1) under a text box: PosterLayout's readability term."""
    if pixels.shape[0] < 2 or pixels.shape[1] < 2:
        return 0.0
    h, w = pixels.shape[:2]
    step = max(1, int(np.sqrt(h * w / (4 * _SAMPLE_PIXELS))))
    px = pixels[::step, ::step, :3].astype(np.float32)
    lum = (0.2126 / 255) * px[..., 0] + (0.7152 / 255) * px[..., 1] + (0.0722 / 255) * px[..., 2]
    # lum[1:] - lum[:-1] is exactly np.diff, and _mean32 exactly .mean(), without their wrappers
    gy = _mean32(np.abs(lum[1:] - lum[:-1])) if lum.shape[0] > 1 else 0.0
    gx = _mean32(np.abs(lum[:, 1:] - lum[:, :-1])) if lum.shape[1] > 1 else 0.0
    return float(gx + gy) / 2


@dataclass(frozen=True)
class TextColour:
    """The colour chosen for a text block, and a scrim under it when the pixels demanded one."""

    text: RGB
    scrim: tuple[int, int, int, int] | None  # RGBA, alpha 0..255
    contrast: float  # worst case against the pixels under the text, scrim included
    required: float
    busyness: float


def choose_text_colour(
    pixels: np.ndarray,
    candidates: Iterable[RGB],
    required: float,
    *,
    scrim: str = "auto",
    brand_margin: float = 1.3,
) -> TextColour:
    """Pick the first brand candidate that clears the WCAG threshold with margin, else ink or white,
    else add the lightest scrim that makes ink or white pass. `scrim='always'` forces an underlay."""
    if pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] >= 3 and pixels.shape[0] * pixels.shape[1] >= 2:
        # Fast path for 8-bit pixels: the same sample and luminances as below, looked up straight from
        # the uint8 values (float32 of a uint8 is that integer, so rint/clip are no-ops).
        h, w = pixels.shape[:2]
        step = max(1, int(np.sqrt(h * w / _SAMPLE_PIXELS)))
        raw = pixels[::step, ::step, :3].reshape(-1, 3)
        sampled_lums = _LR[raw[:, 0]] + _LG[raw[:, 1]] + _LB[raw[:, 2]]
        lums = _percentile_pair(np.sort(sampled_lums))
        px = None
    else:
        raw = None
        px = sample(pixels)
        sampled_lums = luminances(px)
        lums = luminance_range(sampled_lums)
    busy = busyness(pixels)
    if scrim != "always":
        for colour in candidates:
            c = worst_contrast(relative_luminance(colour), lums)
            if c >= required * brand_margin:
                return TextColour(colour, None, c, required, busy)
        best = max((INK, WHITE), key=lambda col: worst_contrast(relative_luminance(col), lums))
        c = worst_contrast(relative_luminance(best), lums)
        if c >= required or scrim == "never":
            return TextColour(best, None, c, required, busy)
    # Scrim search on the two extreme pixels (mixing keeps their luminance order), then the final
    # contrast is measured on every sampled pixel under the scrim.
    if px is None:
        px = raw.astype(np.float32)
    all_lums = sampled_lums
    order = np.argsort(all_lums)
    k = int(round((len(order) - 1) * PERCENTILE / 100))
    extremes = px[[order[k], order[len(order) - 1 - k]]]
    options: list[tuple[float, RGB, RGB]] = []
    for text, under in ((WHITE, (0, 0, 0)), (INK, (255, 255, 255))):
        text_lum = relative_luminance(text)
        for alpha in SCRIM_ALPHAS:
            mixed = luminances(extremes * (1 - alpha) + np.array(under, dtype=np.float32) * alpha)
            if worst_contrast(text_lum, (float(mixed.min()), float(mixed.max()))) >= required:
                options.append((alpha, text, under))
                break
    for alpha, text, under in sorted(options, key=lambda o: o[0]) + [(1.0, WHITE, (0, 0, 0))]:
        mixed = px * (1 - alpha) + np.array(under, dtype=np.float32) * alpha
        c = worst_contrast(relative_luminance(text), luminances(mixed))
        if c >= required:
            return TextColour(text, (*under, round(alpha * 255)), c, required, busy)
    raise AssertionError("an opaque scrim always gives 21:1 or 18.9:1")


def saturation_value(rgb: RGB) -> tuple[float, float, float]:
    return colorsys.rgb_to_hsv(*(c / 255 for c in rgb))


def accent(palette: Sequence[RGB], fallback: RGB = (214, 40, 57)) -> RGB:
    """The most saturated, mid-bright palette colour: for buttons, badges and panels."""
    best, score = fallback, 0.25
    for colour in palette:
        _, s, v = saturation_value(colour)
        if 0.25 <= v <= 0.95 and s * (1 - abs(v - 0.6)) > score:
            best, score = colour, s * (1 - abs(v - 0.6))
    return best


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(round(x * (1 - t) + y * t) for x, y in zip(a, b))  # type: ignore[return-value]


def role_colour(role: str, palette: Sequence[RGB]) -> RGB:
    """A colour for a template role: accent, primary (first palette colour), tint, paper, dark, light."""
    acc = accent(palette)
    if role == "accent":
        return acc
    if role == "primary":
        return palette[0] if palette else acc
    if role == "tint":
        return mix(acc, WHITE, 0.86)
    if role == "paper":
        return (248, 246, 242)
    if role == "light":
        return mix(acc, WHITE, 0.6)
    if role == "dark":
        return mix(acc, (0, 0, 0), 0.72)
    raise ValueError(f"unknown colour role {role!r}")


def brand_text_candidates(palette: Sequence[RGB]) -> list[RGB]:
    """Palette colours saturated and dark or light enough to be a headline colour."""
    out = []
    for colour in palette:
        _, s, v = saturation_value(colour)
        if s >= 0.35 and (v <= 0.55 or v >= 0.95):
            out.append(colour)
    return out


_FAMILIES = ((15, "red"), (40, "orange"), (70, "yellow"), (160, "green"), (200, "cyan"), (255, "blue"), (290, "purple"), (335, "pink"), (360, "red"))


def colour_family(rgb: RGB) -> str:
    """A coarse, human name for a colour, used as a creative attribute experiments can learn from."""
    h, s, v = saturation_value(rgb)
    if v < 0.2:
        return "black"
    if s < 0.15:
        return "white" if v > 0.85 else "grey"
    hue = h * 360
    return next(name for limit, name in _FAMILIES if hue < limit)
