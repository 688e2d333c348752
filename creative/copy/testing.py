"""A tiny randomly initialised chat model for plumbing tests: no download, builds in well under a second.

Its text is noise, so guardrails reject nearly everything it writes; that is the point for tests of
batching, caching, seeding, storing and the grammar top-up.
"""

from __future__ import annotations

import os
from pathlib import Path

from creative.copy.loading import from_pretrained_objects
from creative.copy.model import LanguageModel

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_CORPUS = [
    "Stride Runner breathable mesh upper foam midsole weighs 240 g running commute now $69 was $89 22% off",
    "Product: Brand: Category: Features: Price: Keywords: headline poetic benefit promotion descriptive",
    "Light steps, long roads. Save today. Ready for travel and gift. A quiet hour at dawn.\n",
    "紫砂茶壶 手工拉坯 容量300毫升 出水顺畅 送礼 品茶 限时 特价 折 元",
]


def tiny_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_CORPUS * 4, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token="<|im_start|>", unk_token="<|endoftext|>")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def tiny_model(seed: int = 0, layers: int = 2) -> LanguageModel:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=tokenizer.bos_token_id, tie_word_embeddings=True)
    model = LlamaForCausalLM(config).eval()
    return from_pretrained_objects(model, tokenizer, name="tiny-llama")


def save_tiny_model(directory: str | os.PathLike, seed: int = 0) -> Path:
    """Write a tiny model as a Hugging Face directory, as a user's `--model PATH` would be."""
    lm = tiny_model(seed)
    path = Path(directory)
    lm.model.save_pretrained(path)
    lm.tokenizer.save_pretrained(path)
    return path
