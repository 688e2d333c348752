"""Event files waiting for the next round: HOME/events/<experiment>/incoming -> ingested.

Ad servers (or the simulator) drop JSONL/CSV files into `incoming`; a round ingests and moves them.
Two overlapping rounds may both see a file: ingestion counts an event id once, so nothing doubles.
"""

from __future__ import annotations

import os
from pathlib import Path

EVENT_SUFFIXES = (".jsonl", ".csv", ".json")


def inbox_dir(root: Path, experiment_id: str) -> Path:
    return Path(root) / "events" / experiment_id / "incoming"


def ingested_dir(root: Path, experiment_id: str) -> Path:
    return Path(root) / "events" / experiment_id / "ingested"


def pending_files(root: Path, experiment_id: str) -> list[Path]:
    folder = inbox_dir(root, experiment_id)
    return sorted(p for p in folder.glob("*") if p.suffix in EVENT_SUFFIXES) if folder.is_dir() else []


def drop_file(root: Path, experiment_id: str, name: str, lines: list[str]) -> Path:
    """Write a file into the inbox atomically, so a round never reads half of it."""
    folder = inbox_dir(root, experiment_id)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.part"
    tmp.write_text("".join(line if line.endswith("\n") else line + "\n" for line in lines), encoding="utf-8")
    final = folder / name
    os.replace(tmp, final)
    return final


def mark_ingested(root: Path, experiment_id: str, path: Path) -> None:
    target = ingested_dir(root, experiment_id)
    target.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(path, target / path.name)
    except FileNotFoundError:  # an overlapping round moved it first
        pass
