"""The article review's section operations, timed through the use cases the CLI and the web call (services.copy).

    .venv/bin/python benchmarks/article_review_bench.py          # grammar: every sample product, en and zh (seconds)
    .venv/bin/python benchmarks/article_review_bench.py --lm     # also the embedded model (writing, and one section again)

Per language: the time to write and store an article, to write one section again, to check and save an
edit, to accept a section; and how many times each kind of section can be written again before every
sentence the phrase banks have for it is used in the product's articles (the view then says so).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assets.samples import load_sample_library  # noqa: E402
from creative.catalog import list_products  # noqa: E402
from creative.home import resolve_home  # noqa: E402
from creative.services import Workspace  # noqa: E402
from creative.services.copy import (  # noqa: E402
    SectionRefused,
    accept_section,
    copy_pipeline,
    edit_section,
    regenerate_section,
    write_article,
)

MAX_REWRITES = 30


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:8.1f}" if values else "       -"


def grammar_run(ws: Workspace) -> None:
    times: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    rewrites: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for product in list_products(ws.engine):
        lang = product.language
        started = time.perf_counter()
        review = write_article(ws, product.product_id, engine="grammar").review
        times[lang]["write"].append(time.perf_counter() - started)
        if review is None:
            continue
        for section in review.sections:
            done = 0
            while done < MAX_REWRITES:
                started = time.perf_counter()
                try:
                    regenerate_section(ws, review.code, section.position)
                except SectionRefused:
                    break
                times[lang]["again"].append(time.perf_counter() - started)
                done += 1
            rewrites[lang][section.kind].append(done)
        lead = next(s for s in review.sections if s.kind == "lead")
        started = time.perf_counter()
        edit_section(ws, review.code, lead.position, lead.text.replace(".", " every day.", 1) if lang != "zh" else lead.text + "值得一试。")
        times[lang]["edit"].append(time.perf_counter() - started)
        started = time.perf_counter()
        accept_section(ws, review.code, 0)
        times[lang]["accept"].append(time.perf_counter() - started)
    print("grammar engine, median ms per operation (services.copy, SQLite)")
    print("lang  products   write  write again   edit  accept   rewrites left per section (median: headline lead point scene cta)")
    for lang, t in sorted(times.items()):
        left = " ".join(f"{k} {statistics.median(v):.0f}" for k, v in rewrites[lang].items())
        print(f"{lang:4} {len(t['write']):9} {_ms(t['write'])} {_ms(t['again'])}    {_ms(t['edit'])} {_ms(t['accept'])}   {left}")


def lm_run(ws: Workspace) -> None:
    pipe = copy_pipeline(ws)
    started = time.perf_counter()
    pipe.model  # noqa: B018 - loaded once, timed on its own
    print(f"\nembedded model loaded in {time.perf_counter() - started:.1f} s")
    print("product   write (s)  model sentences  write a point again (s)  write a scene again (s)")
    for product in [p for p in list_products(ws.engine) if p.language == "en"][:3]:
        started = time.perf_counter()
        written = write_article(ws, product.product_id, engine="lm", pipeline=pipe)
        wrote, review = time.perf_counter() - started, written.review
        if review is None:
            print(f"{product.product_id:9} {wrote:9.1f}  failed the guardrails, not stored: {'; '.join(written.best.reasons)}")
            continue
        lm = sum(x["engine"] == "lm" for s in review.sections for x in s.sentences)
        said = sum(len(s.sentences) for s in review.sections)
        again = {}
        for kind in ("point", "scene"):
            section = next((s for s in review.sections if s.kind == kind), None)
            if section is None:
                continue
            started = time.perf_counter()
            try:
                regenerate_section(ws, review.code, section.position, engine="lm", pipeline=pipe)
                again[kind] = f"{time.perf_counter() - started:.1f}"
            except SectionRefused:
                again[kind] = f"{time.perf_counter() - started:.1f} refused"
        print(f"{product.product_id:9} {wrote:9.1f}  {lm:>6} of {said:<6}  {again.get('point', '-'):>23}  {again.get('scene', '-'):>23}")


def _workspace(root: Path, model_cache: str | None) -> Workspace:
    home = resolve_home(root, f"sqlite:///{root / 'creative.db'}")
    load_sample_library(home)
    if model_cache:  # the home reads its models from <root>/models
        home.model_cache_dir.symlink_to(Path(model_cache).resolve(), target_is_directory=True)
    return Workspace.of(home)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lm", action="store_true", help="also time the embedded model (converted once into the home's cache)")
    parser.add_argument("--model-cache", default=None, help="a folder holding the converted model (default: the temporary home's)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        grammar_run(_workspace(Path(tmp) / "grammar", None))
        if args.lm:  # a home of its own: the grammar run used up the phrase banks' sentences for every product
            lm_run(_workspace(Path(tmp) / "lm", args.model_cache))


if __name__ == "__main__":
    main()
