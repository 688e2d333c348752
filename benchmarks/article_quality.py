"""Article quality per engine and language: model share, publishable share, repetition, variety, keywords, facts, time.

    .venv/bin/python benchmarks/article_quality.py                     # grammar and the embedded model
    .venv/bin/python benchmarks/article_quality.py --engines grammar   # no model (seconds)
    .venv/bin/python benchmarks/article_quality.py --save out.jsonl    # also write every article, to label its sections

Two parts. (1) The labelled set (creative/copy/data/eval/articles_labels.jsonl, sections labelled by hand as
publishable or not, with a reason): the section checks the writer applies (guardrails, sentence checks,
repetition) are run over every labelled section, and the table shows the share of the sections they
accept that a person labelled publishable. (2) Live articles for every product of the sample catalogs and
the eval catalog, two per product (the second must not repeat the first): a section counts as
publishable when its text is in the labelled set and labelled so; sections nobody labelled are counted
separately (`unlabelled`), never guessed. Fact errors are counted by an independent check: every number
in the article must be a catalog number and no other product's name or brand may appear.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from creative.catalog import Product, parse_catalog  # noqa: E402
from creative.copy.article.checks import section_reasons  # noqa: E402
from creative.copy.article.variety import distinct_n, repeated_sentences  # noqa: E402
from creative.copy.guardrails import Guardrails, normalise  # noqa: E402
from creative.copy.limits import LONG_HEADLINE  # noqa: E402

CATALOGS = (ROOT / "assets/samples/catalog_en.json", ROOT / "assets/samples/catalog_zh.json",
            ROOT / "creative/copy/data/eval/articles_catalog.json")
LABELS = ROOT / "creative/copy/data/eval/articles_labels.jsonl"
# The grammar engine's live sections labelled again, blind, by a stricter rubric (see the README): --labels this file.
STRICT_LABELS = ROOT / "creative/copy/data/eval/articles_relabels_strict.jsonl"


def products() -> list[Product]:
    return [p for path in CATALOGS for p in parse_catalog(path, resolve_image=lambda ref: ref)]


def labels(path: Path = LABELS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def catalog_numbers(product: Product) -> set[float]:
    """Every number the catalog states about the product, computed independently of the guardrails."""
    numbers = {product.price}
    if product.discount_pct:
        numbers |= {float(product.discount_pct), (100 - product.discount_pct) / 10, round(product.price * (1 - product.discount_pct / 100), 2)}
    if product.sale_price:
        numbers |= {product.sale_price, round(product.price - product.sale_price, 2)}
    for text in (product.name, *product.features):
        numbers |= {float(x) for x in re.findall(r"\d+(?:\.\d+)?", text)}
    return numbers


def fact_errors(text: str, product: Product, catalog: list[Product]) -> list[str]:
    errors = []
    allowed = catalog_numbers(product)
    for number in re.findall(r"\d+(?:,\d{3})*(?:\.\d+)?", text):
        if not any(abs(float(number.replace(",", "")) - n) < 0.006 for n in allowed):
            errors.append(f"number {number}")
    for other in catalog:
        if other.brand != product.brand and other.brand in text:
            errors.append(f"brand {other.brand}")
        if other.product_id != product.product_id and other.name in text and other.name not in product.name:
            errors.append(f"name {other.name}")
    return errors


def write_articles(engine: str, items: list[Product], catalog: list[Product], per_sentence: int, articles: int, model,
                   save=None) -> list[dict]:
    """Real articles, `articles` per product, each told to avoid the sentences of the product's earlier ones.

    Each is appended to `save` as soon as it is written, so a long model run can be labelled (or reported) while it goes.
    """
    from creative.copy.pipeline import CopyPipeline

    pipe = CopyPipeline(model=model, brands={x for p in catalog for x in (p.brand, p.name)}, seed=0)
    records = []
    for product in items:
        earlier: list[str] = []
        for round_ in range(articles):
            pipe.seed = round_
            started = time.perf_counter()
            cands = pipe.article(product, engine=engine, per_section=per_sentence, avoid=earlier)
            seconds = time.perf_counter() - started
            best, drafts = cands[0], cands[1:]
            records.append({"requested": engine, "product_id": product.product_id, "language": product.language, "round": round_,
                            "seconds": round(seconds, 2), "status": best.status, "reasons": best.reasons, "engine": best.engine,
                            "notes": best.notes, "text": best.text, "sections": best.sections, "keywords": list(product.keywords),
                            "drafts": [{"section": d.style, "text": d.text, "reasons": d.reasons} for d in drafts]})
            print(f"  {engine} {product.product_id} #{round_}: {best.status}, {seconds:.1f}s", file=sys.stderr, flush=True)
            if save is not None:
                save.write(json.dumps(records[-1], ensure_ascii=False) + "\n")
                save.flush()
            if best.status == "accepted":
                earlier.append(best.text)
    return records


@dataclass
class Tally:
    articles: int = 0
    accepted: int = 0
    seconds: list[float] = field(default_factory=list)
    sentences: int = 0
    model_sentences: int = 0
    drawn: int = 0
    passed: int = 0
    sections: int = 0
    labelled: int = 0
    publishable: int = 0
    repeated: int = 0
    across: int = 0
    distinct: list[float] = field(default_factory=list)
    keywords: int = 0
    written: int = 0
    unfit: int = 0
    fact_errors: int = 0


def tally(records: list[dict], catalog: list[Product], known: dict[str, int]) -> dict[tuple[str, str], Tally]:
    by_id = {p.product_id: p for p in catalog}
    out: dict[tuple[str, str], Tally] = {}
    earlier: dict[tuple[str, str], set[str]] = {}  # normalised sentences of the product's earlier accepted articles
    for r in records:
        product = by_id[r["product_id"]]
        t = out.setdefault((r["requested"], r["language"]), Tally())
        t.articles += 1
        t.seconds.append(r["seconds"])
        said = [s["text"] for sec in r["sections"] for s in sec["sentences"]]
        lm = sum(s["engine"] == "lm" for sec in r["sections"] for s in sec["sentences"])
        t.drawn += len(r["drafts"]) + lm  # every model candidate: the used ones and the drafts
        t.passed += lm + sum(d["reasons"][0].startswith("ranked:") for d in r["drafts"])
        t.fact_errors += len(fact_errors(r["text"], product, catalog))
        t.keywords += len(r["keywords"])
        t.written += sum(any(sec["section"] == "scene" and k.lower() in sec["text"].lower() for sec in r["sections"]) for k in r["keywords"])
        t.unfit += sum("fits no fact" in n for n in r["notes"])
        if r["status"] != "accepted":
            continue
        seen = earlier.setdefault((r["requested"], r["product_id"]), set())
        t.across += sum(normalise(s) in seen for s in said)
        seen.update(normalise(s) for s in said)
        t.accepted += 1
        t.repeated += len(repeated_sentences(said))
        t.distinct.append(distinct_n(r["text"], r["language"]))
        t.sentences += len(said)
        t.model_sentences += lm
        for sec in r["sections"]:
            t.sections += 1
            label = known.get(normalise(sec["text"]))
            if label is not None:
                t.labelled += 1
                t.publishable += label
    return out


def report(records: list[dict], catalog: list[Product], known: dict[str, int]) -> None:
    cols = ("engine", "lang", "articles", "accepted", "model share", "cand. passed", "publishable (labelled)", "unlabelled",
            "repeated", "across", "distinct-2", "keywords", "unfit", "fact err", "s/article")
    print("  ".join(cols))
    for (engine, lang), t in sorted(tally(records, catalog, known).items()):
        print("  ".join([
            f"{engine:6}", f"{lang:4}", f"{t.articles:8d}", f"{t.accepted:8d}",
            f"{t.model_sentences / max(1, t.sentences):11.3f}",
            f"{t.passed}/{t.drawn}".rjust(12),
            (f"{t.publishable / t.labelled:.3f} of {t.labelled}" if t.labelled else "-").rjust(22),
            f"{t.sections - t.labelled:10d}", f"{t.repeated:8d}", f"{t.across:6d}",
            f"{statistics.mean(t.distinct) if t.distinct else 0:10.3f}",
            f"{t.written}/{t.keywords}".rjust(8), f"{t.unfit:5d}", f"{t.fact_errors:8d}",
            f"{statistics.mean(t.seconds):9.2f}"]))


def judged_labels(catalog: list[Product], rows: list[dict]) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    """Per (engine, language) of the labelled `rows`: sections, accepted by the checks, accepted and labelled publishable, publishable."""
    by_id = {p.product_id: p for p in catalog}
    brands = {x for p in catalog for x in (p.brand, p.name)}
    out: dict[tuple[str, str], list[int]] = {}
    articles: dict[str, list[str]] = {}
    for row in sorted(rows, key=lambda r: (r["article"], r["index"])):
        product = by_id[row["product_id"]]
        guard = Guardrails.for_product(product, brands, LONG_HEADLINE)
        earlier = articles.setdefault(row["article"], [])
        ok = not section_reasons(row["text"], row["section"], guard, earlier)
        earlier.append(row["text"])
        engine = "lm" if "lm" in row["engine"] else "grammar"
        counts = out.setdefault((engine, row["language"]), [0, 0, 0, 0])
        counts[0] += 1
        counts[1] += ok
        counts[2] += ok and row["publishable"]
        counts[3] += row["publishable"]
    return {k: tuple(v) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engines", default="grammar,lm")
    ap.add_argument("--articles", type=int, default=2, help="articles per product (each avoids the earlier ones' sentences)")
    ap.add_argument("--per-sentence", type=int, default=6, help="model candidates per sentence")
    ap.add_argument("--products", default="", help="comma list of product ids (default: all)")
    ap.add_argument("--labels", type=Path, default=LABELS, help=f"the labelled sections to judge by (default {LABELS.relative_to(ROOT)}; "
                    f"{STRICT_LABELS.relative_to(ROOT)} holds the stricter relabelling)")
    ap.add_argument("--model", help="a local model directory or .gguf file for the lm engine (default: the embedded model)")
    ap.add_argument("--save", type=Path, help="also write the generated articles here (JSONL), to label or to report on again")
    ap.add_argument("--report", type=Path, nargs="*", help="no generation: report on articles saved earlier with --save")
    ap.add_argument("--unlabelled", type=Path, help="write the sections no label covers here, in the labels' format with "
                    "publishable null, for a person to label and append to the labelled set")
    args = ap.parse_args()
    catalog = products()
    items = [p for p in catalog if not args.products or p.product_id in args.products.split(",")]
    rows = labels(args.labels)
    known = {normalise(r["text"]): int(bool(r["publishable"])) for r in rows}

    shown = args.labels.resolve().relative_to(ROOT) if args.labels.resolve().is_relative_to(ROOT) else args.labels
    print(f"labelled set: {len(rows)} sections ({shown}); the writer's checks over them:")
    print(f"{'engine':8} {'lang':4} {'labelled':>8} {'accepted':>8} {'labelled publishable of accepted':>33} {'recall':>7}")
    for (engine, lang), (n, acc, good, pos) in sorted(judged_labels(catalog, rows).items()):
        print(f"{engine:8} {lang:4} {n:8d} {acc:8d} {good / max(1, acc):33.3f} {good / max(1, pos):7.3f}")

    if args.report:
        records = [json.loads(line) for path in args.report for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        records, model = [], None
        save = args.save.open("w", encoding="utf-8") if args.save else None
        for engine in args.engines.split(","):
            if engine == "lm" and model is None:
                from creative.copy.loading import load_model

                model = load_model(args.model, cache_dir=os.environ.get("CREATIVE_MODEL_CACHE", str(Path.home() / ".creative" / "models")))
                print(f"model {model.name} loaded in {model.load_seconds:.1f}s")
            records += write_articles(engine, items, catalog, args.per_sentence, args.articles, model, save)
        if save is not None:
            save.close()
    print(f"\nlive articles ({len({r['product_id'] for r in records})} products; 'lm' on Chinese products falls back to grammar: "
          "the embedded model writes English only)")
    report(records, catalog, known)
    if args.unlabelled:
        rows = unlabelled(records, known)
        args.unlabelled.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"\n{len(rows)} unlabelled sections written to {args.unlabelled}")


def unlabelled(records: list[dict], known: dict[str, int]) -> list[dict]:
    """Sections of accepted articles that no label covers, once each, in the labelled set's format."""
    rows, seen = [], set(known)
    for r in records:
        if r["status"] != "accepted":
            continue
        article = f"{r['product_id']}-{r['requested']}-{r['round']}"
        for index, sec in enumerate(r["sections"]):
            key = normalise(sec["text"])
            if key in seen:
                continue
            seen.add(key)
            engine = "+".join(sorted({s["engine"] for s in sec["sentences"]}, key=("lm", "grammar").index))
            rows.append({"id": f"{r['requested']}:{r['product_id']}#{r['round']}.{index}", "product_id": r["product_id"],
                         "language": r["language"], "engine": engine, "article": article, "index": index, "section": sec["section"],
                         "text": sec["text"], "publishable": None, "reason": ""})
    return rows


if __name__ == "__main__":
    main()
