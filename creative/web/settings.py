"""Tunables of the web front, in one place; `creative serve` and the tests build them."""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class WebSettings:
    upload_limit_bytes: int = 25 * MB  # one element file per request (the store's own cap is 50 MB)
    catalog_limit_bytes: int = 10 * MB
    events_limit_bytes: int = 20 * MB  # one POST /v1/events batch
    form_limit_bytes: int = 1 * MB  # any other form post
    serve_per_address_per_minute: int = 6_000  # serve + click per client address; per-user limits come from the experiment
    session_max_age_seconds: int = 12 * 3600
    login_failures_per_account: int = 5  # wrong passwords per account within the window, then 429
    login_failures_per_address: int = 20  # per client address (several people may share one)
    login_window_seconds: int = 15 * 60
    secure_cookies: bool = False  # set when served over https
    flush_interval_seconds: float = 0.25
    event_buffer_max: int = 100_000  # events held while neither the database nor the spool takes them; then serve answers 503
    spool_min_free_bytes: int = 64 * MB  # the server refuses to start with less free on the spool's disk
    drain_seconds: float = 10.0  # at shutdown, how long the database gets to take the buffer before the rest is spooled
    refresh_seconds: float = 1.0  # how stale a served allocation may be
    schedule_poll_seconds: float = 5.0
    run_scheduler: bool = True
    redis_url: str | None = None  # shared state of several workers or hosts (limits, login throttle, serving views, spool replay)
    redis_prefix: str = ""  # Redis key namespace; empty: one derived from the database's secret, so servers on one database share it

    def __post_init__(self) -> None:
        for name in ("upload_limit_bytes", "catalog_limit_bytes", "events_limit_bytes", "form_limit_bytes", "serve_per_address_per_minute",
                     "login_failures_per_account", "login_failures_per_address", "login_window_seconds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
