"""Product photos made in the test, with the product's true mask: an object of two colours (body and lid)
on a background of a given kind, anywhere in the frame."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

BODY, LID = (220, 120, 40), (240, 235, 220)


def background(kind: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """gradient (purple to mauve, top to bottom), textured (diagonal stripes), noisy (grey-green, sigma 25), white, noise."""
    if kind == "gradient":
        y = np.linspace(0, 1, height)[:, None, None]
        return np.broadcast_to(np.array([60, 40, 110]) + np.array([90, 40, 0]) * y, (height, width, 3)).copy()
    if kind == "textured":
        yy, xx = np.mgrid[0:height, 0:width]
        return np.array([70, 75, 60]) + ((xx + yy) // 12 % 2)[..., None] * np.array([25, 22, 15]) + rng.normal(0, 6, (height, width, 3))
    if kind == "noisy":
        return np.array([120, 140, 120]) + rng.normal(0, 25, (height, width, 3))
    if kind == "white":
        return np.full((height, width, 3), 250.0)
    if kind == "noise":
        return rng.integers(0, 256, (height, width, 3)).astype(float)
    raise ValueError(kind)


def product_photo(kind: str, size: tuple[int, int] = (800, 800), centre: tuple[float, float] = (0.5, 0.5),
                  scale: float = 1.0, seed: int = 0) -> tuple[Image.Image, np.ndarray]:
    """(RGB photo, the product's true mask). The product is ~0.36 x 0.52 of an 800 px frame times `scale`
    (0: no product), centred at `centre` (relative); parts outside the frame are cut off, as in a tightly framed photo."""
    width, height = size
    rng = np.random.default_rng(seed)
    base = background(kind, width, height, rng)
    cx, cy, rw, rh = centre[0] * width, centre[1] * height, 144 * scale, 208 * scale
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    draw.rounded_rectangle((cx - rw, cy - rh * 0.6, cx + rw, cy + rh), radius=int(40 * scale), fill=255)
    draw.ellipse((cx - rw * 0.5, cy - rh, cx + rw * 0.5, cy - rh * 0.45), fill=255)
    truth = np.asarray(mask) > 127
    colour = np.empty((height, width, 3))
    colour[:] = BODY
    colour[: max(0, int(cy - rh * 0.55))] = LID
    shade = np.linspace(0.8, 1.1, width)[None, :, None]  # lit from the right
    product = colour * shade + rng.normal(0, 4, (height, width, 3))
    pixels = np.where(truth[..., None], product, base)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB"), truth


def is_body(pixels: np.ndarray) -> np.ndarray:
    """Pixels of the product's orange body (no background used here comes near it)."""
    r, g, b = (pixels[..., i].astype(int) for i in range(3))
    return (r > 150) & (b < 90) & (r - b > 100) & (g > 70) & (g < 170)
