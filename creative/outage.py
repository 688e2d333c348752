"""Outage: one log line when something a loop depends on stops answering, one when it answers again.

A scheduler that polls every few seconds would otherwise print a traceback per poll for as long as its
database or the Prefect server is away; the operator needs to know that it is down, since when, and that
it keeps retrying, then that it is back.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Callable


class Outage:
    """The failure streak of one dependency (`what`), logged once at its start and once at its end."""

    def __init__(self, log: logging.Logger, what: str, retry_seconds: float, clock: Callable[[], float] = time.monotonic,
                 meanwhile: str | None = None) -> None:
        self.log, self.what, self.retry_seconds, self.clock = log, what, retry_seconds, clock
        self.meanwhile = meanwhile or f"retrying every {retry_seconds:g} s, nothing is lost meanwhile"  # what happens until it is back
        self.since: float | None = None
        self.started_at: datetime | None = None  # wall clock, to compare with what the dependency stored meanwhile
        self.failures = 0

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, error: BaseException | str) -> bool:
        """Count a failure; True for the first of a streak (the one that was logged)."""
        self.failures += 1
        if self.since is not None:
            self.log.debug("%s still unreachable (%d failures): %s", self.what, self.failures, error)
            return False
        self.since, self.started_at = self.clock(), datetime.now(timezone.utc)
        reason = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
        self.log.warning("%s unreachable (%s); %s", self.what, " ".join(str(reason).split())[:300], self.meanwhile)
        self.log.debug("first failure of the streak", exc_info=error if isinstance(error, BaseException) else None)
        return True

    def ok(self) -> bool:
        """Count a success; True when it ends a streak (the recovery was logged)."""
        if self.since is None:
            return False
        self.log.warning("%s answers again after %.0f s (%d failed attempts); resuming", self.what, self.clock() - self.since, self.failures)
        self.since, self.started_at, self.failures = None, None, 0
        return True
