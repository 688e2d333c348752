"""The labelled copy evaluation set and how the model-free guardrails judge it: pure functions, no model.

The set (data/eval/titles_*.jsonl) holds candidate titles for the sample catalog and a second catalog
(data/eval/catalog2_*.json), each labelled shippable or not, with a reason, by a person. Precision is the
share of accepted titles that are shippable; recall the share of shippable titles that are accepted.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from creative.catalog import Product, parse_catalog
from creative.copy.guardrails import Guardrails
from creative.copy.pipeline import title_reasons

EVAL_DIR = Path(__file__).resolve().parent / "data" / "eval"
TARGET_PRECISION = 0.9
TARGET_PER_STYLE = 3
# Reasons the guardrails of issue 11 added; a baseline ignores them to show the old guardrails' figures.
NEW_CHECKS = ("entity:", "category:", "cut off: stops inside", "cut off: a percentage", "garbled: says", "without the current price",
              "relevance:", "not copy: a list")


def catalog_files(samples_dir: Path) -> dict[str, list[Path]]:
    """The two evaluated catalogs: the sample catalog and the second one written for the evaluation."""
    return {"sample": [samples_dir / "catalog_en.json", samples_dir / "catalog_zh.json"],
            "catalog2": [EVAL_DIR / "catalog2_en.json", EVAL_DIR / "catalog2_zh.json"]}


@dataclass(frozen=True)
class Label:
    catalog: str
    product_id: str
    language: str
    style: str
    engine: str  # lm (a model wrote it), grammar (the templates did), written (by the labeller: the examples and others)
    text: str
    shippable: bool
    reason: str


@dataclass
class Tally:
    """Counts for one group: how many were accepted, how many of those (and of all) are shippable."""

    candidates: int = 0
    shippable: int = 0
    accepted: int = 0
    accepted_shippable: int = 0
    accepted_unlabelled: int = 0
    labelled: int = 0
    reasons: Counter = field(default_factory=Counter)

    def add(self, accepted: bool, shippable: bool | None, reasons: list[str]) -> None:
        self.candidates += 1
        if shippable is not None:
            self.labelled += 1
            self.shippable += shippable
        if accepted:
            self.accepted += 1
            if shippable is None:
                self.accepted_unlabelled += 1
            else:
                self.accepted_shippable += shippable
        else:
            self.reasons.update({r.split(":")[0] for r in reasons})

    @property
    def precision(self) -> float | None:
        judged = self.accepted - self.accepted_unlabelled
        return self.accepted_shippable / judged if judged else None

    @property
    def recall(self) -> float | None:
        return self.accepted_shippable / self.shippable if self.shippable else None


def load_products(catalogs: dict[str, list[Path]]) -> dict[tuple[str, str], Product]:
    return {(name, p.product_id): p for name, paths in catalogs.items() for path in paths
            for p in parse_catalog(path, resolve_image=lambda ref: ref)}


def load_labels(eval_dir: Path = EVAL_DIR) -> list[Label]:
    return [Label(**json.loads(line)) for path in sorted(eval_dir.glob("titles_*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def brands_of(products: dict) -> set[str]:
    return {p.brand for p in products.values()}


def _judge(products: dict, labels: list[Label]):
    brands = brands_of(products)
    guards: dict[tuple, Guardrails] = {}
    for lab in labels:
        key = (lab.catalog, lab.product_id)
        if key not in guards:
            guards[key] = Guardrails.for_product(products[key], brands)
        yield lab, title_reasons(lab.text, lab.style, guards[key], engine=lab.engine)[0]


def judge_labelled(products: dict, labels: list[Label], baseline: bool = False) -> dict[tuple, Tally]:
    """Tallies per (catalog, language, engine, style) and per (all, language, all, all)."""
    tallies: dict[tuple, Tally] = defaultdict(Tally)
    for lab, reasons in _judge(products, labels):
        if baseline:
            reasons = [r for r in reasons if not any(tag in r for tag in NEW_CHECKS)]
        for group in ((lab.catalog, lab.language, lab.engine, lab.style), ("all", lab.language, "all", "all")):
            tallies[group].add(not reasons, lab.shippable, reasons)
    return tallies


def mistakes(products: dict, labels: list[Label]) -> list[str]:
    """Every labelled title the guardrails judge differently from its label (to read, not to tune blindly)."""
    out = []
    for lab, reasons in _judge(products, labels):
        if (not reasons) != lab.shippable:
            verdict = "ACCEPTED, unshippable" if not reasons else "REFUSED, shippable"
            out.append(f"{verdict:22} {lab.product_id} {lab.style:11} {lab.text!r}  label: {lab.reason} | guard: {'; '.join(reasons)[:120]}")
    return out
