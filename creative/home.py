"""Where state lives: one home directory holding the files, and a database URL for metadata."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from creative.errors import ConfigError

DEFAULT_HOME = Path("~/.creative")


@dataclass(frozen=True)
class Home:
    """The resolved home: every path a component writes to derives from `root`."""

    root: Path
    db_url: str

    @property
    def objects_dir(self) -> Path:
        """Content-addressed originals and their derived files."""
        return self.root / "objects"

    @property
    def model_cache_dir(self) -> Path:
        return self.root / "models"

    @property
    def output_dir(self) -> Path:
        return self.root / "out"

    @property
    def spool_dir(self) -> Path:
        """Served events the web server could not store at shutdown; the next round or start ingests them."""
        return self.root / "web-spool"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"


def resolve_home(home: str | os.PathLike | None = None, db_url: str | None = None) -> Home:
    """Pick the home from the argument, then CREATIVE_HOME, then ~/.creative; same for the DB URL."""
    raw = home or os.environ.get("CREATIVE_HOME") or DEFAULT_HOME
    root = Path(raw).expanduser().resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create home directory {root}: {exc.strerror}; pass --home DIR with a writable path") from exc
    url = db_url or os.environ.get("CREATIVE_DB_URL") or f"sqlite:///{root / 'creative.db'}"
    return Home(root=root, db_url=url)
