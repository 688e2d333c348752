"""Waiting on real servers and subprocesses by condition, with limits generous enough for a loaded machine.

A limit here only stops a test that would otherwise hang; it is never what a test measures.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

PATIENCE_S = 600.0  # a busy 2-core machine can take minutes to start a server; a healthy one takes seconds
T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition: Callable[[], T], what: str, patience: float = PATIENCE_S, every: float = 1.0) -> T:
    """Poll `condition` until it returns something truthy and return that; fail naming `what` after `patience` s."""
    deadline = time.monotonic() + patience
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {patience:.0f}s waiting for {what}")
        time.sleep(every)


def stop_process_group(process: subprocess.Popen, grace: float = 60.0) -> int:
    """SIGTERM the process group started with start_new_session=True, SIGKILL it after `grace` seconds.

    Clean-up only, never a check: a Prefect runner stopped mid-run can hang in its SIGTERM handler, so waiting
    longer buys nothing, and a slow exit is killed rather than failed.
    """
    try:
        os.killpg(process.pid, signal.SIGTERM)
        return process.wait(timeout=grace)
    except ProcessLookupError:
        return process.wait()
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait()
