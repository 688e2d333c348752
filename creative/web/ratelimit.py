"""Request counters: fixed windows for the public endpoints (per user, per address), a sliding
window of failed logins (per account, per address).

Serving windows are aligned to the clock minute like the experiment's bot-burst check, so a user the
server lets through is never rejected later as a burst at ingestion. One process, one event loop:
no locking needed. Several processes share theirs in Redis (creative.web.shared_state), whose
counters serving awaits (`ahit`).
"""

from __future__ import annotations

import math
import time
from collections import deque


def user_bucket(experiment_id: str, user: str, address: str) -> str:
    """The per-user counter's key for serve and click. The user id is whatever the caller claims (serve) or was
    claimed when the impression was served (a click's signed token), so the budget is kept per address too: a
    third party naming a user, or replaying their click tokens, spends its own budget, never the user's."""
    return f"{experiment_id}\x00{user}\x00{address}"


class WindowCounter:
    """Counts hits per key in the current window; forgets older windows."""

    def __init__(self, window_seconds: int = 60) -> None:
        self.window_ms = window_seconds * 1000
        self._window = -1
        self._counts: dict[str, int] = {}

    def hit(self, key: str, limit: int, now_ms: int | None = None, cost: int = 1) -> bool:
        """Count `cost` hits for `key`; False (and nothing counted) when that would pass `limit`."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        window = now_ms // self.window_ms
        if window != self._window:
            self._window = window
            self._counts = {}
        used = self._counts.get(key, 0)
        if used + cost > limit:
            return False
        self._counts[key] = used + cost
        return True

    async def ahit(self, key: str, limit: int, now_ms: int | None = None, cost: int = 1) -> bool:
        """`hit`, awaited like the shared counter's."""
        return self.hit(key, limit, now_ms, cost)

    def retry_after(self, now_ms: int | None = None) -> int:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        return max(1, int((self.window_ms - now_ms % self.window_ms) / 1000) + 1)


class FailureThrottle:
    """Failures per key within a sliding window (login guesses per account and per address).

    Keys whose failures have all expired are dropped once more than `max_keys` are held, so guessing
    with ever new names can't grow it without bound.
    """

    def __init__(self, window_seconds: float, max_keys: int = 100_000) -> None:
        self.window = window_seconds
        self.max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, key: str, limit: int, now: float) -> int:
        """Seconds until `key` may try again (0: now) when `limit` failures are allowed per window."""
        times = self._recent(key, now)
        if len(times) < limit:
            return 0
        return max(1, math.ceil(times[-limit] + self.window - now))

    def fail(self, key: str, now: float) -> None:
        if key not in self._failures and len(self._failures) >= self.max_keys:
            self._failures = {k: v for k, v in self._failures.items() if self._recent(k, now)}
        self._failures.setdefault(key, deque()).append(now)

    def forgive(self, key: str) -> None:
        """Take back the last failure counted for `key` (the attempt succeeded after all)."""
        if times := self._failures.get(key):
            times.pop()

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)
