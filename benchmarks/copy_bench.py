"""Copy generation speed: accepted titles per second at batch 1, 8, 32, 64 against naive one-at-a-time generation.

Also: tokens per second, model FLOP utilisation (tokens/s x 2 x parameters / matmul FLOP/s measured here at
the same dtype and thread count), model load time cold (GGUF de-quantisation) and from the cache, peak memory.

    python benchmarks/copy_bench.py                 # bfloat16 where the CPU has it, threads from free cores
    python benchmarks/copy_bench.py --dtype float32 --naive 8 --candidates 64
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def matmul_flops(dtype, shapes=((1024, 1024, 1024), (64, 576, 1536), (64, 576, 49152)), seconds: float = 1.0) -> dict:
    """Best sustained GEMM rate per shape at this dtype and thread count (the MFU denominator is the best)."""
    import torch

    out = {}
    for m, k, n in shapes:
        a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
        for _ in range(3):
            a @ b
        best, t_end = 0.0, time.perf_counter() + seconds
        while time.perf_counter() < t_end:
            t = time.perf_counter()
            for _ in range(5):
                a @ b
            best = max(best, 5 * 2 * m * k * n / (time.perf_counter() - t))
        out[(m, k, n)] = best
    return out


def load_products():
    from creative.catalog import parse_catalog

    return parse_catalog(ROOT / "assets" / "samples" / "catalog_en.json", resolve_image=lambda ref: ref)


def cached_load_in_fresh_process(cache_dir: Path, dtype_name: str) -> tuple[float, float, float]:
    """From the cache in a new process: (weights+tokenizer seconds, torch/transformers import seconds, process wall)."""
    code = (
        "import torch; from creative.copy.loading import load_model;"
        f"lm=load_model(None, cache_dir={str(cache_dir)!r}, dtype=getattr(torch, {dtype_name!r}));"
        "assert lm.from_cache; print(lm.load_seconds, lm.import_seconds)"
    )
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - t
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    load_s, import_s = (float(x) for x in res.stdout.split())
    return load_s, import_s, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=["auto", "bfloat16", "float32"], default="auto")
    parser.add_argument("--batches", default="1,8,32,64")
    parser.add_argument("--candidates", type=int, default=64, help="Candidates generated per batch size (at least one batch).")
    parser.add_argument("--naive", type=int, default=12, help="Titles generated one at a time with model.generate for the baseline.")
    parser.add_argument("--stock", type=int, default=64, help="Also time transformers' generate at this batch (0: skip).")
    parser.add_argument("--cache-dir", default=None, help="Reuse a model cache (skips the cold load measurement unless --cold).")
    parser.add_argument("--cold", action="store_true", help="Measure the cold GGUF load even with --cache-dir.")
    args = parser.parse_args()

    import torch

    from creative.copy.loading import available_threads, default_dtype, load_model
    from creative.copy.model import EMBEDDED_NAME, SamplingConfig
    from creative.copy.pipeline import TITLE_SAMPLING, Candidate, CopyPipeline, _clean
    from creative.copy.styles import STYLES

    dtype = default_dtype() if args.dtype == "auto" else getattr(torch, args.dtype)
    dtype_name = str(dtype).replace("torch.", "")
    threads = available_threads()
    print(f"# copy_bench: {EMBEDDED_NAME}, dtype {dtype_name}, {threads} thread(s) of {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; torch {torch.__version__}", flush=True)

    # -------- load: cold (GGUF -> safetensors cache) and cached
    tmp = Path(tempfile.mkdtemp(prefix="copy-bench-"))
    cache_dir = Path(args.cache_dir) if args.cache_dir else tmp / "models"
    cold_s = None
    if args.cache_dir is None or args.cold:
        if args.cold and args.cache_dir:
            cache_dir = tmp / "models"
        t = time.perf_counter()
        lm = load_model(None, cache_dir=cache_dir, dtype=dtype)
        cold_s = time.perf_counter() - t
        assert not lm.from_cache
        del lm
    cached_s, cached_import_s, cached_proc_s = cached_load_in_fresh_process(cache_dir, dtype_name)
    lm = load_model(None, cache_dir=cache_dir, dtype=dtype)
    torch.set_num_threads(threads)
    params = lm.n_parameters
    print(f"load: cold {'not measured' if cold_s is None else f'{cold_s:.2f} s'} (GGUF de-quantise + save), "
          f"cached {cached_s:.2f} s (+ {cached_import_s:.2f} s importing transformers; new process wall {cached_proc_s:.2f} s)", flush=True)

    flops = matmul_flops(dtype)
    peak = max(flops.values())
    print("matmul FLOP/s at " + dtype_name + ": " + ", ".join(f"{m}x{k}x{n} {v / 1e9:.0f} G" for (m, k, n), v in flops.items()), flush=True)

    products = load_products()
    pipe = CopyPipeline(model=lm, brands={x for p in products for x in (p.brand, p.name)})
    jobs = [(p, s) for p in products for s in STYLES]
    prompts = {(p.product_id, s): pipe.preprocess_title(p, s) for p, s in jobs}
    from creative.copy.guardrails import Guardrails
    from creative.copy.limits import HEADLINE

    guards = {p.product_id: Guardrails.for_product(p, pipe.brands, HEADLINE) for p in products}

    def judge(product, style, text, lp, finished, overflow) -> bool:
        c = Candidate(text, style, product.language, "lm", product.product_id, loglik=lp)
        pipe._judge(c, guards[product.product_id], product, finished, overflow)
        return not c.reasons

    rows = []

    # -------- naive baseline: stock generate, one title per call, prompt re-read every time
    def naive(count: int) -> dict:
        accepted, tokens, prompt_tokens = 0, 0, 0
        torch.manual_seed(0)
        t = time.perf_counter()
        for i in range(count):
            product, style = jobs[i % len(jobs)]
            ids = prompts[(product.product_id, style)]
            with torch.inference_mode():
                out = lm.model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                        do_sample=True, temperature=TITLE_SAMPLING.temperature, top_k=TITLE_SAMPLING.top_k,
                                        top_p=TITLE_SAMPLING.top_p, max_new_tokens=TITLE_SAMPLING.max_new_tokens,
                                        pad_token_id=lm.tokenizer.eos_token_id)
            new = out[0, len(ids):].tolist()
            tokens += len(new)
            prompt_tokens += len(ids)
            text = lm.tokenizer.decode(new, skip_special_tokens=True).split("\n")[0]
            finished = lm.tokenizer.eos_token_id in new or "\n" in lm.tokenizer.decode(new)
            accepted += judge(product, style, _clean(text), None, finished, False)
        dt = time.perf_counter() - t
        return {"mode": "naive generate", "batch": 1, "candidates": count, "accepted": accepted, "seconds": dt,
                "gen_tokens": tokens, "prompt_tokens": prompt_tokens}

    def stock_batched(batch: int) -> dict:
        """transformers' own generate with num_return_sequences: batched, but prompt per row and the stock sampler."""
        product, style = jobs[0]
        ids = prompts[(product.product_id, style)]
        torch.manual_seed(0)
        t = time.perf_counter()
        with torch.inference_mode():
            out = lm.model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                    do_sample=True, temperature=TITLE_SAMPLING.temperature, top_k=TITLE_SAMPLING.top_k,
                                    top_p=TITLE_SAMPLING.top_p, max_new_tokens=TITLE_SAMPLING.max_new_tokens,
                                    num_return_sequences=batch, pad_token_id=lm.tokenizer.eos_token_id)
        dt = time.perf_counter() - t
        accepted = tokens = 0
        for row in out[:, len(ids):].tolist():
            eos = lm.tokenizer.eos_token_id
            body = row[: row.index(eos) + 1] if eos in row else row
            tokens += len(body)
            text = lm.tokenizer.decode(body, skip_special_tokens=True)
            accepted += judge(product, style, _clean(text.split("\n")[0]), None, eos in body or "\n" in text, False)
        return {"mode": "stock generate", "batch": batch, "candidates": batch, "accepted": accepted, "seconds": dt,
                "gen_tokens": tokens, "prompt_tokens": len(ids) * batch}

    def ours(batch: int, total: int) -> dict:
        calls = max(1, -(-total // batch))
        accepted = count = 0
        lm.stats.__init__()
        t = time.perf_counter()
        for i in range(calls):
            product, style = jobs[i % len(jobs)]
            for g in pipe.forward_titles(prompts[(product.product_id, style)], batch, seed=i, limit=HEADLINE):
                count += 1
                accepted += judge(product, style, _clean(g.text), g.mean_logprob, g.finished, g.overflow)
        dt = time.perf_counter() - t
        s = lm.stats
        return {"mode": "shared-prefix sampler", "batch": batch, "candidates": count, "accepted": accepted, "seconds": dt,
                "gen_tokens": s.generated_tokens + count, "prompt_tokens": s.prompt_tokens,
                "prefill_s": s.prefill_seconds, "decode_s": s.decode_seconds, "steps": s.steps}

    lm.generate(prompts[(jobs[0][0].product_id, jobs[0][1])], 2, SamplingConfig(max_new_tokens=2))  # warm-up
    rows.append(naive(args.naive))
    print(f"naive: {rows[-1]['candidates']} titles in {rows[-1]['seconds']:.1f} s", flush=True)
    if args.stock:
        rows.append(stock_batched(args.stock))
        print(f"stock generate batch {args.stock}: {rows[-1]['seconds']:.1f} s", flush=True)
    for b in [int(x) for x in args.batches.split(",")]:
        rows.append(ours(b, max(args.candidates, b)))
        print(f"batch {b}: {rows[-1]['candidates']} titles in {rows[-1]['seconds']:.1f} s", flush=True)

    base = rows[0]
    base_rate = base["candidates"] / base["seconds"]
    base_acc = base["accepted"] / base["seconds"]
    print()
    header = f"{'mode':<22}{'batch':>6}{'titles':>8}{'accepted':>9}{'titles/s':>10}{'accepted/s':>11}{'x naive':>9}{'x naive acc':>12}{'gen tok/s':>10}{'all tok/s':>10}{'MFU':>7}{'MFU gen':>8}"
    print(header)
    print("-" * len(header))
    for r in rows:
        rate = r["candidates"] / r["seconds"]
        acc = r["accepted"] / r["seconds"]
        gen_tps = r["gen_tokens"] / r["seconds"]
        all_tps = (r["gen_tokens"] + r["prompt_tokens"]) / r["seconds"]
        mfu = all_tps * 2 * params / peak
        mfu_gen = gen_tps * 2 * params / peak
        x_acc = f"{acc / base_acc:.1f}" if base_acc > 0 else "n/a"
        print(f"{r['mode']:<22}{r['batch']:>6}{r['candidates']:>8}{r['accepted']:>9}{rate:>10.2f}{acc:>11.2f}{rate / base_rate:>9.1f}{x_acc:>12}{gen_tps:>10.0f}{all_tps:>10.0f}{mfu:>7.1%}{mfu_gen:>8.1%}")
    print()
    for r in rows:
        if r.get("steps"):
            print(f"batch {r['batch']}: prefill {r['prefill_s']:.2f} s, decode {r['decode_s']:.2f} s over {r['steps']} steps "
                  f"({1000 * r['decode_s'] / r['steps']:.0f} ms/step)")
    print(f"parameters {params / 1e6:.1f} M; MFU = (prompt + generated tokens)/s x 2 x parameters / {peak / 1e9:.0f} GFLOP/s "
          f"(best GEMM above); 'MFU gen' counts generated tokens only; peak RSS {peak_rss_mb():.0f} MB")
    best = max((r for r in rows if r["mode"] == "shared-prefix sampler"), key=lambda r: r["candidates"] / r["seconds"])
    print(f"targets: >=15x naive -> {best['candidates'] / best['seconds'] / base_rate:.1f}x titles/s at batch {best['batch']}; "
          f">=25% MFU; cached load < 3 s -> {cached_s:.2f} s")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
