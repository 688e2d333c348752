"""Articles from the real embedded model: no sentence repeats within or across a product's articles, numbers only from the catalog.

Slow (two articles, a few hundred sampled sentences). Set CREATIVE_TEST_MODEL_CACHE to keep the converted model.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from creative.catalog import parse_catalog
from creative.copy.article.variety import repeated_sentences, sentences
from creative.copy.guardrails import normalise
from creative.copy.pipeline import CopyPipeline

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def test_real_model_articles_never_repeat_a_sentence_and_take_every_number_from_the_catalog(real_model):
    catalog = parse_catalog(ROOT / "creative/copy/data/eval/articles_catalog.json", resolve_image=lambda ref: ref)
    product = next(p for p in catalog if p.product_id == "SKU-3005")
    catalog_text = " ".join([product.name, *product.features])
    pipe = CopyPipeline(model=real_model, brands={x for p in catalog for x in (p.brand, p.name)}, seed=0)
    first = pipe.article(product, per_section=4)
    pipe.seed = 1
    second = pipe.article(product, per_section=4, avoid=[first[0].text])

    model_sentences = 0
    for cands in (first, second):
        best, drafts = cands[0], cands[1:]
        assert best.status == "accepted", best.reasons
        said = [s for sec in best.sections for s in sec["sentences"]]
        assert repeated_sentences([s["text"] for s in said]) == []
        for number in re.findall(r"\d+(?:\.\d+)?", best.text):
            assert number in catalog_text or float(number) in {product.price, product.sale_price, product.price - product.sale_price}, number
        for s in said:
            if s["engine"] == "lm":
                model_sentences += 1
                free = s["text"]
                for fact in (*product.features, product.name):
                    free = free.replace(fact, "")
                assert not re.search(r"\d", free), s["text"]  # the model's words carry no number of their own
        assert drafts and all(d.reasons for d in drafts)
    assert model_sentences > 0
    earlier = {normalise(s) for s in sentences(first[0].text, "en")}
    assert not earlier & {normalise(s) for s in sentences(second[0].text, "en")}
