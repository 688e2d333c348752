"""The embedded model for real, judged against the labelled set: slow (a GGUF conversion and a few hundred samples).

Set CREATIVE_TEST_MODEL_CACHE to a directory to keep the converted model between local runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assets.samples import SAMPLES_DIR
from creative.copy import evaluation
from creative.copy.loading import load_model
from creative.copy.pipeline import CopyPipeline
from creative.copy.styles import STYLES

pytestmark = pytest.mark.slow


def test_real_model_titles_accepted_are_never_ones_labelled_unshippable(real_model):
    products = evaluation.load_products(evaluation.catalog_files(SAMPLES_DIR))
    labels = {(lab.product_id, lab.text): lab for lab in evaluation.load_labels()}
    pipe = CopyPipeline(model=real_model, brands=evaluation.brands_of(products), per_style=8, seed=5)
    judged = 0
    for key in (("sample", "SKU-1003"), ("catalog2", "C2-104")):
        product = products[key]
        cands = pipe.titles(product, n=evaluation.TARGET_PER_STYLE)
        for style in STYLES:
            assert sum(c.status == "accepted" and c.style == style for c in cands) >= evaluation.TARGET_PER_STYLE, style
        for c in cands:
            lab = labels.get((product.product_id, c.text))
            if c.status == "accepted" and lab is not None:
                judged += 1
                assert lab.shippable, (c.text, lab.reason)
    assert judged >= 10  # the set knows most accepted titles (grammar ones all), so this measured something


def test_a_local_model_directory_with_a_chat_template_loads_as_model_dir(real_model, model_cache):
    """`--model DIR`: the converted embedded model is a plain Hugging Face directory with a ChatML template."""
    directory = next(p for p in Path(model_cache).iterdir() if (p / "config.json").is_file())
    local = load_model(directory)
    assert local.name == directory.name and local.tokenizer.chat_template
    ids = local.chat_prompt([{"role": "system", "content": "Write a headline."}, {"role": "user", "content": "Product: Cirrus Umbrella"}])
    assert "<|im_start|>assistant" in local.tokenizer.decode(ids)
