"""close_round: the one way a round closes, whoever asks (a schedule, a person, a flow).

A round closes on data (experiments.readiness): a look that finds too few new impressions returns
`RoundWaiting` and changes nothing, so idle schedules use up none of the round budget. `force=True`
(a person's explicit "close now") closes anyway; an empty round still does not count against max_rounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from PIL import Image

from creative.fonts import find_font
from creative.services.events import Ingested, accepted_by_source, ingest_inbox, ingest_spool
from creative.services.experiments import served_creatives
from creative.services.reports import round_report_dir
from creative.services.workspace import Workspace
from experiments.model import RoundResult
from experiments.readiness import RoundNotReady, RoundReadiness
from experiments.report import add_plot_font, write_report
from experiments.rounds import run_round
from experiments.tag_store import StoredTags, latest_tags, refresh_tags
from experiments.tags import TagResult


@dataclass(frozen=True)
class RoundClosed:
    """A closed round with what it took in and what it stored beside it."""

    result: RoundResult
    ingested: Ingested
    tags: StoredTags
    report: Path | None
    sources: Mapping[str, int] = field(default_factory=dict)  # events accepted since the last round, by channel
    closed = True

    @property
    def concludes(self) -> bool:
        """The round ended the experiment (promote or stop): schedules stop themselves."""
        return self.result.decision.kind.concludes

    def summary(self) -> str:
        d, r = self.result.decision, self.result
        return (f"{r.experiment_id}, round {r.round_no}: {d.kind}" + (f" {d.winner}" if d.winner else "") + f". {d.reason}\n"
                f"The round counted {r.impressions:,} impressions and {r.clicks:,} clicks. {self.intake()}. "
                f"{len(self.tags.result.tags)} preference tags for {self.tags.users} users.")

    def intake(self) -> str:
        """What came in since the last round, by channel, and what this close itself read from files."""
        channels = ", ".join(f"{n:,} {kind}" for kind, n in sorted(self.sources.items(), key=lambda kv: -kv[1])) or "none"
        rejected = ", ".join(f"{k}: {v}" for k, v in sorted(self.ingested.rejected.items())) or "none"
        return (f"Events accepted since the last round: {channels}; "
                f"{self.ingested.files} file(s) read at closing ({self.ingested.accepted:,} events accepted, rejected: {rejected})")


@dataclass(frozen=True)
class RoundWaiting:
    """A look that closed nothing: too few new impressions, and the maximum interval has not passed."""

    readiness: RoundReadiness
    ingested: Ingested
    closed = False
    concludes = False

    def summary(self) -> str:
        return self.readiness.summary()


def close_round(ws: Workspace, experiment_id: str, *, wait: float = 60.0, expected_round: int | None = None,
                report_dir: Path | None = None, keep_report: bool = False, flush=None, force: bool = False) -> RoundClosed | RoundWaiting:
    """Ingest waiting events (inbox files, the web spool), close the round if it has enough data (or `force`),
    store tags once, optionally report: into `report_dir`, or with `keep_report` into the round's own folder
    of the home (creative.services.reports), which the web app serves at a stable URL.

    `flush` (the web server's recorder) stores events served in this process first, so they count in
    the round that closes now. Safe to repeat with `expected_round`: a closed round is returned as stored.
    ExperimentPaused / ExperimentConcluded (ExperimentArchived) say why no round can close at all."""
    if flush is not None:
        flush()
    ingested = Ingested()
    ingest_inbox(ws, experiment_id, ingested)
    ingest_spool(ws, ingested)
    try:
        result = run_round(ws.engine, experiment_id, wait=wait, expected_round=expected_round, when_ready=not force)
    except RoundNotReady as waiting:
        return RoundWaiting(waiting.readiness, ingested)
    stored = latest_tags(ws.engine, experiment_id)
    if not (result.replayed and stored.round_no >= result.round_no):
        stored = refresh_tags(ws.engine, experiment_id, result.round_no)
    report = None
    if report_dir is None and keep_report:
        report_dir = round_report_dir(ws.home, experiment_id, result.round_no)
        kept = report_dir / "index.html"
        report = kept if result.replayed and kept.is_file() else None  # a kept report is never rewritten
    if report_dir is not None and report is None:
        report = _write_report(ws, experiment_id, Path(report_dir), stored.result)
    return RoundClosed(result, ingested, stored, report, accepted_by_source(ws, experiment_id, result.round_no))


def experiment_report(ws: Workspace, experiment_id: str, out_dir: Path) -> Path:
    """The HTML report with the stored tags (no round is closed)."""
    return _write_report(ws, experiment_id, Path(out_dir), latest_tags(ws.engine, experiment_id).result)


THUMBNAIL_BOX = (220, 160)  # twice the size the report shows them, for sharp screens


def report_thumbnails(ws: Workspace, experiment_id: str, out_dir: Path) -> dict[str, str]:
    """Small copies of the creatives' banners in out_dir/thumbs, by creative id -> path relative to out_dir,
    so the report folder can be moved or mailed whole. Creatives without a readable file get none."""
    ids = [a.id for a in ws.experiments.arms(experiment_id)]
    folder = out_dir / "thumbs"
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for n, served in enumerate(served_creatives(ws, ids).values()):
        if served.file is None or not served.file.is_file():
            continue
        try:
            with Image.open(served.file) as img:
                img.thumbnail(THUMBNAIL_BOX)
                img.convert("RGB").save(folder / f"{n:03d}.jpg", quality=85)
        except (OSError, Image.DecompressionBombError):
            continue  # unreadable: the report says "no image"
        out[served.creative_id] = f"thumbs/{n:03d}.jpg"
    return out


def _write_report(ws: Workspace, experiment_id: str, out_dir: Path, tags: TagResult) -> Path:
    add_plot_font(find_font("cjk").path)
    return write_report(ws.engine, experiment_id, out_dir, tags, thumbnails=report_thumbnails(ws, experiment_id, out_dir))
