"""The event wire format and its parsing: one JSON object per line (or one CSV row).

    {"event_id": "e1", "type": "impression", "ts": "2025-05-01T12:00:00Z", "experiment": "exp-…",
     "creative": "c1", "user": "u1", "size": "300x250", "user_features": {...}, "round": 3, "holdout": false}
    {"event_id": "e2", "type": "click", "impression_id": "e1", ...}

Optional: `round`, the experiment's round the impression was served in (a late event then counts
against the allocation of that round, not of the round open at ingestion); `holdout`, true for traffic
served outside the experiment (preference-aware serving): stored, never counted in the arms' statistics.

Parsing is pure; `experiments.ingest` checks events against the rules and the database and stores them.
Every line ends accepted, duplicate (idempotent re-delivery) or rejected with one of REJECT_REASONS.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, NamedTuple

from experiments import messages
from experiments.errors import EventFileError

try:  # a transitive dependency (via Prefect); three times faster than json on event lines
    from orjson import loads as _loads
except ImportError:  # pragma: no cover
    _loads = json.loads

MALFORMED = "malformed"
UNKNOWN_EXPERIMENT = "unknown_experiment"
UNKNOWN_CREATIVE = "unknown_creative"
CLICK_WITHOUT_IMPRESSION = "click_without_impression"
CLICK_OUTSIDE_WINDOW = "click_outside_window"
CLICK_MISMATCH = "click_mismatch"
DUPLICATE_CLICK = "duplicate_click"
BOT_BURST = "bot_burst"
FUTURE_TIMESTAMP = "future_timestamp"
REJECT_REASONS = (MALFORMED, UNKNOWN_EXPERIMENT, UNKNOWN_CREATIVE, CLICK_WITHOUT_IMPRESSION,
                  CLICK_OUTSIDE_WINDOW, CLICK_MISMATCH, DUPLICATE_CLICK, BOT_BURST)
REASON_HELP = {
    MALFORMED: "not a JSON object / CSV row with event_id, type, ts (ISO-8601), experiment, creative, user",
    UNKNOWN_EXPERIMENT: "the event names another experiment than the one being ingested",
    UNKNOWN_CREATIVE: "the creative is not an arm of the experiment",
    CLICK_WITHOUT_IMPRESSION: "no accepted impression has the click's impression_id (ingest impressions first, then re-ingest: nothing counts twice)",
    CLICK_OUTSIDE_WINDOW: "the click came before its impression or after the attribution window",
    CLICK_MISMATCH: "the click's creative or user differs from its impression's",
    DUPLICATE_CLICK: "the impression already has a click; CTR counts one click per impression",
    BOT_BURST: "the user sent more events in one minute than the rate limit allows",
}

IMPRESSION, CLICK = "i", "c"
MAX_FEATURES_DEPTH = 16  # user_features nest at most this deep; deeper ones cannot be stored (JSON encoders recurse per level)
_TYPES = {"impression": IMPRESSION, "click": CLICK}
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of undecodable bytes
_REQUIRED = ("event_id", "type", "ts", "experiment", "creative", "user")
CSV_COLUMNS = ("event_id", "type", "ts", "experiment", "creative", "user", "size", "impression_id", "user_features", "round", "holdout")


class MalformedEvent(ValueError):
    """An input line that is not a usable event; the message says which field is wrong."""


class Event(NamedTuple):
    """A parsed event. `kind` is "i" (impression) or "c" (click); `ts_ms` epoch milliseconds UTC.

    A NamedTuple rather than a dataclass: ingestion builds a million of them per file.
    """

    event_id: str
    kind: str
    ts_ms: int
    experiment: str
    creative: str
    user: str
    size: str | None = None
    impression_id: str | None = None
    user_features: Mapping[str, Any] | None = None
    served_round: int | None = None  # the round it was served in; None: the round open at ingestion
    holdout: bool | None = None  # True: outside the experiment, never counted (None rather than False: stored as NULL)

    def to_wire(self) -> dict[str, Any]:
        out = {
            "event_id": self.event_id,
            "type": "impression" if self.kind == IMPRESSION else "click",
            "ts": format_ts(self.ts_ms),
            "experiment": self.experiment,
            "creative": self.creative,
            "user": self.user,
            "size": self.size,
        }
        if self.impression_id is not None:
            out["impression_id"] = self.impression_id
        if self.user_features:
            out["user_features"] = dict(self.user_features)
        if self.served_round is not None:
            out["round"] = self.served_round
        if self.holdout:
            out["holdout"] = True
        return out


def format_ts(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z")


_TS_CACHE: dict[str, int] = {}


def parse_ts(value: Any) -> int:
    """ISO-8601 to epoch ms (naive means UTC); cached, as event streams repeat their timestamps."""
    hit = _TS_CACHE.get(value) if type(value) is str else None
    if hit is not None:
        return hit
    ms = _parse_ts(value)
    if len(_TS_CACHE) > 200_000:
        _TS_CACHE.clear()
    _TS_CACHE[value] = ms
    return ms


def _parse_ts(value: Any) -> int:
    if not isinstance(value, str):
        raise MalformedEvent(f"ts must be an ISO-8601 string, got {type(value).__name__}")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedEvent(f"ts {value[:40]!r} is not ISO-8601") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if value is None or value == "":
        raise MalformedEvent(f"missing field {key!r}")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise MalformedEvent(f"field {key!r} must be a string, got {type(value).__name__}")
    return str(value)


def event_from_mapping(raw: Any) -> Event:
    """Validate one wire-format object (from JSON, CSV or Python) into an Event."""
    if type(raw) is dict:
        # fast path for the common well-formed line; anything unusual takes the checked path below
        get = raw.get
        eid, exp, cre, user, kind = get("event_id"), get("experiment"), get("creative"), get("user"), _TYPES.get(get("type"))
        if (kind is IMPRESSION and type(eid) is str and type(exp) is str and type(cre) is str and type(user) is str
                and eid and exp and cre and user and get("user_features") is None and get("holdout") is None
                and ((rnd := get("round")) is None or (type(rnd) is int and rnd > 0))):
            size = get("size")
            return Event(eid, kind, parse_ts(get("ts")), exp, cre, user, size if type(size) is str and size else None, None, None, rnd)
    return _checked_event(raw)


def _checked_event(raw: Any) -> Event:
    if isinstance(raw, Event):
        return raw
    if not isinstance(raw, Mapping):
        raise MalformedEvent(f"an event must be an object, got {type(raw).__name__}")
    kind = _TYPES.get(raw.get("type"))
    if kind is None:
        raise MalformedEvent(f"type must be 'impression' or 'click', got {raw.get('type')!r}")
    impression_id = raw.get("impression_id") or None
    if kind == CLICK:
        if impression_id is None:
            raise MalformedEvent("a click needs impression_id (the event_id of its impression)")
        impression_id = str(impression_id)
    features = raw.get("user_features")
    if isinstance(features, str) and features:
        try:
            features = json.loads(features)
        except (ValueError, RecursionError):
            raise MalformedEvent("user_features is not a JSON object") from None
    if features is not None and features != "" and not isinstance(features, Mapping):
        raise MalformedEvent("user_features must be an object")
    if features and _deeper_than(features, MAX_FEATURES_DEPTH):
        raise MalformedEvent(f"user_features is nested deeper than {MAX_FEATURES_DEPTH} levels")
    size = raw.get("size")
    return Event(
        served_round=_served_round(raw.get("round")),
        holdout=_holdout(raw.get("holdout")),
        event_id=_text(raw, "event_id"),
        kind=kind,
        ts_ms=parse_ts(raw.get("ts")),
        experiment=_text(raw, "experiment"),
        creative=_text(raw, "creative"),
        user=_text(raw, "user"),
        size=None if size in (None, "") else str(size),
        impression_id=impression_id if kind == CLICK else None,
        user_features=features or None,
    )


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and arrays nest past `limit` levels (iterative: storing them would recurse once per level)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, Mapping) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _served_round(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if type(value) is not int or value < 1:
        raise MalformedEvent(f"round must be the positive round number the event was served in, got {value!r}")
    return value


def _holdout(value: Any) -> bool | None:
    if value in (None, "", False, "false", "0", 0):
        return None
    if value in (True, "true", "1", 1):
        return True
    raise MalformedEvent(f"holdout must be true or false, got {value!r}")


# Event fields by position: ingestion reads them by the million, and tuple indexing beats attribute access
EID, KIND, TS, EXP, CREATIVE, USER, SIZE, IMPRESSION_ID, FEATURES, SERVED_ROUND, HOLDOUT = range(11)

# A parsed line: (line number or None, Event) or (line number, MalformedEvent)
ParsedLine = tuple[int | None, Event | MalformedEvent]


def parse_jsonl(lines: Iterable[str], first_line: int = 1) -> Iterator[ParsedLine]:
    loads, types, cache, new = _loads, _TYPES, _TS_CACHE, Event._make
    for number, line in enumerate(lines, first_line):
        try:
            raw = loads(line)
        except ValueError as exc:
            if line.strip():
                yield number, MalformedEvent(f"not JSON ({getattr(exc, 'msg', exc)})")
            continue
        if type(raw) is dict:  # inlined fast path of event_from_mapping for a well-formed impression
            get = raw.get
            eid, exp, cre, user, ts = get("event_id"), get("experiment"), get("creative"), get("user"), get("ts")
            if (types.get(get("type")) is IMPRESSION and type(eid) is str and type(exp) is str and type(cre) is str
                    and type(user) is str and eid and exp and cre and user and get("user_features") is None
                    and get("holdout") is None and ((rnd := get("round")) is None or (type(rnd) is int and rnd > 0))):
                ms = cache.get(ts) if type(ts) is str else None
                if ms is not None:
                    size = get("size")
                    yield number, new((eid, IMPRESSION, ms, exp, cre, user, size if type(size) is str and size else None, None, None, rnd, None))
                    continue
        try:
            yield number, event_from_mapping(raw)
        except MalformedEvent as exc:
            yield number, exc


def parse_jsonl_lines(lines: list[bytes | str]) -> list[Event | MalformedEvent | None]:
    """Parse a batch of JSONL lines: one Event or MalformedEvent per line, None for a blank line.

    Same results as parse_jsonl, without a generator step and a (number, event) pair per line:
    the line number of item k is the batch's first line number + k.
    """
    loads, cache, new, cls = _loads, _TS_CACHE, tuple.__new__, Event
    out: list[Event | MalformedEvent | None] = []
    append = out.append
    for line in lines:
        try:
            raw = loads(line)
        except ValueError as exc:
            append(MalformedEvent(f"not JSON ({getattr(exc, 'msg', exc)})") if line.strip() else None)
            continue
        # inlined fast path of event_from_mapping for a well-formed impression whose ts was seen before;
        # anything else (a missing key, a non-object, an unseen ts) takes the checked path below
        try:
            if raw["type"] == "impression" and "user_features" not in raw and "holdout" not in raw:
                eid, exp, cre, user, ms, rnd = raw["event_id"], raw["experiment"], raw["creative"], raw["user"], cache[raw["ts"]], raw.get("round")
                if (type(eid) is str and type(exp) is str and type(cre) is str and type(user) is str
                        and eid and exp and cre and user and (rnd is None or (type(rnd) is int and rnd > 0))):
                    size = raw.get("size")
                    append(new(cls, (eid, IMPRESSION, ms, exp, cre, user, size if type(size) is str and size else None, None, None, rnd, None)))
                    continue
        except (KeyError, TypeError):
            pass
        try:
            append(event_from_mapping(raw))
        except MalformedEvent as exc:
            append(exc.with_traceback(None))  # no frame kept: a cycle per bad line would make the GC rescan the batch
    return out


def experiment_named(line: bytes | str) -> str | None:
    """The experiment a JSON line names, if any, even when the line is no valid event (so its rejection can be filed there)."""
    try:
        raw = _loads(line)
    except (ValueError, RecursionError):
        return None
    experiment = raw.get("experiment") if type(raw) is dict else None
    return experiment if type(experiment) is str and experiment else None


def parse_csv(handle) -> Iterator[ParsedLine]:
    reader = csv.DictReader(handle)
    if not reader.fieldnames or any(col not in reader.fieldnames for col in _REQUIRED):
        missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
        raise EventFileError(f"CSV header lacks column(s) {missing}; expected columns {', '.join(CSV_COLUMNS)}")
    for row in reader:
        number = reader.line_num
        if None in row:
            yield number, MalformedEvent("more cells than header columns")
            continue
        bad = next((k for k, v in row.items() if v and _NOT_UTF8.search(v)), None)
        if bad is not None:
            yield number, MalformedEvent(f"column {bad!r} holds bytes that are not UTF-8")
            continue
        try:
            yield number, event_from_mapping(row)
        except MalformedEvent as exc:
            yield number, exc


def parse_python(events: Iterable[Any]) -> Iterator[ParsedLine]:
    for number, raw in enumerate(events, 1):
        try:
            yield number, event_from_mapping(raw)
        except MalformedEvent as exc:
            yield number, exc


def open_event_file(path: str | Path) -> tuple[Iterator[ParsedLine], Any]:
    """Parsed lines of a .jsonl/.ndjson/.json (lines or one array) or .csv file, and the handle to close."""
    jsonl, source, handle = open_event_source(path)
    return (parse_jsonl(source) if jsonl else source), handle


def open_event_source(path: str | Path) -> tuple[bool, Any, Any]:
    """Like open_event_file, but a JSON-lines file comes back unparsed: (True, binary handle, handle)
    for parse_jsonl_lines; otherwise (False, parsed lines, handle to close or None)."""
    path = Path(path)
    if not path.is_file():
        raise EventFileError(messages.FILE_MISSING.format(path=path))
    suffix = "".join(path.suffixes[-2:]).lower() if path.suffix.lower() == ".gz" else path.suffix.lower()
    opener = open
    if suffix.endswith(".gz"):
        import gzip

        opener = gzip.open
        suffix = suffix[: -len(".gz")]
    if suffix in (".jsonl", ".ndjson", ".json"):
        handle = opener(path, "rb")
        head = handle.read(1)
        while head and head.isspace():
            head = handle.read(1)
        if head == b"[":
            rest = handle.read()
            handle.close()
            try:
                text = (head + rest).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise EventFileError(f"{path}: byte {exc.start} is not UTF-8; distinct ids must not collapse into one, so "
                                     "nothing was read — re-export the file as UTF-8 (or as JSON lines, where a bad line is rejected alone)") from None
            try:
                items = json.loads(text)
            except ValueError as exc:
                raise EventFileError(f"{path} starts with '[' but is not a JSON array ({exc}); write one event object per line instead") from exc
            return False, parse_python(items), None
        handle.seek(0)
        return True, handle, handle
    if suffix == ".csv":
        # bad bytes survive as lone surrogates, so parse_csv rejects their line instead of replacing them
        handle = opener(path, "rt", encoding="utf-8", errors="surrogateescape", newline="")
        return False, parse_csv(handle), handle
    raise EventFileError(messages.FILE_FORMAT.format(path=path))
