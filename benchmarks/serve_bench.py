"""Ad-serving throughput and latency on 127.0.0.1, with a count check that no served impression is lost.

Starts `creative serve` (the real CLI, default SQLite store) in a subprocess over a fresh home, then
drives it with keep-alive HTTP/1.1 connections from one asyncio process on the same machine:

  baseline   GET /healthz            the framework + HTTP floor of this server, same run
  serve      GET /v1/serve           choose + sign + buffer an impression
  click      GET /v1/click           verify the token + buffer a click + 302

Then checks that the experiment's store counts every impression answered with 200 (and every click),
and repeats serve under load with SIGTERM sent mid-way: after the server exits, every impression
whose 200 reached the client must be stored; and once more with the database write-locked mid-load by
another connection (the recorder spools meanwhile): after shutdown and the spool's replay, the same holds.
Loops are bounded by request count and by time.

Then the scale-out table: the same serve load against 1 and 2 workers (`--workers 2` shares limits through
Redis on 127.0.0.1:6379), on SQLite and on PostgreSQL (a throwaway database on 127.0.0.1:5432), with the
4-product catalog and with 100,000 more products, and with the experiment's row locked mid-load on
PostgreSQL by another transaction. Each row: req/s, p50/p99, impressions answered 200 vs stored after
SIGTERM and the spool's replay. Rows whose server is absent are skipped, saying why.

    .venv/bin/python benchmarks/serve_bench.py [--requests 20000] [--concurrency 32] [--max-seconds 30] [--scale-requests 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # support.postgres and support.locks: the tests' throwaway database and lock

TARGET_RPS = 1000
TARGET_P99_MS = 50.0
LOCK_SECONDS = 5.0  # the fault phases: another connection holds the database up to this long, mid-load
REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    bodies: list[bytes] = field(default_factory=list)
    seconds: float = 0.0
    errors: int = 0
    workers: Counter = field(default_factory=Counter)  # responses per X-Served-By (several workers only)

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if s < 400)

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        xs = sorted(self.latencies)
        return 1000 * xs[min(len(xs) - 1, int(q * len(xs)))]

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _worker(port: int, paths, phase: Phase, deadline: float, keep_body: bool) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        phase.errors += 1
        return
    try:
        for path in paths:
            if time.perf_counter() > deadline:
                break
            t0 = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            status_line = await reader.readline()
            if not status_line:
                phase.errors += 1
                return
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
                elif line[:12].lower() == b"x-served-by:":
                    phase.workers[line[12:].strip()] += 1
            body = await reader.readexactly(length) if length else b""
            phase.latencies.append(time.perf_counter() - t0)
            status = int(status_line.split()[1])
            phase.statuses[status] = phase.statuses.get(status, 0) + 1
            if keep_body and status == 200:
                phase.bodies.append(body)
    except (OSError, asyncio.IncompleteReadError, ValueError):
        phase.errors += 1  # the server went away mid-request (SIGTERM phase)
    finally:
        writer.close()


async def run_phase(name: str, port: int, paths: list[str], concurrency: int, max_seconds: float, keep_body: bool = False,
                    on_progress=None) -> Phase:
    phase = Phase(name)
    it = iter(paths)  # shared by the workers: each path is sent once
    deadline = time.perf_counter() + max_seconds
    t0 = time.perf_counter()
    tasks = [asyncio.create_task(_worker(port, it, phase, deadline, keep_body)) for _ in range(concurrency)]
    if on_progress is not None:
        tasks.append(asyncio.create_task(on_progress(phase)))
    await asyncio.gather(*tasks)
    phase.seconds = time.perf_counter() - t0
    return phase


HTTP_IMPL = "auto"


def start_server(home: Path, port: int, flush_interval: float, *, db_url: str | None = None, workers: int = 1,
                 redis: tuple[str, str] | None = None) -> subprocess.Popen:
    """`creative serve` over `home` (and `db_url`); with several workers, once each has answered."""
    exe = Path(sys.executable).parent / "creative"
    cmd = [str(exe), "--home", str(home), *(["--db", db_url] if db_url else []), "serve", "--port", str(port), "--serve-limit", "100000000",
           "--no-scheduler", "--log-level", "warning", "--flush-interval", str(flush_interval), "--http", HTTP_IMPL, "--workers", str(workers)]
    if redis:
        cmd += ["--redis", redis[0], "--redis-prefix", redis[1]]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    import urllib.request

    seen: set[str] = set()
    for _ in range(6000):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:  # a new connection each time
                seen.add(r.headers.get("x-served-by", ""))
                if r.status == 200 and len(seen) >= workers:
                    return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.05)
    raise RuntimeError("server did not start")


def health(port: int) -> dict:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
        return json.loads(r.read())


def make_experiment(home: Path, name: str, db_url: str | None = None) -> str:
    """Four registered banners, each advertising its own catalog offer (clicks go to the offer's page)."""
    from PIL import Image

    from creative.catalog import import_catalog
    from creative.creatives import Creative
    from creative.home import resolve_home
    from creative.services import Workspace, create_experiment

    ws = Workspace.of(resolve_home(home, db_url))
    out = ws.home.output_dir / "bench"
    out.mkdir(parents=True, exist_ok=True)
    catalog = out / "catalog.csv"
    catalog.write_text("product_id,name,brand,category,price,language,landing_url\n"
                       + "".join(f"BENCH-{i},Bench thing {i},Bench,things,10,en,https://shop.example.com/p/{i}\n" for i in range(4)))
    import_catalog(ws.engine, catalog, lambda ref: None)
    creatives = []
    for i in range(4):
        path = out / f"b{i}.png"
        Image.new("RGB", (300, 250), (50 * i, 100, 150)).save(path)
        creatives.append(Creative(creative_id=f"bench-{i}", template="hero", size="300x250", elements={}, offer_id=f"BENCH-{i}",
                                  file=str(path), attributes={"colour": ["red", "blue"][i % 2]}))
    return create_experiment(ws, name, creatives, "thompson").experiment_id


def stored_counts(home: Path, experiment_id: str, db_url: str | None = None) -> tuple[int, int]:
    from sqlalchemy import func, select

    from creative.db import open_database
    from creative.home import resolve_home
    from experiments import tables as xt

    engine = open_database(resolve_home(home, db_url).db_url)
    with engine.connect() as conn:
        rows = dict(conn.execute(select(xt.events.c.kind, func.count()).where(xt.events.c.experiment_id == experiment_id)
                                 .group_by(xt.events.c.kind)).all())
    return rows.get("i", 0), rows.get("c", 0)


@dataclass(frozen=True)
class Store:
    """Where a server keeps its data: the home, and its database (None: the home's SQLite file)."""

    home: Path
    db_url: str | None = None

    @property
    def name(self) -> str:
        return "PostgreSQL" if self.db_url else "SQLite"


@dataclass
class ScaleRow:
    store: str
    workers: int
    redis: bool  # limits and views shared through Redis
    catalog: int  # products in the catalog
    phase: Phase
    served: int  # impressions answered 200 (warm-up included)
    stored: int  # impressions stored after SIGTERM and the spool's replay
    locked_seconds: float = 0.0

    @property
    def lost(self) -> int:
        return max(0, self.served - self.stored)


@contextmanager
def database_locked(store: Store, experiment_id: str):
    """Hold the database as a long round or a backup would: SQLite's write lock, or on PostgreSQL the experiment's
    row (every ingestion writes it first), from another connection until the block ends."""
    import sqlalchemy as sa

    from creative.home import resolve_home

    if store.db_url is None:
        from support.locks import sqlite_write_lock

        with sqlite_write_lock(resolve_home(store.home).db_url):
            yield
        return
    engine = sa.create_engine(store.db_url)
    try:
        with engine.connect() as conn, conn.begin() as tx:
            conn.execute(sa.text("SELECT 1 FROM exp_experiments WHERE experiment_id = :e FOR UPDATE"), {"e": experiment_id})
            try:
                yield
            finally:
                tx.rollback()
    finally:
        engine.dispose()


async def scale_row(store: Store, name: str, args, *, requests: int, workers: int = 1, redis: tuple[str, str] | None = None,
                    catalog: int = 4, lock: bool = False) -> ScaleRow:
    """Serve load on a fresh experiment (with `lock`, the database held for LOCK_SECONDS once a third is answered);
    SIGTERM at the end, then the spool replayed as the next start would, and the impressions stored counted."""
    from creative.home import resolve_home
    from creative.services import Workspace
    from creative.services.events import ingest_spool

    experiment_id = make_experiment(store.home, name, store.db_url)
    port = free_port()
    proc = start_server(store.home, port, flush_interval=0.25, db_url=store.db_url, workers=workers, redis=redis)
    q = f"experiment={quote(experiment_id)}&size=300x250"
    deadline = time.perf_counter() + args.max_seconds
    held: list[float] = []

    async def lock_midway(phase: Phase) -> None:
        while phase.statuses.get(200, 0) < requests // 3 and len(phase.latencies) < requests and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
        with database_locked(store, experiment_id):
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < LOCK_SECONDS and len(phase.latencies) < requests:  # not past the load: req/s stays honest
                await asyncio.sleep(0.01)
        held.append(time.perf_counter() - t0)

    try:
        warm = await run_phase("warm-up", port, [f"/v1/serve?{q}&user=warm{i}" for i in range(500)], args.concurrency, args.max_seconds)
        label = f"/v1/serve{' + db lock' if lock else ''}"
        phase = await run_phase(label, port, [f"/v1/serve?{q}&user={name}{i}" for i in range(requests)], args.concurrency,
                                args.max_seconds + (LOCK_SECONDS if lock else 0), on_progress=lock_midway if lock else None)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=300)
    ingest_spool(Workspace.of(resolve_home(store.home, store.db_url)))
    return ScaleRow(store.name, workers, redis is not None, catalog, phase, warm.statuses.get(200, 0) + phase.statuses.get(200, 0),
                    stored_counts(store.home, experiment_id, store.db_url)[0], sum(held))


def add_catalog(store: Store, n: int) -> None:
    """n more products (not in the experiment): serving must look up only the experiment's own."""
    from catalog_fixtures import add_products

    from creative.db import open_database
    from creative.home import resolve_home

    add_products(open_database(resolve_home(store.home, store.db_url).db_url), n)


@contextmanager
def postgres_database():
    """A throwaway database on the local PostgreSQL server (trust auth): its URL, or None where none answers."""
    from support.postgres import admin_engine, database_on

    admin = admin_engine()
    if admin is None:
        yield None
        return
    with database_on(admin, "serve_bench") as url:
        yield url


@contextmanager
def redis_namespace():
    """(URL, a key prefix of this run alone) on the local Redis, its keys deleted afterwards; None where none answers."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        yield None
        return
    prefix = f"serve-bench-{uuid.uuid4().hex[:12]}"
    try:
        yield REDIS_URL, prefix
    finally:
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
        client.close()


async def scale_out(sqlite: Store, tmp: Path, args) -> tuple[list[ScaleRow], list[str]]:
    """The scale-out rows, and why any were skipped."""
    n, big = args.scale_requests, args.catalog_size
    rows = [await scale_row(sqlite, "s1", args, requests=n)]
    add_catalog(sqlite, big)
    rows.append(await scale_row(sqlite, "s1big", args, requests=n, catalog=big + 4))
    skipped = []
    with postgres_database() as pg_url, redis_namespace() as redis:
        if pg_url is None:
            return rows, ["PostgreSQL rows: no PostgreSQL server answers on 127.0.0.1:5432"]
        pg = Store(tmp / "pg-home", pg_url)
        rows.append(await scale_row(pg, "p1", args, requests=n))
        if redis is None:
            skipped.append("2-worker rows: no Redis answers on 127.0.0.1:6379")
        else:
            rows.append(await scale_row(pg, "p1r", args, requests=n, redis=redis))  # what sharing the limits costs one worker
            rows.append(await scale_row(pg, "p2", args, requests=n, workers=2, redis=redis))
        add_catalog(pg, big)
        rows.append(await scale_row(pg, "p1big", args, requests=n, catalog=big + 4))
        if redis is not None:
            rows.append(await scale_row(pg, "p2big", args, requests=n, workers=2, redis=redis, catalog=big + 4))
            rows.append(await scale_row(pg, "p2lock", args, requests=n, workers=2, redis=redis, catalog=big + 4, lock=True))
    return rows, skipped


def scale_table(rows: list[ScaleRow]) -> None:
    print(f"{'store':<12}{'workers':>8}{'limits':>8}{'catalog':>10}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'served':>9}{'stored':>9}{'lost':>6}  notes")
    for r in rows:
        notes = [f"database locked {r.locked_seconds:.1f} s mid-load" if r.locked_seconds else "",
                 "answered by " + " / ".join(str(n) for n in sorted(r.phase.workers.values(), reverse=True)) if len(r.phase.workers) > 1 else "",
                 ",".join(f"{k}:{v}" for k, v in sorted(r.phase.statuses.items()) if k != 200)]
        print(f"{r.store:<12}{r.workers:>8}{'Redis' if r.redis else 'local':>8}{r.catalog:>10,}{r.phase.rps:>8.0f}{r.phase.pct(0.5):>8.2f}{r.phase.pct(0.99):>8.2f}"
              f"{r.served:>9,}{r.stored:>9,}{r.lost:>6}  {'; '.join(n for n in notes if n)}")


def row(phase: Phase) -> str:
    codes = ",".join(f"{k}:{v}" for k, v in sorted(phase.statuses.items()))
    return (f"{phase.name:<20}{len(phase.latencies):>9}{phase.rps:>10.0f}{phase.pct(0.50):>9.2f}{phase.pct(0.99):>9.2f}"
            f"{phase.pct(1.0):>9.1f}  {codes}{'  errors:' + str(phase.errors) if phase.errors else ''}")


async def main_async(args) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    home = tmp / "home"
    failures: list[str] = []
    load_before = os.getloadavg()  # other work on the machine shares the 2 cores: printed with the results
    try:
        experiment_id = make_experiment(home, "bench")
        port = free_port()
        proc = start_server(home, port, flush_interval=0.25)
        try:
            q = f"experiment={quote(experiment_id)}&size=300x250"
            warm = [f"/v1/serve?{q}&user=warm{i}" for i in range(500)]
            await run_phase("warm-up", port, warm, args.concurrency, args.max_seconds)
            baseline = await run_phase("baseline /healthz", port, ["/healthz"] * args.requests, args.concurrency, args.max_seconds)
            serve = await run_phase("/v1/serve", port, [f"/v1/serve?{q}&user=u{i}" for i in range(args.requests)],
                                    args.concurrency, args.max_seconds, keep_body=True)
            tokens = [json.loads(b)["token"] for b in serve.bodies[: args.clicks]]
            click = await run_phase("/v1/click", port, [f"/v1/click?token={t}" for t in tokens], args.concurrency, args.max_seconds)
            for _ in range(400):  # bounded wait for the writer to catch up
                if health(port)["pending_events"] == 0:
                    break
                await asyncio.sleep(0.05)
            h = health(port)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
        stored_i, stored_c = stored_counts(home, experiment_id)
        served_ok = serve.statuses.get(200, 0) + 500  # warm-up impressions count too
        clicked_ok = click.statuses.get(302, 0)

        # SIGTERM mid-load: a fresh experiment, the signal sent once half the requests are answered
        experiment2 = make_experiment(home, "bench-sigterm")
        port2 = free_port()
        proc2 = start_server(home, port2, flush_interval=0.25)
        q2 = f"experiment={quote(experiment2)}&size=300x250"
        half = args.requests // 2

        async def stop_midway(phase: Phase) -> None:
            while phase.statuses.get(200, 0) < half and proc2.poll() is None and len(phase.latencies) < args.requests:
                await asyncio.sleep(0.005)
            proc2.send_signal(signal.SIGTERM)

        term = await run_phase("/v1/serve + SIGTERM", port2, [f"/v1/serve?{q2}&user=t{i}" for i in range(args.requests)],
                               args.concurrency, args.max_seconds, on_progress=stop_midway)
        try:
            proc2.wait(timeout=120)
        finally:
            if proc2.poll() is None:
                proc2.kill()
        term_ok = term.statuses.get(200, 0)
        term_stored, _ = stored_counts(home, experiment2)
        lock_row = await scale_row(Store(home), "l", args, requests=args.requests, lock=True)
        locked, lock_seconds, lock_ok, lock_stored = lock_row.phase, lock_row.locked_seconds, lock_row.served, lock_row.stored
        scale_rows, skipped = await scale_out(Store(home), tmp, args)

        import importlib.util

        http_impl = HTTP_IMPL if HTTP_IMPL != "auto" else ("httptools" if importlib.util.find_spec("httptools") else "h11")
        print(f"\nserve benchmark — {os.cpu_count()} CPUs, SQLite store, uvicorn HTTP parser {http_impl}, {args.concurrency} keep-alive connections, "
              f"load generator on the same machine; load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}\n")
        print(f"{'phase':<20}{'requests':>9}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  status codes")
        for phase in (baseline, serve, click, term, locked):
            print(row(phase))
        print(f"\nserve vs baseline: {serve.rps / baseline.rps:.0%} of /healthz throughput; "
              f"p99 {serve.pct(0.99):.1f} ms vs {baseline.pct(0.99):.1f} ms")
        print("\ncount check (experiment store after shutdown)")
        print(f"  impressions answered 200: {served_ok:>7}   stored: {stored_i:>7}   {'OK' if stored_i == served_ok else 'MISMATCH'}")
        print(f"  clicks answered 302:      {clicked_ok:>7}   stored: {stored_c:>7}   {'OK' if stored_c == clicked_ok else 'MISMATCH'}")
        print(f"  SIGTERM mid-load: 200s received {term_ok}, stored {term_stored}, "
              f"{'OK (none lost)' if term_stored >= term_ok else 'LOST ' + str(term_ok - term_stored)}"
              + (f"; {term_stored - term_ok} more were stored whose responses the closing server did not deliver" if term_stored > term_ok else ""))
        print(f"  database locked {lock_seconds:.1f} s mid-load, then SIGTERM and a restart's spool replay: 200s received {lock_ok}, "
              f"stored {lock_stored}, {'OK (none lost)' if lock_stored >= lock_ok else 'LOST ' + str(lock_ok - lock_stored)}")
        print(f"  recorder: {h['recorded']} recorded, {h['stored']} stored, {h.get('spooled', 0)} spooled, rejected {h['rejected'] or 'none'}")
        print(f"\nscale-out — /v1/serve, {args.scale_requests:,} requests per row after 500 to warm up, {args.concurrency} keep-alive connections; "
              "served = answered 200, stored = in the database after SIGTERM and the spool's replay\n")
        scale_table(scale_rows)
        for reason in skipped:
            print(f"  skipped: {reason}")
        if stored_i != served_ok or stored_c != clicked_ok or term_stored < term_ok or lock_stored < lock_ok or any(r.lost for r in scale_rows):
            failures.append("count check failed")
        verdict_rps = serve.rps >= TARGET_RPS
        verdict_p99 = serve.pct(0.99) < TARGET_P99_MS
        print(f"\ntarget: >= {TARGET_RPS} serve req/s with p99 < {TARGET_P99_MS:.0f} ms")
        print(f"  throughput {serve.rps:.0f} req/s: " + ("met" if verdict_rps else f"MISSED by {TARGET_RPS - serve.rps:.0f} req/s ({1 - serve.rps / TARGET_RPS:.0%})"))
        print(f"  p99 {serve.pct(0.99):.1f} ms: " + ("met" if verdict_p99 else f"MISSED by {serve.pct(0.99) - TARGET_P99_MS:.1f} ms"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000, help="requests per phase (upper bound)")
    parser.add_argument("--clicks", type=int, default=5_000, help="clicks, on tokens from the serve phase")
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections")
    parser.add_argument("--max-seconds", type=float, default=30.0, help="time cap per phase")
    parser.add_argument("--scale-requests", type=int, default=10_000, help="serve requests per scale-out row")
    parser.add_argument("--catalog-size", type=int, default=100_000, help="products added for the large-catalog rows")
    parser.add_argument("--http", choices=["auto", "h11", "httptools"], default="auto", help="uvicorn HTTP parser of the server")
    args = parser.parse_args()
    global HTTP_IMPL
    HTTP_IMPL = args.http
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
