"""Contact sheets: every template drawn at a few sizes from the sample library, one PNG per size, to look at.

Each cell is one banner (an English and a Chinese product in turn; every sample product is cut out, the
watch and the teapot by GrabCut), labelled with its template, quality score, smallest text size and occupancy. With --metrics it
prints, per size, the layout metrics over every template and sample product (one banner each), against
PosterLayout's DS-GAN figures (utility 0.254, occlusion 0.209). Usage:
    python benchmarks/contact_sheet.py [--sizes 1080x1920,728x90,300x250] [--out docs/screenshots] [--metrics]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, ImageDraw  # noqa: E402

from assets.samples import load_sample_library  # noqa: E402
from creative.compose import BatchSelection, Renderer, enumerate_specs, resolve_selection  # noqa: E402
from creative.compose.draw import load_font  # noqa: E402
from creative.db import open_database  # noqa: E402
from creative.elements.store import ElementStore  # noqa: E402
from creative.home import resolve_home  # noqa: E402
from layouts import ALL_SIZES, builtin_templates, parse_sizes  # noqa: E402
from layouts.text import FontSpec  # noqa: E402

CELL_LONG_SIDE = {"1080x1920": 480, "728x90": 728, "300x250": 300}  # shown size of a banner's long side
LABEL_PX = 16
GAP = 12
# Per template, which sample product to show: flood-fill and GrabCut cut-outs and a Chinese product.
PRODUCTS = ("watch-classic", "sneaker-red", "teapot-clay", "headphones", "bottle-green", "backpack-blue")


def pick_specs(resolved, size: str) -> list:
    """One banner per template at `size`, each with a different product where the template allows it."""
    specs, _, _ = enumerate_specs(resolved)
    names = {e.code: e.name for e in resolved.pack.elements.values()}
    chosen = []
    for i, template in enumerate(builtin_templates()):
        candidates = [s for s in specs if s.template == template and s.size == size and s.title is None]
        order = PRODUCTS[i % len(PRODUCTS):] + PRODUCTS[: i % len(PRODUCTS)]
        want = "zh" if i % 2 else "en"  # every other template shows a Chinese offer where the product has one
        for product in order:
            matches = [s for s in candidates if product in names.get(s.product, "")]
            preferred = [s for s in matches if s.offer and resolved.pack.offers[s.offer].language == want]
            if matches:
                chosen.append((preferred or matches)[0])
                break
    return chosen


def sheet(renderer: Renderer, specs: list, size: str) -> Image.Image:
    w, h = map(int, size.split("x"))
    scale = CELL_LONG_SIDE.get(size, 400) / max(w, h)
    cw, ch = round(w * scale), round(h * scale)
    cols = max(1, min(len(specs), 1600 // (cw + GAP)))
    rows = -(-len(specs) // cols)
    out = Image.new("RGB", (GAP + cols * (cw + GAP), GAP + rows * (ch + LABEL_PX + 6 + GAP)), (236, 236, 236))
    font = load_font(FontSpec("latin", "regular", LABEL_PX - 2))
    pen = ImageDraw.Draw(out)
    for i, spec in enumerate(specs):
        x = GAP + (i % cols) * (cw + GAP)
        y = GAP + (i // cols) * (ch + LABEL_PX + 6 + GAP)
        rendered = renderer.render(spec)
        if rendered.image is None:
            label = f"{spec.template}: rejected ({'; '.join(rendered.reasons)[:60]})"
        else:
            out.paste(rendered.image.resize((cw, ch), Image.Resampling.LANCZOS) if scale != 1 else rendered.image, (x, y + LABEL_PX + 6))
            m = rendered.metrics
            label = f"{spec.template}  q={rendered.quality:.2f}  text>={m.min_text_px}px  occ={m.occupancy:.2f}"
        pen.text((x, y), label, fill=(40, 40, 40), font=font)
    return out


def metrics_table(renderer: Renderer, resolved) -> None:
    """Per size: mean utility, occupancy and occlusion, the smallest title, mean quality and rejections."""
    specs, _, _ = enumerate_specs(resolved)
    first = {}
    for s in specs:  # one banner per template, size and product: logos and models do not change the layout much
        first.setdefault((s.template, s.size, s.product, s.offer), s)
    print(f"{'size':>9} {'banners':>7} {'utility':>7} {'occupancy':>9} {'occlusion':>9} {'min title':>9} {'quality':>7} {'rejected':>8}")
    for size in ALL_SIZES:
        rows = [renderer.render(s) for k, s in first.items() if k[1] == size.name]
        ok = [r for r in rows if r.accepted]
        titles = [r.layout.get("title").text.size for r in ok if r.layout.get("title")]

        def mean(values) -> float:
            return sum(values) / len(values) if values else 0.0

        print(f"{size.name:>9} {len(rows):7d} {mean([r.metrics.utility for r in ok]):7.3f} {mean([r.metrics.occupancy for r in ok]):9.3f} "
              f"{mean([r.metrics.occlusion for r in ok]):9.3f} {min(titles, default=0):7d}px {mean([r.quality for r in ok]):7.2f} {len(rows) - len(ok):8d}")
    print("PosterLayout DS-GAN (CVPR 2023): utility 0.254, occlusion 0.209")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1080x1920,728x90,300x250")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "docs" / "screenshots"))
    parser.add_argument("--metrics", action="store_true", help="print per-size layout metrics over every template at all 11 sizes instead")
    args = parser.parse_args()
    sizes = [s.name for s in parse_sizes(args.sizes)]
    with tempfile.TemporaryDirectory(prefix="contact-sheet-") as scratch:
        home = resolve_home(Path(scratch) / "home")
        load_sample_library(home)
        engine = open_database(home.db_url)
        store = ElementStore(home, engine)
        codes = {k: tuple(e.code for e in store.list(k)) for k in ("product", "logo", "model")}
        selection = BatchSelection(products=codes["product"], logos=codes["logo"], models=codes["model"],
                                   sizes=("all",) if args.metrics else tuple(sizes))
        resolved = resolve_selection(home, engine, selection)
        renderer = Renderer(resolved.pack)
        if args.metrics:
            metrics_table(renderer, resolved)
            return
        for size in sizes:
            path = Path(args.out) / f"contact-sheet-{size}.png"
            sheet(renderer, pick_specs(resolved, size), size).save(path, optimize=True)
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
