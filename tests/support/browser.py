"""Helpers for the browser tests (no tests here): Debian's headless Chromium, a page that records dialogs and
console errors, and the login form. The `browser`, `live` and `shots` fixtures are in tests/conftest.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support.web import ADMIN, PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
TIMEOUT_MS = 60_000
DESKTOP = {"width": 1280, "height": 900}
# A browser test module sets `pytestmark = BROWSER_MARKS`.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)"),
]


def open_page(browser, base_url: str, viewport: dict = DESKTOP, **options):
    """(context, page): dialogs are dismissed unless the test sets `page.accept_dialogs`, and their messages kept
    in `page.dialogs`; console errors are kept in `page.console_errors`. The caller closes the context."""
    context = browser.new_context(base_url=base_url, viewport=viewport, **options)
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    pg.dialogs = []
    pg.accept_dialogs = False
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.accept() if pg.accept_dialogs else d.dismiss()))
    pg.console_errors = []
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
    return context, pg


def log_in(page, start: str = "/elements", *, username: str = ADMIN, password: str = PASSWORD, wait: bool = True) -> None:
    """Submit the login form reached through `start`; with `wait`, until the browser is back on `start`."""
    page.goto(start)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    if wait:
        page.wait_for_url(re.compile(re.escape(start.split("?")[0]) + r"(\?.*)?$"))


def mark_window(page) -> None:
    """A value only this document holds: a reload or a navigation loses it."""
    page.evaluate("window.__notReloaded = 'still here'")


def same_document(page) -> bool:
    return page.evaluate("window.__notReloaded") == "still here"
