"""Experiments benchmark: ingestion rate and round time, each against a naive baseline in the same run.

    .venv/bin/python benchmarks/experiments_bench.py [--events 1000000] [--creatives 1000] [--users 100000]

- ingestion: events/s from a JSONL file into the default SQLite store (lines parsed in batches, multi-row
  INSERTs in large transactions, aggregates pre-aggregated per batch into one upsert per key), against
  row-at-a-time inserts (one transaction per event, aggregates updated per row) measured on a sample in the
  same run. Other jobs on the machine lower the wall-clock rate; the CPU-second rate shows the engine's own.
- round: closing one round of an experiment with `--creatives` arms and `--users` users, against a naive
  round that rescans the whole event history to rebuild per-creative counts, then runs the same statistics.
Targets (issue 5): >= 100,000 events/s ingestion; round <= 1/10 of the full rescan.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from creative.db import open_database  # noqa: E402
from experiments.decisions import evaluate_round  # noqa: E402
from experiments.events import parse_ts  # noqa: E402
from experiments.model import ArmSnapshot, ExperimentConfig  # noqa: E402
from experiments.policies import make_policy  # noqa: E402
from experiments.rounds import run_round  # noqa: E402
from experiments.simulator import make_creatives  # noqa: E402
from experiments.store import ExperimentStore  # noqa: E402

T0 = datetime(2025, 6, 1, tzinfo=timezone.utc)


def write_events(path: Path, experiment_id: str, creative_ids: list[str], n_impressions: int, n_users: int, seed: int, prefix: str,
                 seconds: float = 86_400.0) -> int:
    """A JSONL file of impressions and ~2% clicks, spread over a day (so no user trips the rate limit)."""
    rng = np.random.default_rng(seed)
    users = rng.integers(n_users, size=n_impressions)
    creatives = rng.integers(len(creative_ids), size=n_impressions)
    offsets = np.sort(rng.uniform(0, seconds, n_impressions))
    clicked = rng.random(n_impressions) < 0.02
    n = 0
    stamp_cache: dict[int, str] = {}

    def stamp(sec: float) -> str:
        key = int(sec)
        if key not in stamp_cache:
            stamp_cache[key] = (T0 + timedelta(seconds=key)).isoformat().replace("+00:00", "Z")
        return stamp_cache[key]

    with path.open("w") as handle:
        for j in range(n_impressions):
            u, c = f"u{users[j]}", creative_ids[creatives[j]]
            eid = f"{prefix}{j}"
            handle.write(f'{{"event_id": "{eid}", "type": "impression", "ts": "{stamp(offsets[j])}", "experiment": "{experiment_id}", '
                         f'"creative": "{c}", "user": "{u}", "size": "300x250"}}\n')
            n += 1
            if clicked[j]:
                handle.write(f'{{"event_id": "{eid}c", "type": "click", "ts": "{stamp(offsets[j] + 30)}", "experiment": "{experiment_id}", '
                             f'"creative": "{c}", "user": "{u}", "size": "300x250", "impression_id": "{eid}"}}\n')
                n += 1
    return n


def naive_ingest(engine, experiment_id: str, path: Path, limit: int) -> tuple[int, float, float]:
    """Baseline: one event at a time, each in its own transaction, aggregates updated per row."""
    started, cpu = time.perf_counter(), time.process_time()
    done = 0
    with path.open() as handle:
        for line in handle:
            if done >= limit:
                break
            ev = json.loads(line)
            with engine.begin() as conn:
                exists = conn.execute(text("SELECT 1 FROM exp_events WHERE experiment_id = :e AND event_id = :i"),
                                      {"e": experiment_id, "i": ev["event_id"]}).first()
                if exists:
                    continue
                round_no = conn.execute(text("SELECT current_round FROM exp_experiments WHERE experiment_id = :e"), {"e": experiment_id}).scalar()
                kind = "i" if ev["type"] == "impression" else "c"
                conn.execute(text("INSERT INTO exp_events (experiment_id, event_id, kind, ts_ms, creative_id, user_id, size, impression_id, round_no) "
                                  "VALUES (:e, :i, :k, :t, :c, :u, :s, :imp, :r)"),
                             {"e": experiment_id, "i": ev["event_id"], "k": kind, "t": parse_ts(ev["ts"]), "c": ev["creative"], "u": ev["user"],
                              "s": ev.get("size"), "imp": ev.get("impression_id"), "r": round_no})
                di, dc = (1, 0) if kind == "i" else (0, 1)
                conn.execute(text("INSERT INTO exp_arm_stats VALUES (:e, :r, :c, :di, :dc) ON CONFLICT (experiment_id, round_no, creative_id) "
                                  "DO UPDATE SET impressions = impressions + :di, clicks = clicks + :dc"),
                             {"e": experiment_id, "r": round_no, "c": ev["creative"], "di": di, "dc": dc})
                conn.execute(text("INSERT INTO exp_user_stats VALUES (:e, :u, :c, :di, :dc) ON CONFLICT (experiment_id, user_id, creative_id) "
                                  "DO UPDATE SET impressions = impressions + :di, clicks = clicks + :dc"),
                             {"e": experiment_id, "u": ev["user"], "c": ev["creative"], "di": di, "dc": dc})
            done += 1
    return done, time.perf_counter() - started, time.process_time() - cpu


def rescan_round(engine, experiment_id: str) -> float:
    """Baseline round: rebuild every arm's counts from the whole event history, then the same statistics."""
    started = time.perf_counter()
    store = ExperimentStore(engine)
    with engine.connect() as conn:
        exp = conn.execute(text("SELECT current_round, policy, policy_params, config, allocation FROM exp_experiments WHERE experiment_id = :e"),
                           {"e": experiment_id}).one()
        rows = conn.execute(text("SELECT creative_id, round_no = :r AS open_round, "
                                 "SUM(CASE WHEN kind = 'i' THEN 1 ELSE 0 END), SUM(CASE WHEN kind = 'c' THEN 1 ELSE 0 END) "
                                 "FROM exp_events WHERE experiment_id = :e GROUP BY creative_id, round_no = :r"),
                            {"e": experiment_id, "r": exp[0]}).all()
    counts: dict[str, list[int]] = {}
    for cid, is_open, imps, clicks in rows:
        c = counts.setdefault(cid, [0, 0, 0, 0])
        c[0] += imps
        c[1] += clicks
        if is_open:
            c[2] += imps
            c[3] += clicks
    loads = (lambda v: json.loads(v) if isinstance(v, str) else v)
    arms = [ArmSnapshot(a.id, "active", *counts.get(a.id, [0, 0, 0, 0])) for a in store.arms(experiment_id)]
    evaluate_round(arms, exp[0], ExperimentConfig.from_dict(loads(exp[3])), make_policy(exp[1], **loads(exp[2])), loads(exp[4]))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="impressions in the history (clicks add ~2%%)")
    parser.add_argument("--creatives", type=int, default=1_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=4, help="rounds the history is spread over")
    parser.add_argument("--naive-sample", type=int, default=5_000, help="events for the row-at-a-time baseline")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="exp-bench-"))
    engine = open_database(f"sqlite:///{work / 'bench.db'}")
    store = ExperimentStore(engine)
    arms = make_creatives(args.creatives, seed=0)
    # the round limit is raised so the history's rounds never stop the experiment
    exp = store.create_experiment("bench", arms, "thompson", config={"max_rounds": 10_000, "draws": 1000})
    ids = [a.id for a in arms]

    per_round = args.events // args.rounds
    ingest_seconds = ingest_cpu = 0.0
    ingested = 0
    for r in range(args.rounds):
        path = work / f"events-{r}.jsonl"
        write_events(path, exp, ids, per_round, args.users, seed=r, prefix=f"r{r}-")
        started, cpu = time.perf_counter(), time.process_time()
        report = store.ingest_file(exp, path)
        ingest_seconds += time.perf_counter() - started
        ingest_cpu += time.process_time() - cpu
        ingested += report.lines
        assert report.rejected_total == 0 and report.duplicates == 0, report.rejected
        if r < args.rounds - 1:
            run_round(engine, exp)
        path.unlink()

    # baseline ingestion into a separate experiment of the same database (same table sizes)
    naive_exp = store.create_experiment("bench-naive", arms, "thompson")
    path = work / "naive.jsonl"
    write_events(path, naive_exp, ids, args.naive_sample, args.users, seed=99, prefix="n")
    naive_n, naive_seconds, naive_cpu = naive_ingest(engine, naive_exp, path, args.naive_sample)

    # the open round holds the last file's events; time both ways of closing it
    rescan = min(rescan_round(engine, exp) for _ in range(3))
    started = time.perf_counter()
    result = run_round(engine, exp)
    incremental = time.perf_counter() - started
    total_events = engine.connect().execute(text("SELECT COUNT(*) FROM exp_events WHERE experiment_id = :e"), {"e": exp}).scalar()

    rate, naive_rate = ingested / ingest_seconds, naive_n / naive_seconds
    cpu_rate, naive_cpu_rate = ingested / ingest_cpu, naive_n / naive_cpu
    rows = [
        ("ingestion (events/s wall, from JSONL)", f"{rate:,.0f}", f"{naive_rate:,.0f}", f"{rate / naive_rate:,.1f}x", ">= 100,000/s", rate >= 100_000),
        ("ingestion (events per CPU-second)", f"{cpu_rate:,.0f}", f"{naive_cpu_rate:,.0f}", f"{cpu_rate / naive_cpu_rate:,.1f}x", "(context)", cpu_rate >= 100_000),
        (f"round ({args.creatives} creatives, {args.users:,} users; s)", f"{incremental:.3f}", f"{rescan:.3f}", f"{incremental / rescan:.3f}",
         "<= 0.1 of rescan", incremental <= rescan / 10),
    ]
    import os

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"history: {total_events:,} events in {args.rounds} rounds; round {result.round_no} decision {result.decision.kind}; "
          f"SQLite at {work}; {os.cpu_count()} CPUs, load average {load:.1f}")
    header = ("measure", "engine", "naive baseline", "ratio", "target", "met")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(r[:5] + ("yes" if r[5] else "NO",), widths)))


if __name__ == "__main__":
    main()
