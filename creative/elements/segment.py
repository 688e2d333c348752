"""Where a product is in its photo: a GrabCut foreground mask, and a subject box for smart crops.

Both run on a copy of at most SEGMENT_SIDE pixels a side, so their memory and time do not grow with
the upload. GrabCut is seeded from the border model: the border strip is sure background, pixels
whose colour is far from every border colour are probable foreground, the rest probable background.
A border colour seen only along a short stretch of the frame is taken for the product running into it,
not for background. The mask is used as a cut-out only when it looks like one product clear of the frame
(`Segmentation.trusted`); the subject box comes from that mask when it holds one object, else from
spectral-residual saliency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

Box = tuple[float, float, float, float]  # relative (left, top, right, bottom)

SEGMENT_SIDE = 512  # the long side GrabCut and saliency work at: ~0.5 s and a few MB whatever the upload
GRABCUT_ITERATIONS = 4
BORDER_SHARE = 0.02  # the sure-background strip, as a share of the short side
BORDER_COLOURS = 6  # k-means clusters of the border pixels: a gradient or a texture has several colours
SEED_DISTANCE = 40.0  # RGB distance from the nearest border colour that seeds probable foreground
PERIMETER_SEGMENTS = 8  # per side: where along the frame each border colour is seen
SEGMENT_PRESENCE = 0.1  # a colour is seen in a segment when it holds this share of its pixels
MIN_BORDER_COVERAGE = 0.25  # a background colour is seen along more than this share of the frame
# A trusted cut-out: the foreground is a plausible share of the photo, one object (specks and small
# parts such as a teapot's handle allowed), clear of the frame, and of colours the border does not have.
MIN_FOREGROUND, MAX_FOREGROUND = 0.02, 0.8
SPECK_SHARE = 0.01  # components under this share of the foreground are noise, dropped
MIN_DOMINANT = 0.75  # the largest component's share of what is left
MAX_EDGE_TOUCH = 0.01  # share of the frame's outer pixels that may be foreground
MIN_CONTRAST = SEED_DISTANCE / 2  # median distance of foreground pixels from the border colours
SALIENCY_SIDE = 64  # spectral residual works on a thumbnail (Hou & Zhang 2007)
MAX_SUBJECT_AREA = 0.9  # a subject box this large says nothing: no smart crop


@dataclass(frozen=True)
class Segmentation:
    """GrabCut's answer on the small copy: the cleaned foreground, its box, and whether to cut it out."""

    foreground: np.ndarray  # bool, at the small copy's size
    box: Box | None  # the foreground's box when it is one object, else None
    trusted: bool
    reason: str  # why it is not trusted ("" when it is)


def small_rgb(img: Image.Image, side: int = SEGMENT_SIDE) -> np.ndarray:
    """An RGB copy of at most `side` pixels a side (reduce() first: a large image is never copied whole)."""
    factor = max(1, max(img.size) // (2 * side))
    small = img.reduce(factor) if factor > 1 else img
    small = small.convert("RGB")
    small.thumbnail((side, side), Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(small))


def _border_strip(h: int, w: int) -> int:
    return max(3, round(min(h, w) * BORDER_SHARE))


def _strips(a: np.ndarray, b: int) -> list[np.ndarray]:
    """The four border strips of `a` (top, right, bottom, left) as (depth, along the side) views, outermost row first."""
    return [a[:b], np.swapaxes(a[:, ::-1][:, :b], 0, 1), a[::-1][:b], np.swapaxes(a[:, :b], 0, 1)]


@dataclass(frozen=True)
class BorderModel:
    """The border's dominant colours, and which of them are the background: a colour seen only along a short
    stretch of the frame, unlike the colours seen all round, is something running into the frame."""

    centres: np.ndarray  # (k, 3) float32
    labels: np.ndarray  # the border strip's pixels' cluster, as an (h, w) int array (-1 inside)
    background: np.ndarray  # (k,) bool


def border_model(rgb: np.ndarray, b: int) -> BorderModel:
    import cv2  # here, not at the top: importing OpenCV costs ~36 MB of RSS, paid only by photos that need it

    h, w = rgb.shape[:2]
    inside = np.zeros((h, w), dtype=bool)
    inside[b:h - b, b:w - b] = True
    pixels = rgb[~inside].astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_MAX_ITER + cv2.TERM_CRITERIA_EPS, 10, 1.0)
    cv2.setRNGSeed(0)  # the same photo always gets the same cut-out
    _, labels, centres = cv2.kmeans(pixels, BORDER_COLOURS, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    grid = np.full((h, w), -1, dtype=np.int32)
    grid[~inside] = labels.ravel()
    seen = np.zeros((BORDER_COLOURS, 4 * PERIMETER_SEGMENTS), dtype=bool)
    for side, strip in enumerate(_strips(grid, b)):
        for i, segment in enumerate(np.array_split(strip, PERIMETER_SEGMENTS, axis=1)):
            counts = np.bincount(segment[segment >= 0].ravel(), minlength=BORDER_COLOURS)
            seen[:, side * PERIMETER_SEGMENTS + i] = counts >= SEGMENT_PRESENCE * segment.size
    background = seen.mean(axis=1) > MIN_BORDER_COVERAGE
    if not background.any():
        background[:] = True
    near = np.linalg.norm(centres[:, None] - centres[None, :], axis=2) <= SEED_DISTANCE
    while True:  # a colour close to a background colour is background too (the steps of a gradient)
        grown = near[:, background].any(axis=1) | background
        if (grown == background).all():
            return BorderModel(centres, grid, background)
        background = grown


def border_distance(rgb: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Each pixel's RGB distance to the nearest of `centres` (the background's colours)."""
    pixels = rgb.astype(np.float32)
    nearest = np.full(rgb.shape[:2], np.inf, dtype=np.float32)
    for centre in centres:
        np.minimum(nearest, ((pixels - centre) ** 2).sum(axis=2), out=nearest)
    return np.sqrt(nearest)


def _box(mask: np.ndarray) -> Box | None:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    h, w = mask.shape
    return (cols[0] / w, rows[0] / h, (cols[-1] + 1) / w, (rows[-1] + 1) / h)


def _untrusted(foreground: np.ndarray, reason: str, box: Box | None = None) -> Segmentation:
    return Segmentation(foreground, box, False, reason)


def grabcut(rgb: np.ndarray) -> Segmentation:
    """GrabCut seeded by the border model, then the checks that decide whether it is a cut-out."""
    import cv2

    h, w = rgb.shape[:2]
    b = _border_strip(h, w)
    model = border_model(rgb, b)
    distance = border_distance(rgb, model.centres[model.background])
    mask = np.where(distance > SEED_DISTANCE, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    mask[model.labels >= 0] = np.where(model.background[model.labels[model.labels >= 0]], cv2.GC_BGD, cv2.GC_PR_FGD)
    nothing = np.zeros((h, w), dtype=bool)
    if not (mask == cv2.GC_PR_FGD).any():
        return _untrusted(nothing, "no colour apart from the border's")
    models = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(rgb, mask, None, models[0], models[1], GRABCUT_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    foreground = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    total = int(foreground.sum())
    if total == 0:
        return _untrusted(nothing, "no foreground found")
    labels, count = ndimage.label(foreground, structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    keep = np.flatnonzero(sizes >= SPECK_SHARE * total) + 1
    foreground = np.isin(labels, keep)
    kept = int(foreground.sum())
    dominant = sizes.max() / kept
    box = _box(foreground) if dominant >= MIN_DOMINANT else None
    share = kept / (h * w)
    if not MIN_FOREGROUND <= share <= MAX_FOREGROUND:
        return _untrusted(foreground, f"foreground is {share:.0%} of the photo", box)
    if box is None:
        return _untrusted(foreground, f"foreground is in pieces (largest {dominant:.0%})")
    ring = np.concatenate([strip[:2].ravel() for strip in _strips(foreground, b)])
    if ring.mean() > MAX_EDGE_TOUCH:
        return _untrusted(foreground, f"the product runs into the frame ({ring.mean():.0%} of the edge)", box)
    contrast = float(np.median(distance[foreground]))
    if contrast < MIN_CONTRAST:
        return _untrusted(foreground, f"foreground colours are close to the background's ({contrast:.0f})", box)
    return Segmentation(foreground, box, True, "")


def feathered_alpha(foreground: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """The small mask scaled to `size` as an alpha channel with an edge about a pixel or two soft."""
    small = Image.fromarray(foreground.view(np.uint8) * np.uint8(255), "L").filter(ImageFilter.GaussianBlur(0.7))
    alpha = small.resize(size, Image.Resampling.BILINEAR)
    scale = max(1.0, size[0] / foreground.shape[1])
    gain = min(4.0, scale)  # steepen the upscaled ramp back to ~2 px, whatever the upscale factor
    return alpha.point(lambda v: max(0, min(255, round((v - 128) * gain + 128))))


def saliency_box(rgb: np.ndarray) -> Box | None:
    """The box of the spectral-residual saliency map's salient pixels (over 3x its mean)."""
    import cv2

    grey = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (SALIENCY_SIDE, SALIENCY_SIDE), interpolation=cv2.INTER_AREA)
    spectrum = np.fft.fft2(grey.astype(np.float32))
    log_amplitude = np.log(np.abs(spectrum) + 1e-6).astype(np.float32)
    residual = log_amplitude - cv2.blur(log_amplitude, (3, 3))
    saliency = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    saliency = cv2.GaussianBlur(saliency.astype(np.float32), (0, 0), 2.5)
    return _box(saliency > 3 * saliency.mean())


def subject_box(segmentation: Segmentation, rgb: np.ndarray) -> Box | None:
    """Where the subject of a photo that is not cut out is: GrabCut's object, else the salient region;
    None when neither says more than 'the whole photo'."""
    box = segmentation.box or saliency_box(rgb)
    if box is None or (box[2] - box[0]) * (box[3] - box[1]) >= MAX_SUBJECT_AREA:
        return None
    return tuple(round(float(v), 4) for v in box)
