"""Where each round's report is kept and how a person opens it: one folder per round, one URL per round.

A round's report is written once, when the round closes, into HOME/reports/<experiment>/round-<n>/ and is
never rewritten, so a link handed out after round 12 shows round 12 forever. The web app serves these
folders at `/experiments/<experiment>/rounds/<n>/report/` (a browser refuses `file://` links from a page);
the flows and the CLI print that URL when CREATIVE_WEB_URL names the web app, else the file's path.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

from creative.errors import CreativeError
from creative.home import Home

WEB_URL_ENV = "CREATIVE_WEB_URL"
# experiments.store makes ids like exp-1a2b3c4d5e6f; a stricter alphabet than that is never needed in a path
_EXPERIMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class ReportNotFound(CreativeError):
    """No kept report answers this experiment, round and file."""


def valid_experiment_id(experiment_id: str) -> bool:
    return bool(_EXPERIMENT_ID.fullmatch(experiment_id))


def round_report_dir(home: Home, experiment_id: str, round_no: int) -> Path:
    """The folder that keeps round `round_no`'s report (index.html, plots, thumbs/, tags)."""
    if not valid_experiment_id(experiment_id) or round_no < 1:
        raise ReportNotFound(f"{experiment_id!r} round {round_no} names no report; experiment ids are letters, digits, '-' and '_', rounds start at 1")
    return home.reports_dir / experiment_id / f"round-{round_no}"


def report_path(experiment_id: str, round_no: int) -> str:
    """The URL path of a round's report, relative to the web app's base URL."""
    return f"/experiments/{quote(experiment_id, safe='')}/rounds/{round_no}/report/"


def web_url(configured: str | None = None) -> str | None:
    """The web app's base URL: the one given, else CREATIVE_WEB_URL, else None (print file paths)."""
    url = (configured or os.environ.get(WEB_URL_ENV) or "").strip().rstrip("/")
    return url or None


def report_link(report: Path | None, experiment_id: str, round_no: int, base_url: str | None = None, home: Home | None = None) -> str | None:
    """What to show a person for a written report: its URL when the web app serves it, else its path."""
    if report is None:
        return None
    base = web_url(base_url)
    if base and home is not None and report.resolve().parent == round_report_dir(home, experiment_id, round_no).resolve():
        return base + report_path(experiment_id, round_no)
    return str(report)


def report_file(home: Home, experiment_id: str, round_no: int, relative: str = "index.html") -> Path:
    """A file of a kept report, confined to that report's folder: ids are checked, no `..`, no link out of it."""
    folder = round_report_dir(home, experiment_id, round_no).resolve()
    parts = [p for p in relative.split("/") if p]
    if not parts or any(p in (".", "..") or "\\" in p or "\x00" in p for p in parts):
        raise ReportNotFound(f"{relative!r} is not a file of a report")
    path = folder.joinpath(*parts).resolve()
    if not path.is_relative_to(folder) or not path.is_file():
        raise ReportNotFound(f"no report file {relative!r} for {experiment_id} round {round_no}; "
                             "reports are kept for rounds closed by the experiment_round flow or `creative experiment round`")
    return path
