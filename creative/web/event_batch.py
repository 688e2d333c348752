"""A POST /v1/events body split by experiment, each line keeping its own 1-based number in the body.

Bounded by construction: the line count is checked before anything is split or parsed, at most
`max_experiments` experiments are named, and of the lines that name no experiment only the first
SAMPLE_LIMIT are kept with their reasons (the rest are counted). A line that is not JSON, nested past
the parser's depth limit or not an event is rejected alone; it never fails the batch. Pure: the
caller runs it off the event loop and ingests the groups.
"""

from __future__ import annotations

from dataclasses import dataclass

from experiments.events import MALFORMED, MalformedEvent, ParsedLine, experiment_named, parse_jsonl_lines
from experiments.model import RejectedLine

MAX_LINES = 100_000  # a batch's lines, blank ones included (the body's byte cap is WebSettings.events_limit_bytes)
MAX_EXPERIMENTS = 100  # experiments one batch may name
SAMPLE_LIMIT = 20  # lines reported one by one, like each ingestion report's samples


class BatchRefused(ValueError):
    """The whole batch is refused before anything is ingested; `status` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class EventBatch:
    lines: int  # physical lines in the body, blank ones included
    groups: dict[str, list[ParsedLine]]  # experiment id -> (line number, Event or MalformedEvent)
    unassigned: tuple[RejectedLine, ...]  # the first SAMPLE_LIMIT lines that name no experiment
    unassigned_total: int


def count_lines(body: bytes) -> int:
    return body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)


def split_batch(body: bytes, forced: str | None, *, max_lines: int = MAX_LINES, max_experiments: int = MAX_EXPERIMENTS) -> EventBatch:
    """Parse the body's JSON lines and file each under its experiment (`forced`, when given, for every line)."""
    lines = count_lines(body)
    if lines > max_lines:
        raise BatchRefused(413, f"the batch has {lines:,} lines; at most {max_lines:,} lines a request — split it into smaller batches")
    raw_lines = body.split(b"\n")[:lines]
    groups: dict[str, list[ParsedLine]] = {}
    unassigned: list[RejectedLine] = []
    unassigned_total = 0
    for number, (raw, parsed) in enumerate(zip(raw_lines, parse_jsonl_lines(raw_lines)), 1):
        if parsed is None:  # blank
            continue
        if isinstance(parsed, MalformedEvent):
            experiment = forced or experiment_named(raw)
        else:
            experiment = forced or parsed.experiment
        if experiment is None:
            unassigned_total += 1
            if len(unassigned) < SAMPLE_LIMIT:
                unassigned.append(RejectedLine(number, MALFORMED, f"line {number}: {parsed}"))
            continue
        group = groups.get(experiment)
        if group is None:
            if len(groups) >= max_experiments:
                raise BatchRefused(422, f"line {number} names a {max_experiments + 1}th experiment; a batch may name at most "
                                        f"{max_experiments} — send one batch per experiment (?experiment=ID)")
            group = groups[experiment] = []
        group.append((number, parsed))
    return EventBatch(lines, groups, tuple(unassigned), unassigned_total)

