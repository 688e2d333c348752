"""Fixed-window request counters for the public endpoints (per user, per address).

Windows are aligned to the clock minute like the experiment's bot-burst check, so a user the
server lets through is never rejected later as a burst at ingestion. One process, one event loop:
no locking needed.
"""

from __future__ import annotations

import time


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

    def retry_after(self, now_ms: int | None = None) -> int:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        return max(1, int((self.window_ms - now_ms % self.window_ms) / 1000) + 1)
