"""What the server processes of one deployment share, so `creative serve --workers N` (and several hosts) act as one server.

`LocalState` keeps everything in the process (one worker, the default); `SharedState` keeps it in Redis:

- rate limits: fixed windows counted by a Lua call per hit, so a client spreading requests over workers
  meets the limit at the same count as against one. Serving awaits them: the hits requested during one
  turn of a worker's event loop go to Redis as one pipeline, and the loop serves on while it answers;
- the login throttle: each key's failures in a sorted set (a sliding window, like `FailureThrottle`);
- serving views: an invalidation (round closed, experiment stopped, catalog imported) is announced on a
  channel every process follows, so no worker serves a stale allocation until its next refresh;
- exclusive jobs: one process at a time replays the spool, one runs the due scheduled rounds.

Events never go through Redis: each worker buffers and spools its own (spool files carry the pid), and
ingestion is idempotent by event id under the experiment's row lock, so a spool replayed by two workers
at once counts nothing twice; the replay lock only saves the duplicate work.

Redis helps but never stops serving: when it fails, each process falls back to its own counters and
views (limits then hold per process) and logs it once, trying Redis again after `RETRY_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import math
import secrets
import threading
import time
from typing import Any, Awaitable, Callable, Iterator, TypeVar
from urllib.parse import urlsplit

import redis
import redis.asyncio

from creative.services import Workspace
from creative.web.errors import WebError
from creative.web.ratelimit import FailureThrottle, WindowCounter
from creative.web.serving import ServingCache

log = logging.getLogger("creative.web.shared_state")

TIMEOUT_SECONDS = 0.25  # a Redis call slower than this is a failing Redis: serving goes on with local state
RETRY_SECONDS = 1.0  # after a failure, how long local state is used before Redis is tried again
T = TypeVar("T")

# Count `cost` hits unless that passes the limit: KEYS[1] the window's counter; ARGV cost, limit, expiry (ms)
_HIT = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local cost = tonumber(ARGV[1])
if used + cost > tonumber(ARGV[2]) then return 0 end
redis.call('INCRBY', KEYS[1], cost)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""
# Forget failures older than the window; return the limit-th latest failure's time, or 0 while under the limit.
# KEYS[1] the key's sorted set (score: time); ARGV now, window, limit
_OLDEST_COUNTED = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local limit = tonumber(ARGV[3])
if redis.call('ZCARD', KEYS[1]) < limit then return '0' end
return redis.call('ZRANGE', KEYS[1], -limit, -limit, 'WITHSCORES')[2]
"""


@functools.cache
def _sha(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


class SharedStateUnavailable(WebError):
    """Redis does not answer at start: the server refuses to run rather than keep limits per process unknowingly."""


def display_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def default_prefix(secret: bytes) -> str:
    """A key namespace every server on the same database derives alike (from its signing secret), and no other does."""
    return f"creative:{hashlib.sha256(b'redis-prefix' + secret).hexdigest()[:16]}"


@contextlib.contextmanager
def _anyway() -> Iterator[bool]:
    yield True


class LocalState:
    """One process: everything in memory."""

    def window_counter(self, name: str, window_seconds: int) -> WindowCounter:
        return WindowCounter(window_seconds)

    def failure_throttle(self, name: str, window_seconds: float) -> FailureThrottle:
        return FailureThrottle(window_seconds)

    def serving_cache(self, ws: Workspace, refresh_seconds: float) -> ServingCache:
        return ServingCache(ws, refresh_seconds=refresh_seconds)

    def exclusive(self, name: str, ttl_seconds: float, wait_seconds: float) -> contextlib.AbstractContextManager[bool]:
        return _anyway()

    @property
    def health(self) -> str:
        return "this process only"


class SharedState:
    """One Redis database (under `prefix`) shared by every worker and host of a deployment."""

    def __init__(self, url: str, prefix: str) -> None:
        timeouts = {"socket_timeout": TIMEOUT_SECONDS, "socket_connect_timeout": TIMEOUT_SECONDS * 4}
        self.client = redis.Redis.from_url(url, **timeouts)
        self._make_async_client = lambda: redis.asyncio.Redis.from_url(url, **timeouts)
        self._async_client: redis.asyncio.Redis | None = None  # made in the event loop that uses it
        self.prefix = prefix
        self._queued: list[tuple[str, list[str], list[Any], asyncio.Future]] = []
        self._sending: set[asyncio.Task] = set()
        self._down_until = 0.0
        self._down = False

    @classmethod
    def connect(cls, url: str, prefix: str) -> "SharedState":
        """Connect and check Redis answers; SharedStateUnavailable (one line) when it doesn't."""
        try:
            shared = cls(url, prefix)
            shared.client.ping()
        except (redis.RedisError, ValueError) as exc:
            raise SharedStateUnavailable(f"cannot use Redis at {display_url(url)} ({exc}); start it, or fix --redis "
                                         "(e.g. redis://127.0.0.1:6379/0)") from exc
        return shared

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    @property
    def health(self) -> str:
        """For /healthz: whether limits and views are shared now, or per process while Redis fails."""
        return "per process: Redis is not answering" if self._down else "shared in Redis"

    def attempt(self, call: Callable[[], T], fallback: Callable[[], T]) -> T:
        """`call()` against Redis; `fallback()` when it fails, and for `RETRY_SECONDS` after, without waiting on Redis."""
        if self._down and time.monotonic() < self._down_until:
            return fallback()
        try:
            result = call()
        except redis.RedisError as exc:
            self._failed(exc)
            return fallback()
        self._answered()
        return result

    async def attempt_async(self, call: Callable[[], Awaitable[T]], fallback: Callable[[], T]) -> T:
        """`attempt` for the event loop: waits on Redis without blocking the loop."""
        if self._down and time.monotonic() < self._down_until:
            return fallback()
        try:
            result = await call()
        except redis.RedisError as exc:
            self._failed(exc)
            return fallback()
        self._answered()
        return result

    def _failed(self, exc: Exception) -> None:
        if not self._down:
            log.warning("Redis failed (%s): limits and serving views are per process until it answers again", exc)
        self._down, self._down_until = True, time.monotonic() + RETRY_SECONDS

    def _answered(self) -> None:
        if self._down:
            log.warning("Redis answers again: limits and serving views are shared again")
            self._down = False

    async def evaluate(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Run a Lua script in the pipeline of this turn of the event loop: the first call of a turn schedules the
        send for the next turn, after every request ready now has queued its own."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queued.append((script, keys, args, future))
        if len(self._queued) == 1:
            loop.call_soon(self._send_queued)
        return await future

    def _send_queued(self) -> None:
        batch, self._queued = self._queued, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)  # held until done: the loop keeps only weak references to tasks
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[str, list[str], list[Any], asyncio.Future]]) -> None:
        if self._async_client is None:
            self._async_client = self._make_async_client()
        try:
            results = await self._pipeline(batch, by_sha=True)
            if missing := [i for i, r in enumerate(results) if isinstance(r, redis.exceptions.NoScriptError)]:  # Redis restarted
                for i, result in zip(missing, await self._pipeline([batch[i] for i in missing], by_sha=False)):
                    results[i] = result
        except (redis.RedisError, OSError) as exc:
            results = [exc if isinstance(exc, redis.RedisError) else redis.ConnectionError(str(exc))] * len(batch)
        for (*_, future), result in zip(batch, results):
            if not future.done():
                future.set_exception(result) if isinstance(result, Exception) else future.set_result(result)

    async def _pipeline(self, batch: list, by_sha: bool) -> list[Any]:
        """The scripts' results (an exception for each that failed); by their digest (what Redis keeps of a script it ran),
        else by their text, which also makes Redis keep them."""
        pipe = self._async_client.pipeline(transaction=False)
        for script, keys, args, _ in batch:
            if by_sha:
                pipe.evalsha(_sha(script), len(keys), *keys, *args)
            else:
                pipe.eval(script, len(keys), *keys, *args)
        return await pipe.execute(raise_on_error=False)

    def window_counter(self, name: str, window_seconds: int) -> "SharedWindowCounter":
        return SharedWindowCounter(self, name, window_seconds)

    def failure_throttle(self, name: str, window_seconds: float) -> "SharedFailureThrottle":
        return SharedFailureThrottle(self, name, window_seconds)

    def serving_cache(self, ws: Workspace, refresh_seconds: float) -> "SharedServingCache":
        return SharedServingCache(ws, self, refresh_seconds)

    @contextlib.contextmanager
    def exclusive(self, name: str, ttl_seconds: float, wait_seconds: float) -> Iterator[bool]:
        """Hold the deployment-wide lock `name` (it expires after `ttl_seconds` should its holder die); yields whether
        it was had within `wait_seconds`. When Redis fails, yields False: the caller decides whether to go on alone."""
        lock = self.client.lock(self.key("lock", name), timeout=ttl_seconds, blocking_timeout=wait_seconds, thread_local=False)
        held = self.attempt(lambda: bool(lock.acquire(blocking=wait_seconds > 0)), lambda: False)
        try:
            yield held
        finally:
            if held:
                with contextlib.suppress(redis.RedisError):  # expired meanwhile, or Redis gone: the TTL frees it
                    lock.release()


class SharedWindowCounter:
    """`WindowCounter` over Redis: the same fixed, clock-aligned windows, counted once for all processes."""

    def __init__(self, shared: SharedState, name: str, window_seconds: int) -> None:
        self.shared = shared
        self.name = name
        self.local = WindowCounter(window_seconds)  # while Redis fails; also the windows' arithmetic

    async def ahit(self, key: str, limit: int, now_ms: int | None = None, cost: int = 1) -> bool:
        """Count `cost` hits for `key`; False (and nothing counted) when that would pass `limit`."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        counter = self.shared.key("rate", self.name, str(now_ms // self.local.window_ms), key)
        return bool(await self.shared.attempt_async(lambda: self.shared.evaluate(_HIT, [counter], [cost, limit, 2 * self.local.window_ms]),
                                                    lambda: self.local.hit(key, limit, now_ms, cost)))

    def retry_after(self, now_ms: int | None = None) -> int:
        return self.local.retry_after(now_ms)


class SharedFailureThrottle:
    """`FailureThrottle` over Redis. Times are wall-clock seconds, the only clock processes on several hosts share."""

    def __init__(self, shared: SharedState, name: str, window_seconds: float) -> None:
        self.shared = shared
        self.name = name
        self.window = window_seconds
        self.local = FailureThrottle(window_seconds)
        self._oldest_counted = shared.client.register_script(_OLDEST_COUNTED)

    def _key(self, key: str) -> str:
        return self.shared.key("failures", self.name, key)

    def retry_after(self, key: str, limit: int, now: float) -> int:
        """Seconds until `key` may try again (0: now) when `limit` failures are allowed per window."""
        def shared() -> int:
            oldest = float(self._oldest_counted(keys=[self._key(key)], args=[now, self.window, limit]))
            return max(1, math.ceil(oldest + self.window - now)) if oldest else 0
        return self.shared.attempt(shared, lambda: self.local.retry_after(key, limit, now))

    def fail(self, key: str, now: float) -> None:
        def shared() -> None:
            pipe = self.shared.client.pipeline(transaction=False)
            pipe.zadd(self._key(key), {f"{now!r}:{secrets.token_hex(4)}": now})
            pipe.pexpire(self._key(key), math.ceil(self.window * 1000))
            pipe.execute()
        self.shared.attempt(shared, lambda: self.local.fail(key, now))

    def forgive(self, key: str) -> None:
        """Take back the latest failure counted for `key` (the attempt succeeded after all)."""
        self.shared.attempt(lambda: self.shared.client.zpopmax(self._key(key)), lambda: self.local.forgive(key))

    def clear(self, key: str) -> None:
        self.shared.attempt(lambda: self.shared.client.delete(self._key(key)), lambda: self.local.clear(key))


class SharedServingCache(ServingCache):
    """A ServingCache whose invalidations reach every process: announced on a Redis channel that a thread follows."""

    def __init__(self, ws: Workspace, shared: SharedState, refresh_seconds: float = 1.0) -> None:
        super().__init__(ws, refresh_seconds)
        self.shared = shared
        self.channel = shared.key("invalidate")
        self._origin = secrets.token_hex(8)  # this process's own announcements come back: not followed twice
        self._closing = threading.Event()
        self._listener = threading.Thread(target=self._listen, name="serving-invalidations", daemon=True)
        self._listener.start()

    def invalidate(self, experiment_id: str | None = None) -> None:
        """Forget the views here and tell every other process to (None: every experiment)."""
        super().invalidate(experiment_id)
        message = json.dumps({"from": self._origin, "experiment": experiment_id})
        self.shared.attempt(lambda: self.shared.client.publish(self.channel, message), lambda: 0)

    def close(self) -> None:
        self._closing.set()
        self._listener.join(timeout=5)
        super().close()

    def _listen(self) -> None:
        while not self._closing.is_set():
            pubsub = self.shared.client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                super().invalidate()  # what was announced while this process was not listening
                while not self._closing.is_set():
                    if (message := pubsub.get_message(timeout=1.0)) is not None:
                        self._follow(message["data"])
            except redis.RedisError as exc:
                log.warning("following serving invalidations on Redis failed (%s); views refresh every %.1f s meanwhile",
                            exc, self.refresh_seconds)
                self._closing.wait(RETRY_SECONDS)
            finally:
                pubsub.close()

    def _follow(self, data: bytes) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            return
        if message.get("from") != self._origin:
            super().invalidate(message.get("experiment"))


def coordination(redis_url: str | None, prefix: str) -> LocalState | SharedState:
    """Shared state when a Redis URL is given, else local."""
    return SharedState.connect(redis_url, prefix) if redis_url else LocalState()
