"""The `creative` command as a user runs it: a real subprocess with its own home."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.processes import PATIENCE_S

CREATIVE = [sys.executable, "-c", "from creative.cli import main; main()"]


def run_creative(home: Path | None, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `creative ARGS` with CREATIVE_HOME=home (None: the home comes from the arguments only)."""
    env = {**os.environ}
    env.pop("CREATIVE_DB_URL", None)
    env.pop("CREATIVE_HOME", None)
    if home is not None:
        env["CREATIVE_HOME"] = str(home)
    done = subprocess.run(CREATIVE + list(args), capture_output=True, text=True, env=env, timeout=PATIENCE_S)  # only stops a hung command
    if check:
        assert done.returncode == 0, done.stderr
    return done


def all_commands() -> list[tuple[list[str], object]]:
    """Every command and group of `creative`, as (path, click command), the root first."""
    import click

    from creative.cli import cli

    def walk(cmd, path):
        yield path, cmd
        if isinstance(cmd, click.Group):
            ctx = click.Context(cmd)
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if sub is not None:
                    yield from walk(sub, path + [name])
    return list(walk(cli, []))
