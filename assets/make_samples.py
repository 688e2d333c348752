"""Draw the sample library (products, logos, models, backgrounds) and write the demo catalogs.

Everything is drawn here from shapes, so the samples carry no third-party copyright, and the
output is byte-for-byte the same on every run: `python -m assets.make_samples`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from creative.fonts import find_font

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
LIGHT = (246, 246, 244)


def _canvas(size=(800, 800), colour=LIGHT) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("RGB", size, colour)
    return img, ImageDraw.Draw(img)


def sneaker() -> Image.Image:
    img, d = _canvas()
    d.polygon([(130, 520), (180, 380), (330, 330), (420, 400), (640, 450), (690, 540), (680, 590), (140, 590)], fill=(220, 60, 50))
    d.rectangle([130, 585, 690, 625], fill=(245, 245, 245), outline=(90, 90, 90), width=4)
    for i in range(5):
        d.line([(260 + i * 30, 410 + i * 8), (290 + i * 30, 460 + i * 8)], fill=(255, 255, 255), width=7)
    d.arc([380, 430, 640, 560], 200, 330, fill=(255, 255, 255), width=10)
    return img


def backpack() -> Image.Image:
    img, d = _canvas()
    d.rounded_rectangle([230, 200, 570, 660], 70, fill=(40, 90, 150))
    d.rounded_rectangle([280, 420, 520, 620], 30, fill=(30, 70, 120))
    d.arc([310, 110, 490, 290], 180, 360, fill=(30, 60, 100), width=22)
    d.line([(300, 470), (500, 470)], fill=(230, 190, 60), width=8)
    return img


def headphones() -> Image.Image:
    img, d = _canvas()
    d.arc([200, 140, 600, 560], 180, 360, fill=(35, 35, 40), width=36)
    d.rounded_rectangle([170, 330, 290, 560], 40, fill=(35, 35, 40))
    d.rounded_rectangle([510, 330, 630, 560], 40, fill=(35, 35, 40))
    d.ellipse([195, 380, 265, 510], fill=(0, 170, 160))
    d.ellipse([535, 380, 605, 510], fill=(0, 170, 160))
    return img


def watch() -> Image.Image:
    """Product photographed on a coloured gradient: no cut-out expected."""
    img = Image.new("RGB", (800, 800))
    d = ImageDraw.Draw(img)
    for y in range(800):
        d.line([(0, y), (800, y)], fill=(60 + y // 10, 40 + y // 20, 110))
    d.rounded_rectangle([330, 80, 470, 720], 40, fill=(70, 50, 40))
    d.ellipse([240, 240, 560, 560], fill=(210, 210, 215))
    d.ellipse([270, 270, 530, 530], fill=(250, 250, 250))
    for k in range(12):
        a = k * math.pi / 6
        d.line([(400 + 110 * math.cos(a), 400 + 110 * math.sin(a)), (400 + 125 * math.cos(a), 400 + 125 * math.sin(a))], fill=(30, 30, 30), width=5)
    d.line([(400, 400), (400, 310)], fill=(30, 30, 30), width=8)
    d.line([(400, 400), (470, 430)], fill=(200, 40, 40), width=5)
    return img


def bottle() -> Image.Image:
    img, d = _canvas()
    d.rounded_rectangle([310, 220, 490, 690], 60, fill=(90, 170, 110))
    d.rectangle([350, 150, 450, 230], fill=(60, 120, 80))
    d.rounded_rectangle([340, 110, 460, 160], 14, fill=(40, 40, 40))
    d.rectangle([326, 380, 474, 500], fill=(240, 240, 230))
    return img


def teapot() -> Image.Image:
    """A photographed-look product on a textured dark background: no cut-out expected."""
    img = Image.new("RGB", (800, 800), (50, 45, 40))
    d = ImageDraw.Draw(img)
    for x in range(0, 800, 16):
        d.line([(x, 0), (x + 200, 800)], fill=(62, 55, 48), width=6)
    d.ellipse([220, 300, 580, 640], fill=(170, 110, 60))
    d.polygon([(560, 420), (700, 330), (710, 350), (590, 480)], fill=(170, 110, 60))
    d.arc([150, 360, 290, 560], 90, 270, fill=(150, 95, 50), width=24)
    d.ellipse([360, 250, 440, 320], fill=(150, 95, 50))
    return img


def _wordmark(text: str, size: tuple[int, int], fg, bg, mode="RGB") -> Image.Image:
    img = Image.new(mode, size, bg)
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(find_font("latin", "bold").path), int(size[1] * 0.55))
    box = d.textbbox((0, 0), text, font=font)
    d.text(((size[0] - box[2]) // 2 + size[1] // 4, (size[1] - box[3]) // 2 - box[1] // 2), text, font=font, fill=fg)
    d.ellipse([size[1] // 6, size[1] // 4, size[1] // 6 + size[1] // 2, size[1] // 4 + size[1] // 2], fill=fg)
    return img


def logo_wide() -> Image.Image:
    return _wordmark("NORTHWIND", (900, 200), (20, 60, 110), (255, 255, 255))


def logo_square() -> Image.Image:
    img = Image.new("RGB", (400, 400), (230, 80, 40))
    d = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(find_font("latin", "bold").path), 190)
    box = d.textbbox((0, 0), "Lu", font=font)
    d.text(((400 - box[2] - box[0]) // 2, (400 - box[3] - box[1]) // 2), "Lu", font=font, fill=(255, 255, 255))
    return img


def logo_transparent() -> Image.Image:
    return _wordmark("aurora", (700, 200), (120, 40, 160, 255), (0, 0, 0, 0), mode="RGBA")


def person(shirt, skin, hair) -> Image.Image:
    img = Image.new("RGBA", (500, 900), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle([120, 300, 380, 900], 110, fill=shirt)
    d.rectangle([215, 240, 285, 320], fill=skin)
    d.ellipse([160, 80, 340, 280], fill=skin)
    d.chord([150, 60, 350, 230], 180, 360, fill=hair)
    return img.filter(ImageFilter.SMOOTH)


def background_gradient() -> Image.Image:
    img = Image.new("RGB", (1200, 1200))
    d = ImageDraw.Draw(img)
    for y in range(1200):
        t = y / 1199
        d.line([(0, y), (1200, y)], fill=(int(255 - 60 * t), int(214 - 90 * t), int(170 + 40 * t)))
    return img


def background_pattern() -> Image.Image:
    img = Image.new("RGB", (1200, 1200), (232, 240, 236))
    d = ImageDraw.Draw(img)
    for y in range(0, 1200, 80):
        for x in range(0, 1200, 80):
            d.ellipse([x + 30, y + 30, x + 46, y + 46], fill=(205, 222, 214))
    return img


IMAGES = {
    "products/sneaker-red.png": sneaker, "products/backpack-blue.png": backpack,
    "products/headphones.png": headphones, "products/bottle-green.png": bottle,
    "products/watch-classic.png": watch, "products/teapot-clay.png": teapot,
    "logos/northwind-wide.png": logo_wide, "logos/lu-square.png": logo_square,
    "logos/aurora-transparent.png": logo_transparent,
    "models/model-a.png": lambda: person((240, 200, 60, 255), (224, 180, 150, 255), (60, 40, 30, 255)),
    "models/model-b.png": lambda: person((70, 140, 200, 255), (160, 110, 80, 255), (20, 20, 20, 255)),
    "backgrounds/sunset-gradient.png": background_gradient, "backgrounds/mint-dots.png": background_pattern,
}

CATALOG_EN = [
    {"product_id": "SKU-1001", "name": "Stride Runner", "brand": "Northwind", "category": "shoes", "price": 89.0, "sale_price": 69.0,
     "features": ["breathable mesh upper", "foam midsole", "weighs 240 g"], "keywords": ["running", "commute"], "language": "en",
     "landing_url": "https://shop.example.com/p/1001", "images": ["sneaker-red.png"]},
    {"product_id": "SKU-1002", "name": "Trail Pack 20L", "brand": "Northwind", "category": "bags", "price": 120.0, "discount": 25,
     "features": ["20 L capacity", "water-resistant fabric", "padded laptop sleeve"], "keywords": ["travel", "commute"], "language": "en",
     "landing_url": "https://shop.example.com/p/1002", "images": ["backpack-blue.png"]},
    {"product_id": "SKU-1003", "name": "Quiet One Headphones", "brand": "Aurora", "category": "electronics", "price": 199.0, "sale_price": 149.0,
     "features": ["active noise cancelling", "30-hour battery", "fold-flat design"], "keywords": ["music", "gift"], "language": "en",
     "landing_url": "https://shop.example.com/p/1003", "images": ["headphones.png"]},
    {"product_id": "SKU-1004", "name": "Everyday Bottle", "brand": "Aurora", "category": "bags", "price": 25.0,
     "features": ["750 ml", "keeps drinks cold for 24 hours", "leak-proof lid"], "keywords": ["gym", "outdoors"], "language": "en",
     "landing_url": "https://shop.example.com/p/1004", "images": ["bottle-green.png"]},
    {"product_id": "SKU-1005", "name": "Classic Watch", "brand": "Lu", "category": "electronics", "price": 250.0, "discount": 20,
     "features": ["sapphire glass", "water resistant to 50 m", "leather strap"], "keywords": ["gift", "office"], "language": "en",
     "landing_url": "https://shop.example.com/p/1005", "images": ["watch-classic.png"]},
]

CATALOG_ZH = [
    {"product_id": "SKU-2001", "name": "轻跑鞋", "brand": "北风", "category": "鞋靴", "price": 599.0, "sale_price": 399.0,
     "features": ["透气网面", "缓震中底", "单只重240克"], "keywords": ["通勤", "跑步"], "language": "zh",
     "landing_url": "https://shop.example.com/zh/p/2001", "images": ["sneaker-red.png"]},
    {"product_id": "SKU-2002", "name": "紫砂茶壶", "brand": "鹿", "category": "家居", "price": 368.0, "discount": 15,
     "features": ["手工拉坯", "容量300毫升", "出水顺畅"], "keywords": ["送礼", "品茶"], "language": "zh",
     "landing_url": "https://shop.example.com/zh/p/2002", "images": ["teapot-clay.png"]},
    {"product_id": "SKU-2003", "name": "降噪耳机", "brand": "极光", "category": "数码", "price": 1299.0, "sale_price": 999.0,
     "features": ["主动降噪", "续航30小时", "折叠收纳"], "keywords": ["通勤", "音乐"], "language": "zh",
     "landing_url": "https://shop.example.com/zh/p/2003", "images": ["headphones.png"]},
]


def main(out: Path = SAMPLES_DIR) -> None:
    for relative, draw in IMAGES.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        # No timestamps or text chunks: the same bytes on every run.
        draw().save(path, format="PNG", optimize=True)
    for name, catalog in (("catalog_en.json", CATALOG_EN), ("catalog_zh.json", CATALOG_ZH)):
        (out / name).write_text(json.dumps(catalog, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(IMAGES)} images and 2 catalogs to {out}")


if __name__ == "__main__":
    main()
