"""`creative serve --workers 2` on one port, against PostgreSQL and Redis on this machine.

The server is the real CLI in a subprocess. Requests go over fresh connections, so the kernel hands them
to either worker; each response names its worker (X-Served-By). Behind a trusted proxy (127.0.0.1), each
simulated client has its own forwarded address. After a clean SIGTERM, what the database holds is
compared with what clients were answered, event id by event id, and with the experiment's counters.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import func, select
from support.processes import free_port, stop_process_group, wait_until

from creative.cli import cli
from creative.db import open_database
from creative.home import Home, resolve_home
from creative.services import Workspace
from creative.web.recorder import write_spool_file
from creative.web.shared_state import SharedState
from experiments import tables as xt
from experiments.events import IMPRESSION, Event

REDIS_URL = "redis://127.0.0.1:6379/0"
ADDRESS_LIMIT = 40  # --serve-limit: serve + click per client address per minute
USER_LIMIT = 10  # the experiment's max_events_per_user_minute
LEFTOVERS = 50  # events a previous run left spooled, plus a crash's .tmp file
TORN_LEFTOVERS = 20


@pytest.fixture
def redis_prefix():
    """A key namespace of this test alone in the local Redis, emptied afterwards; skips where no Redis answers."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis answers at {REDIS_URL} ({exc}); start one to run the several-worker tests")
    prefix = f"creative-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


def experiment_on(home: Home, n: int = 4) -> str:
    """n banners, each advertising its own catalog offer (so clicks have a landing page)."""
    from PIL import Image

    from creative.catalog import import_catalog
    from creative.creatives import Creative
    from creative.services import create_experiment

    ws = Workspace.of(home)
    out = home.output_dir / "workers"
    out.mkdir(parents=True, exist_ok=True)
    catalog = out / "catalog.csv"
    catalog.write_text("product_id,name,brand,category,price,language,landing_url\n"
                       + "".join(f"W-{i},Worker thing {i},Acme,things,10,en,https://shop.example.com/p/{i}\n" for i in range(n)))
    import_catalog(ws.engine, catalog, lambda ref: None)
    creatives = []
    for i in range(n):
        path = out / f"w{i}.png"
        Image.new("RGB", (300, 250), (60 * i, 90, 160)).save(path)
        creatives.append(Creative(creative_id=f"w-{i}", template="hero", size="300x250", elements={}, offer_id=f"W-{i}",
                                  file=str(path), attributes={"colour": ["red", "blue"][i % 2]}))
    return create_experiment(ws, "two workers", creatives, "thompson", config={"max_events_per_user_minute": USER_LIMIT}).experiment_id


def leave_leftovers(home: Home, experiment_id: str) -> set[str]:
    """What an earlier server left in the spool: a finished file, and a crashed writer's .tmp with a torn last line."""
    now = int(time.time() * 1000)

    def impressions(tag: str, n: int) -> list[Event]:
        return [Event(f"{tag}{k}", IMPRESSION, now, experiment_id, f"w-{k % 4}", f"{tag}-user{k}", "300x250") for k in range(n)]

    spooled, torn = impressions("left", LEFTOVERS), impressions("torn", TORN_LEFTOVERS + 1)
    home.spool_dir.mkdir(parents=True, exist_ok=True)
    write_spool_file(home.spool_dir, spooled)
    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid names the .tmp: a writer no longer alive
    lines = [json.dumps(ev.to_wire()) + "\n" for ev in torn]
    tmp = home.spool_dir / f"{time.time_ns():020d}-{dead.pid}-000001.tmp"
    tmp.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    return {ev.event_id for ev in spooled + torn[:-1]}


@dataclass
class Answers:
    """What clients were answered, by status, and which workers answered."""

    bodies: list[dict] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    workers: set[str] = field(default_factory=set)
    clicks_recorded: int = 0

    def take(self, r: httpx.Response) -> None:
        self.statuses.append(r.status_code)
        self.workers.add(r.headers.get("x-served-by", "?"))
        if r.status_code == 200:
            self.bodies.append(r.json())
        self.clicks_recorded += r.headers.get("x-click-recorded") == "yes"

    def count(self, status: int) -> int:
        return self.statuses.count(status)


def send(base: str, requests: list[tuple[str, str]], threads: int = 8) -> Answers:
    """GET each (path, forwarded client address), each on a fresh connection so both workers take some."""
    answers = Answers()

    def one(item: tuple[str, str]) -> httpx.Response:
        path, address = item
        with httpx.Client(base_url=base, timeout=120, limits=httpx.Limits(max_keepalive_connections=0)) as client:
            return client.get(path, headers={"x-forwarded-for": address})

    with ThreadPoolExecutor(threads) as pool:
        for r in pool.map(one, requests):
            answers.take(r)
    return answers


def limited_phase(base: str, make_requests, served: list[dict], attempts: int = 6) -> Answers:
    """Run a burst within one clock minute (the limits' window) that both workers answered; a burst that crossed
    a minute or happened to reach one worker only proves nothing and is sent again, on fresh keys. Every
    attempt's answered impressions go into `served`: a burst sent again was still served and stored."""
    for attempt in range(attempts):
        minute = int(time.time() // 60)
        answers = send(base, make_requests(attempt))
        served.extend(answers.bodies)
        if int(time.time() // 60) == minute and len(answers.workers) == 2:
            return answers
    pytest.fail(f"{attempts} bursts each crossed a minute or reached one worker only")


def stored(home: Home, experiment_id: str, kind: str) -> list[str]:
    with open_database(home.db_url).connect() as conn:
        return list(conn.execute(select(xt.events.c.event_id).where(xt.events.c.experiment_id == experiment_id, xt.events.c.kind == kind)).scalars())


def counted(home: Home, experiment_id: str) -> tuple[int, int]:
    """Impressions and clicks in the experiment's counters (what rounds decide on)."""
    with open_database(home.db_url).connect() as conn:
        row = conn.execute(select(func.sum(xt.arm_stats.c.impressions), func.sum(xt.arm_stats.c.clicks))
                           .where(xt.arm_stats.c.experiment_id == experiment_id)).one()
    return int(row[0] or 0), int(row[1] or 0)


@pytest.mark.postgres
def test_two_workers_share_limits_and_store_every_answered_event_once(tmp_path: Path, pg_url: str, redis_prefix: str):
    home = resolve_home(tmp_path / "home", pg_url)
    experiment_id = experiment_on(home)
    leftovers = leave_leftovers(home, experiment_id)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    exe = Path(sys.executable).parent / "creative"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(exe), "--home", str(home.root), "--db", pg_url, "serve", "--port", str(port), "--workers", "2",
             "--redis", REDIS_URL, "--redis-prefix", redis_prefix, "--forwarded-allow-ips", "127.0.0.1",
             "--serve-limit", str(ADDRESS_LIMIT), "--no-scheduler", "--flush-interval", "0.1", "--log-level", "warning"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, "CREATIVE_HOME": str(home.root)})
    try:
        ready_workers: set[str] = set()

        def both_ready() -> bool:
            if server.poll() is not None:
                pytest.fail(f"the server exited: {log_path.read_text()[-3000:]}")
            try:
                r = httpx.get(f"{base}/healthz", timeout=10)  # a new connection each time: either worker may take it
            except httpx.HTTPError:
                return False
            if r.status_code == 200:
                ready_workers.add(r.headers["x-served-by"])
            return len(ready_workers) == 2

        wait_until(both_ready, "both workers to answer /healthz", every=0.1)
        assert httpx.get(f"{base}/healthz", timeout=30).json()["limits_and_views"] == "shared in Redis"
        q = f"/v1/serve?experiment={experiment_id}&size=300x250"

        # several hundred serves and clicks, each client its own address
        bulk = send(base, [(f"{q}&user=u{i}", f"10.1.{i // 200}.{i % 200}") for i in range(400)])
        assert bulk.count(200) == 400, bulk.statuses
        clicks = send(base, [(b["click_url"].removeprefix(base), f"10.1.{i // 200}.{i % 200}") for i, b in enumerate(bulk.bodies[:150])])
        assert clicks.count(302) == 150 and clicks.clicks_recorded == 150
        assert len(bulk.workers | clicks.workers) == 2, "both workers served"

        # one user's limit (per address, per minute), spread over both workers: met at the same count as on one
        limited: list[dict] = []  # every limited burst's answered impressions, the ones sent again included
        hot = limited_phase(base, lambda a: [(f"{q}&user=hot{a}", f"10.2.{a}.1")] * (3 * USER_LIMIT), limited)
        assert (hot.count(200), hot.count(429)) == (USER_LIMIT, 2 * USER_LIMIT)
        # one address's limit likewise, over many users
        busy = limited_phase(base, lambda a: [(f"{q}&user=busy{a}-{i}", f"10.3.{a}.1") for i in range(ADDRESS_LIMIT + 20)], limited)
        assert (busy.count(200), busy.count(429)) == (ADDRESS_LIMIT, 20)
    finally:
        exit_code = stop_process_group(server)
    assert exit_code == 0, log_path.read_text()[-3000:]

    answered = {b["impression_id"] for b in bulk.bodies + limited}
    impressions = stored(home, experiment_id, "i")
    assert len(impressions) == len(set(impressions))
    assert set(impressions) == answered | leftovers  # nothing lost, nothing extra, the leftovers replayed once
    assert len(stored(home, experiment_id, "c")) == 150
    assert counted(home, experiment_id) == (len(answered) + len(leftovers), 150)  # no event counted twice
    assert not list(home.spool_dir.glob("*.jsonl")) and not list(home.spool_dir.glob("*.tmp"))


def test_an_invalidation_reaches_every_process(redis_prefix: str):
    """A view dropped in one process (round closed, experiment stopped) is dropped in the others, not served until its refresh."""
    caches = [SharedState.connect(REDIS_URL, redis_prefix).serving_cache(None, refresh_seconds=3600) for _ in range(2)]  # type: ignore[arg-type]
    try:
        wait_until(lambda: all(c.shared.client.pubsub_numsub(c.channel)[0][1] == 2 for c in caches), "both caches to listen", every=0.05)
        for c in caches:
            c._views.update({"exp-a": object(), "exp-b": object()})
        caches[0].invalidate("exp-a")
        wait_until(lambda: "exp-a" not in caches[1]._views, "the other process to drop exp-a", every=0.02)
        assert "exp-b" in caches[1]._views and "exp-a" not in caches[0]._views
    finally:
        for c in caches:
            c.close()


def test_without_redis_limits_stay_per_process():
    """A Redis that does not answer mid-run: serving goes on, limited per process, instead of failing."""
    counter = SharedState(f"redis://127.0.0.1:{free_port()}/0", "unreachable").window_counter("address", 60)

    async def three_hits() -> list[bool]:
        return [await counter.ahit("10.0.0.1", 2) for _ in range(3)]

    assert asyncio.run(three_hits()) == [True, True, False]
    assert counter.shared.health == "per process: Redis is not answering"  # what /healthz reports meanwhile


@pytest.mark.parametrize(("args", "says"), [
    (["--workers", "2"], "--workers 2 needs --redis URL"),
    (["--workers", "2", "--redis", REDIS_URL], "needs a PostgreSQL database"),
    (["--redis", "redis://127.0.0.1:1/0"], "cannot use Redis at redis://127.0.0.1:1/0"),
])
def test_serve_refuses_what_would_not_be_shared(tmp_path: Path, args: list[str], says: str):
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), "serve", "--port", str(free_port()), *args])
    assert result.exit_code != 0 and says in result.output, result.output


def test_several_workers_refuse_a_database_that_does_not_open_before_starting_any(tmp_path: Path, redis_prefix: str):
    """Each worker would fail alike, and be restarted: said once, in one line, instead."""
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), "--db", "postgresql+psycopg://postgres@127.0.0.1:5432/creative_no_such_db",
                                      "serve", "--port", str(free_port()), "--workers", "2", "--redis", REDIS_URL, "--redis-prefix", redis_prefix])
    assert result.exit_code != 0 and "cannot open database" in result.output, result.output


def test_a_spool_temp_file_of_another_host_is_left_to_it_until_abandoned(tmp_path: Path):
    """Hosts sharing a home: a temp file another machine is writing is not taken; one it left a minute ago is recovered."""
    from creative.web.recorder import ABANDONED_AFTER_SECONDS, HOST, recover_leftovers

    line = json.dumps(Event("e1", IMPRESSION, 0, "x", "c", "u", "300x250").to_wire()) + "\n"
    other = "0" * 8 if HOST != "0" * 8 else "1" * 8
    writing = tmp_path / f"{time.time_ns():020d}-{os.getpid()}-000001-{other}.tmp"
    left = tmp_path / f"{time.time_ns():020d}-{os.getpid()}-000002-{other}.tmp"
    for tmp in (writing, left):
        tmp.write_text(line)
    old = time.time() - ABANDONED_AFTER_SECONDS - 1
    os.utime(left, (old, old))
    assert recover_leftovers(tmp_path) == 1
    assert writing.exists() and not left.exists() and left.with_suffix(".jsonl").exists()


def test_login_failures_count_across_processes(redis_prefix: str):
    """Five wrong passwords spread over two workers lock the account on both, as five on one would."""
    throttles = [SharedState.connect(REDIS_URL, redis_prefix).failure_throttle("login", 900) for _ in range(2)]
    now = time.time()
    for i in range(5):
        assert throttles[i % 2].retry_after("account\x00dora", 5, now + i) == 0
        throttles[i % 2].fail("account\x00dora", now + i)
    assert all(t.retry_after("account\x00dora", 5, now + 5) == 895 for t in throttles)  # until the first failure is 15 minutes old
    throttles[0].forgive("account\x00dora")
    assert throttles[1].retry_after("account\x00dora", 5, now + 5) == 0


def test_one_worker_at_a_time_runs_an_exclusive_job(redis_prefix: str):
    """The spool replay and the scheduled-round poll: a second worker asking meanwhile is told no (or waits), not let in."""
    workers = [SharedState.connect(REDIS_URL, redis_prefix) for _ in range(2)]
    with workers[0].exclusive("scheduled-rounds", ttl_seconds=60, wait_seconds=0) as first:
        with workers[1].exclusive("scheduled-rounds", ttl_seconds=60, wait_seconds=0) as second:
            assert (first, second) == (True, False)
    with workers[1].exclusive("scheduled-rounds", ttl_seconds=60, wait_seconds=0) as after:
        assert after
