"""Train the article adapter: a LoRA on the embedded SmolLM2-135M that finishes article sentences.

    .venv/bin/python scripts/train_article_adapter.py worksheet > sheet.jsonl   # the sentence starts to write for
    .venv/bin/python scripts/train_article_adapter.py check                     # which written sentences pass the checks
    .venv/bin/python scripts/train_article_adapter.py train                     # ~25 min on 2 cores; writes the adapter

The training products (creative/copy/data/train/products_en.json) are invented and share no product
with the evaluation catalogs; the sentences (sentences_en.jsonl) were written by hand for the starts the
worksheet lists. Only sentences that pass the writer's own checks are trained on. Seeded: the same
data gives the same adapter.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from creative.catalog import parse_catalog  # noqa: E402
from creative.copy.article import tuning  # noqa: E402

DATA = ROOT / "creative/copy/data/train"


def products():
    return parse_catalog(DATA / "products_en.json", resolve_image=lambda ref: ref)


def worksheet() -> None:
    for item in tuning.worksheet(products()):
        print(json.dumps(item, ensure_ascii=False))


def checked(path: Path = DATA / "sentences_en.jsonl") -> tuple[list[tuning.Example], list[tuple[dict, list[str]]]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return tuning.examples(products(), rows)


def check(path: Path) -> None:
    good, bad = checked(path)
    for row, reasons in bad:
        print(f"{row['id']}: {row.get('sentence')!r}: {'; '.join(reasons)}")
    print(f"{len(good)} sentences pass, {len(bad)} refused", file=sys.stderr)


def train(epochs: int, rank: int, lr: float, batch: int, seed: int, out: Path, cache: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from tqdm import tqdm

    from creative.copy.loading import load_model

    torch.manual_seed(seed)
    base = load_model(None, cache, dtype=torch.float32)
    torch.set_num_threads(os.cpu_count() or 1)  # training owns the machine; the loader's load-based guess is for serving
    good, bad = checked()
    print(f"{len(good)} training sentences ({len(bad)} refused by the checks)", file=sys.stderr)
    sequences = [tuning.token_ids(base, e) for e in good]
    model = get_peft_model(base.model, LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.05, task_type="CAUSAL_LM",
                                                  target_modules=list(tuning.LORA_MODULES)))
    model.train()
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    steps = epochs * ((len(sequences) + batch - 1) // batch)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: min(1.0, (s + 1) / 10) * max(0.05, 1 - s / steps))
    rng = random.Random(seed)
    pad = base.tokenizer.pad_token_id if base.tokenizer.pad_token_id is not None else 0
    started = time.perf_counter()
    with tqdm(total=steps, desc="training", unit="step") as bar:
        for epoch in range(epochs):
            order = list(range(len(sequences)))
            rng.shuffle(order)
            order.sort(key=lambda i: len(sequences[i][0]) // 8)  # batches of like lengths: less padding
            batches = [order[i : i + batch] for i in range(0, len(order), batch)]
            rng.shuffle(batches)
            for chunk in batches:
                width = max(len(sequences[i][0]) for i in chunk)
                ids = torch.full((len(chunk), width), pad)
                labels = torch.full((len(chunk), width), -100)
                mask = torch.zeros((len(chunk), width), dtype=torch.long)
                for row, i in enumerate(chunk):
                    tokens, target = sequences[i]
                    ids[row, : len(tokens)] = torch.tensor(tokens)
                    labels[row, len(tokens) - len(target) : len(tokens)] = torch.tensor(target)
                    mask[row, : len(tokens)] = 1
                with torch.autocast("cpu", dtype=torch.bfloat16):  # bf16 matrix units where the CPU has them
                    loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
                loss.backward()
                optimiser.step()
                schedule.step()
                optimiser.zero_grad()
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
                bar.update()
    model = model.to(torch.bfloat16)
    model.save_pretrained(out)
    meta = {"base": base.name, "sentences": len(good), "refused": len(bad), "epochs": epochs, "rank": rank, "lr": lr,
            "batch": batch, "seed": seed, "seconds": round(time.perf_counter() - started)}
    (out / "training.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(meta), file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("worksheet", help="print the sentence starts to write training sentences for")
    c = sub.add_parser("check", help="list the written sentences the writer's checks refuse")
    c.add_argument("sentences", type=Path, nargs="?", default=DATA / "sentences_en.jsonl")
    t = sub.add_parser("train", help="train the adapter and write it")
    t.add_argument("--epochs", type=int, default=3)
    t.add_argument("--rank", type=int, default=8)
    t.add_argument("--lr", type=float, default=3e-4)
    t.add_argument("--batch", type=int, default=8)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", type=Path, default=tuning.ADAPTER_DIR)
    t.add_argument("--cache", type=Path, default=Path.home() / ".cache/creative-train-model")
    args = parser.parse_args()
    if args.command == "worksheet":
        worksheet()
    elif args.command == "check":
        check(args.sentences)
    else:
        args.cache.mkdir(parents=True, exist_ok=True)
        train(args.epochs, args.rank, args.lr, args.batch, args.seed, args.out, args.cache)


if __name__ == "__main__":
    main()
