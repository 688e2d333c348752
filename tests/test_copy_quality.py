"""The labelled copy evaluation set, judged by the guardrails: deterministic, no model.

The set (creative/copy/data/eval/titles_*.jsonl) holds titles for the sample catalog and a second
catalog, each labelled shippable or not, with a reason, by a person; benchmarks/copy_quality.py prints
the full table (and a real generation run). Here: the set is what it claims to be, and accepted titles are at least 90% shippable.
"""

from __future__ import annotations

from collections import Counter

import pytest

from assets.samples import SAMPLES_DIR
from creative.copy import evaluation


@pytest.fixture(scope="module")
def products():
    return evaluation.load_products(evaluation.catalog_files(SAMPLES_DIR))


@pytest.fixture(scope="module")
def labels():
    return evaluation.load_labels()


def test_the_labelled_set_covers_both_catalogs_and_languages(products, labels):
    counts = Counter((lab.catalog, lab.language) for lab in labels)
    assert counts[("sample", "en")] + counts[("sample", "zh")] >= 300
    assert counts[("catalog2", "en")] and counts[("catalog2", "zh")]
    for language in ("en", "zh"):
        assert len({pid for (c, pid), p in products.items() if c == "catalog2" and p.language == language}) >= 10
    assert all(lab.reason.strip() for lab in labels)
    assert all((lab.catalog, lab.product_id) in products for lab in labels)
    unshippable = {lab.text for lab in labels if not lab.shippable}
    # the real bad examples are in the set, labelled not shippable
    assert {"Straight Runner: 22% off", "The Trail Pack 20L, was $120", "Daypack: 750 ml; keeps drinks",
            "一壶清风里，半日闲情中", "有了出水顺畅，品茶更自在"} <= unshippable


@pytest.mark.parametrize("language", ["en", "zh"])
def test_accepted_labelled_titles_are_at_least_90_percent_shippable(products, labels, language):
    tally = evaluation.judge_labelled(products, labels)[("all", language, "all", "all")]
    assert tally.precision >= evaluation.TARGET_PRECISION, tally
    assert tally.recall >= 0.5, tally  # strict, but not by refusing everything


def test_the_new_checks_raise_precision_over_the_old_guardrails(products, labels):
    old = evaluation.judge_labelled(products, labels, baseline=True)
    new = evaluation.judge_labelled(products, labels)
    for language in ("en", "zh"):
        assert new[("all", language, "all", "all")].precision > old[("all", language, "all", "all")].precision
