"""Banner composition speed: banners/s per format, one process and all cores, against the encoder.

For each format and each batch (a combinatorial 300x250 batch, and a mixed-size sample of the same
selection) it measures, in one run:
  naive      the same drawing with no caches, one process (fonts, images, layouts rebuilt per banner)
  compose    the real pipeline (render, encode, write the file, manifest record), one process and all cores
  encode     encode-only: the same banners' pixels encoded from memory (the ceiling), one process and all cores
and prints peak memory. Usage: python benchmarks/compose_bench.py [--quick] [--formats jpeg,png,webp]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assets.samples import load_sample_library  # noqa: E402
from creative.compose import BatchSelection, Renderer, encode, enumerate_specs, render_many, resolve_selection  # noqa: E402
from creative.compose import batch as batch_module  # noqa: E402
from creative.db import open_database  # noqa: E402
from creative.elements.store import ElementStore  # noqa: E402
from creative.home import resolve_home  # noqa: E402

# Sample copy, as the copy step would add it: the batch crosses every product with its language's titles.
TITLES = {
    "en": [("Built for the long run", "benefit"), ("Save more on what you love", "promotion"),
           ("New season, new favourite", "novelty"), ("Made to last, priced to move", "value")],
    "zh": [("限时特惠，立即抢购", "promotion"), ("新品上市", "novelty"), ("好物值得拥有", "benefit")],
}

_IMAGES: list = []  # banners held in memory for the encode-only runs (shared with forked workers)


def _encode_range(args) -> int:
    start, stop, fmt = args
    for image in _IMAGES[start:stop]:
        encode(image, fmt)
    return stop - start


def encode_rate(fmt: str, workers: int) -> float:
    n = len(_IMAGES)
    if workers == 1:
        t = time.perf_counter()
        for image in _IMAGES:
            encode(image, fmt)
        return n / (time.perf_counter() - t)
    step = max(1, n // (workers * 8))
    jobs = [(i, min(n, i + step), fmt) for i in range(0, n, step)]
    with mp.get_context("fork").Pool(workers) as pool:
        pool.map(_encode_range, [(0, 0, fmt)] * workers)  # workers up before the clock starts
        t = time.perf_counter()
        pool.map(_encode_range, jobs, chunksize=1)
        return n / (time.perf_counter() - t)


def compose_rate(pack, specs, fmt: str, workers: int, scratch: Path) -> tuple[float, int]:
    out = Path(tempfile.mkdtemp(dir=scratch))
    batch_module._RENDERERS.clear()  # cold caches: what a fresh batch pays
    t = time.perf_counter()
    records = render_many(pack, specs, out, (fmt,), workers=workers)
    rate = len(specs) / (time.perf_counter() - t)
    shutil.rmtree(out)
    return rate, sum(1 for r in records if "file" not in r)


def naive_rate(pack, specs, fmt: str, scratch: Path) -> float:
    renderer = Renderer(pack, caching=False)
    out = Path(tempfile.mkdtemp(dir=scratch))
    t = time.perf_counter()
    for spec in specs:
        rendered = renderer.render(spec)
        if rendered.accepted:
            (out / f"{spec.creative_id}.x").write_bytes(encode(rendered.image, fmt))
    rate = len(specs) / (time.perf_counter() - t)
    shutil.rmtree(out)
    return rate


def peak_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, child


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--formats", default="jpeg,png,webp")
    parser.add_argument("--scratch", default=None, help="directory for the banners written while timing (default: the system temp dir)")
    parser.add_argument("--mixed", type=int, default=1000, help="banners in the mixed-size batch (kept in memory for encode-only)")
    parser.add_argument("--naive", type=int, default=40, help="banners the naive baseline renders per batch")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--quick", action="store_true", help="smaller batches, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.mixed, args.naive = 110, 10

    scratch = Path(tempfile.mkdtemp(prefix="compose-bench-", dir=args.scratch))
    try:
        home = resolve_home(scratch / "home")
        load_sample_library(home)
        engine = open_database(home.db_url)
        store = ElementStore(home, engine)
        titles = tuple(store.add_text("title", text, text[:40], {"style": style, "language": lang}).code
                       for lang, items in TITLES.items() for text, style in items)
        codes = {k: tuple(e.code for e in store.list(k)) for k in ("product", "logo", "model", "background")}
        selection = BatchSelection(products=codes["product"], logos=codes["logo"], models=codes["model"],
                                   backgrounds=codes["background"], titles=titles)
        resolved = resolve_selection(home, engine, selection)
        all_specs, total, _ = enumerate_specs(resolved)
        single = [s for s in all_specs if s.size == "300x250"]
        if args.quick:
            single = single[:: max(1, len(single) // 150)]
        mixed, _, _ = enumerate_specs(resolved, max_n=args.mixed, seed=1)
        print(f"sample library: {len(codes['product'])} products ({len(resolved.products)} catalog offers), {len(titles)} titles, "
              f"{len(codes['logo'])} logos, {len(codes['model'])} models, {len(codes['background'])} backgrounds, "
              f"{len(resolved.templates)} templates; {total} combinations in all")
        probe = Path(tempfile.mkdtemp(dir=scratch))
        t = time.perf_counter()
        for i in range(200):
            (probe / f"{i}.jpg").write_bytes(b"x" * 20000)
        print(f"scratch {scratch}: writing a 20 kB file takes {(time.perf_counter() - t) / 200 * 1000:.2f} ms")
        print(f"batches: 300x250 = {len(single)} banners (every combination at that size); mixed = {len(mixed)} banners "
              f"(seeded sample over 11 sizes); {args.workers} worker processes; Python {sys.version.split()[0]}\n")

        rows = []
        for name, specs in (("300x250", single), ("mixed", mixed)):
            rng = random.Random(0)
            naive_specs = rng.sample(specs, min(args.naive, len(specs)))
            formats = args.formats.split(",")
            # Composition is timed before the encode-only banners are held in memory: forking worker
            # processes from a parent holding gigabytes of them costs what a real batch never pays.
            composed = {}
            for fmt in formats:
                naive = naive_rate(resolved.pack, naive_specs, fmt, scratch)
                c1, rejected = compose_rate(resolved.pack, specs, fmt, 1, scratch)
                cn, _ = compose_rate(resolved.pack, specs, fmt, args.workers, scratch)
                composed[fmt] = (rejected, naive, c1, cn)
            # the banners' pixels, rendered once, for the encode-only ceiling
            renderer = Renderer(resolved.pack)
            _IMAGES.clear()
            _IMAGES.extend(r.image for r in map(renderer.render, specs) if r.accepted)
            del renderer
            for fmt in formats:
                e1 = encode_rate(fmt, 1)
                en = encode_rate(fmt, args.workers)
                rows.append((name, fmt, len(specs), *composed[fmt], e1, en))
            _IMAGES.clear()

        head = f"{'batch':8} {'fmt':5} {'n':>5} {'rej':>4} {'naive/s':>8} {'compose 1p':>10} {'compose all':>11} {'encode 1p':>10} {'encode all':>10} {'all/enc':>7} {'1p/naive':>8} {'all/naive':>9}"
        print(head)
        print("-" * len(head))
        for name, fmt, n, rej, naive, c1, cn, e1, en in rows:
            print(f"{name:8} {fmt:5} {n:5d} {rej:4d} {naive:8.1f} {c1:10.0f} {cn:11.0f} {e1:10.0f} {en:10.0f} "
                  f"{cn / en:7.0%} {c1 / naive:7.1f}x {cn / naive:8.1f}x")
        own, child = peak_mb()
        print(f"\npeak RSS: this process {own:.0f} MB (holds the encode-only banners), largest worker {child:.0f} MB")
        print("targets: compose all-cores >= 50% of encode-only all-cores for JPEG; compose >= 20x naive")
        for name, fmt, n, rej, naive, c1, cn, e1, en in rows:
            if fmt == "jpeg":
                print(f"  {name} jpeg: {cn / en:.0%} of encode-only ({'met' if cn / en >= 0.5 else 'MISSED'}), "
                      f"{c1 / naive:.0f}x naive on one process, {cn / naive:.0f}x on all cores ({'met' if c1 / naive >= 20 else 'MISSED'})")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
