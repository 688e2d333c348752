"""Copy quality: is an accepted title one a brand could ship? Precision, recall and rejection reasons, measured.

Two measurements, per catalog, language, engine and style:

* labelled: every title of the hand-labelled evaluation set (creative/copy/data/eval/titles_*.jsonl) is
  judged by the model-free guardrails (the same `title_reasons` the pipeline runs) and compared with its
  label. Deterministic; no model.
* real run: the pipeline generates for every product of both catalogs (the embedded model for English,
  grammar for Chinese since the embedded model writes no Chinese; grammar tops up short styles). An
  accepted title is judged by its label when the set holds the exact same text for that product; the
  others are counted as unlabelled and listed, never guessed.

    python benchmarks/copy_quality.py                 # both parts, 12 model samples per style
    python benchmarks/copy_quality.py --no-model      # labelled part only
    python benchmarks/copy_quality.py --sample 20     # also 20 accepted titles per language, at random
    python benchmarks/copy_quality.py --dump run.jsonl / --recorded run.jsonl   # keep a run / tally it again

Baseline in the same run: the labelled part is also judged without the checks issue 11 added
(copy.evaluation.NEW_CHECKS: entity, category, grounding, keyword lists, repeated words, cut inside a
feature, "was" without the current price). That approximates the old guardrails; their tokenizer-based
invented-word check is not reproduced, so the old precision shown is an upper bound.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import fields
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assets.samples import SAMPLES_DIR  # noqa: E402
from creative.copy.evaluation import (  # noqa: E402
    TARGET_PER_STYLE,
    TARGET_PRECISION,
    Label,
    Tally,
    brands_of,
    catalog_files,
    judge_labelled,
    load_labels,
    load_products,
    mistakes,
)
from creative.copy.pipeline import Candidate, CopyPipeline  # noqa: E402
from creative.copy.styles import STYLES  # noqa: E402

CATALOGS = catalog_files(SAMPLES_DIR)


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def generate_run(products: dict, model: str | None, cache_dir: str, per_style: int, seed: int, n: int,
                 dump: Path | None = None) -> tuple[list[tuple[str, Candidate]], str]:
    """Every candidate the pipeline gives for every product (model for English, grammar top-ups), as the CLI would."""
    pipe = CopyPipeline(model_spec=model, cache_dir=cache_dir, brands=brands_of(products), per_style=per_style, seed=seed)
    rows = []
    for (catalog, _), product in products.items():
        cands = pipe.titles(product, n=n, engine="lm", fill=True)
        if dump is not None:
            with dump.open("a", encoding="utf-8") as f:
                for c in cands:
                    f.write(json.dumps({"catalog": catalog, **c.to_json()}, ensure_ascii=False) + "\n")
        rows += [(catalog, c) for c in cands]
    return rows, f"{pipe.model_name or 'grammar'}, {per_style} samples per style, seed {seed}"


def recorded_run(path: Path) -> list[tuple[str, Candidate]]:
    """A run written by --dump: the same candidates and verdicts, to judge against labels added since."""
    names = {f.name for f in fields(Candidate)}
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        rows.append((data["catalog"], Candidate(**{k: v for k, v in data.items() if k in names})))
    return rows


def tally_run(products: dict, labels: list[Label], rows: list[tuple[str, Candidate]]):
    """Tallies of a run against the labels: an accepted title not in the set is counted as unlabelled, never guessed."""
    index = {(lab.catalog, lab.product_id, lab.text): lab for lab in labels}
    tallies: dict[tuple, Tally] = defaultdict(Tally)
    per_style_counts: dict[tuple, int] = {(c, pid, s): 0 for (c, pid) in products for s in STYLES}
    accepted_rows, unlabelled = [], []
    for catalog, c in rows:
        lab = index.get((catalog, c.product_id, c.text))
        accepted = c.status == "accepted"
        for group in ((catalog, c.language, c.engine, c.style), ("all", c.language, "all", "all")):
            tallies[group].add(accepted, None if lab is None else lab.shippable, c.reasons)
        if accepted:
            per_style_counts[(catalog, c.product_id, c.style)] += 1
            accepted_rows.append((catalog, c.product_id, c))
            if lab is None:
                unlabelled.append(f"{catalog} {c.product_id} {c.style:11} {c.engine:7} {c.text!r}")
    return tallies, per_style_counts, accepted_rows, unlabelled


def print_table(title: str, tallies: dict[tuple, Tally], real: bool = False) -> None:
    print(f"\n### {title}\n")
    head = "| catalog | lang | engine | style | candidates | shippable | accepted | precision | recall | top rejection reasons |"
    if real:
        head = head.replace("| precision |", "| unlabelled acc. | precision |")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for key in sorted(tallies, key=lambda k: (k[0] == "all", k)):
        t = tallies[key]
        top = ", ".join(f"{r} {n}" for r, n in t.reasons.most_common(3))
        ship = f"{t.shippable}/{t.labelled}"
        extra = f" {t.accepted_unlabelled} |" if real else ""
        print(f"| {' | '.join(key)} | {t.candidates} | {ship} | {t.accepted} |{extra} {_fmt(t.precision)} | {_fmt(t.recall)} | {top} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--no-model", action="store_true", help="labelled set only")
    ap.add_argument("--model", default=None, help="a local model directory or .gguf (default: the embedded model)")
    ap.add_argument("--cache-dir", default=os.path.join(tempfile.gettempdir(), "creative-copy-quality-models"))
    ap.add_argument("--per-style", type=int, default=12, help="model samples per style and product")
    ap.add_argument("--n", type=int, default=TARGET_PER_STYLE, help="accepted titles wanted per style (grammar tops up)")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--sample", type=int, default=0, help="print this many accepted titles per language, at random")
    ap.add_argument("--mistakes", action="store_true", help="list labelled titles judged against their label")
    ap.add_argument("--unlabelled", action="store_true", help="list accepted real-run titles the set does not hold")
    ap.add_argument("--dump", type=Path, default=None, help="append every real-run candidate to this JSON-lines file")
    ap.add_argument("--recorded", type=Path, default=None, help="tally a run written by --dump instead of generating one")
    args = ap.parse_args()
    # One thread: the same samples on every run (and the machine is shared).
    os.environ.setdefault("CREATIVE_TORCH_THREADS", "1")

    products = load_products(CATALOGS)
    labels = load_labels()
    counts = Counter((lab.catalog, lab.language) for lab in labels)
    print(f"labelled set: {len(labels)} titles ({', '.join(f'{c}/{lang} {n}' for (c, lang), n in sorted(counts.items()))}), "
          f"{sum(lab.shippable for lab in labels)} shippable; products: {len(products)}")

    base = judge_labelled(products, labels, baseline=True)
    now = judge_labelled(products, labels)
    print_table("Labelled set, current guardrails", now)
    print("\nBaseline in the same run (without the checks issue 11 added, copy.evaluation.NEW_CHECKS):")
    for lang in ("en", "zh"):
        b, c = base[("all", lang, "all", "all")], now[("all", lang, "all", "all")]
        print(f"  {lang}: precision {_fmt(b.precision)} -> {_fmt(c.precision)}, recall {_fmt(b.recall)} -> {_fmt(c.recall)}")
    if args.mistakes:
        print("\nLabelled titles judged against their label:")
        print("\n".join("  " + m for m in mistakes(products, labels)) or "  none")
    if args.no_model:
        return 0

    if args.recorded:
        rows, what = recorded_run(args.recorded), f"recorded in {args.recorded.name}, judged against today's labels"
    else:
        rows, what = generate_run(products, args.model, args.cache_dir, args.per_style, args.seed, args.n, args.dump)
    tallies, per_style, accepted, unlabelled = tally_run(products, labels, rows)
    print_table(f"Real run: {what}", tallies, real=True)
    short = sorted(k for k, v in per_style.items() if v < args.n)
    print(f"\nproduct-styles with >= {args.n} accepted: {len(per_style) - len(short)}/{len(per_style)}"
          + (f"; short: {', '.join(f'{c}/{p}/{s}={per_style[(c, p, s)]}' for c, p, s in short)}" if short else ""))
    for lang in ("en", "zh"):
        t = tallies[("all", lang, "all", "all")]
        ok = t.precision is not None and t.precision >= TARGET_PRECISION
        print(f"  {lang}: precision of accepted {_fmt(t.precision)} over {t.accepted - t.accepted_unlabelled} labelled "
              f"({t.accepted_unlabelled} accepted titles unlabelled), target {TARGET_PRECISION}: {'met' if ok else 'NOT met'}")
    if args.unlabelled:
        print("\nAccepted but not in the labelled set:")
        print("\n".join("  " + u for u in unlabelled) or "  none")
    if args.sample:
        rng = random.Random(args.seed)
        for lang in ("en", "zh"):
            rows = [r for r in accepted if r[2].language == lang]
            print(f"\n{args.sample} accepted {lang} titles at random:")
            for catalog, pid, c in rng.sample(rows, min(args.sample, len(rows))):
                print(f"  {pid:7} {c.style:11} {c.engine:7} {c.text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
