"""Importing captured payloads (NDJSON, or a directory of JSON files) through the receiver's own path.

Each body goes through exactly the validation, normalization and dedupe of an HTTP POST (receiver.ingest),
in its own transaction, so one bad line refuses only itself. Nothing is authenticated: these are the
operator's own files. The future bound on times applies as to a POST, against the time of capture: a file's
modification time, which nothing it holds can be newer than (or now, when that is earlier); the age bound does
not (captures are old by nature).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from receiver.errors import ReceiverError
from receiver.ingest import NOT_PARSED, Ingestor, decode, detect_vendor, parse
from receiver.plausibility import TimeWindow


@dataclass(frozen=True)
class Capture:
    """One captured body and where it came from (`file:line` or a file name)."""

    source: str
    body: bytes
    captured_by: datetime | None = None  # when the capture was written at the latest (its file's mtime)


@dataclass(frozen=True)
class Outcome:
    source: str
    vendor: str | None
    stored: int = 0
    duplicates: int = 0
    ignored: int = 0
    refused: str | None = None  # why, when the body was refused


@dataclass
class ImportSummary:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return sum(outcome.stored for outcome in self.outcomes)

    @property
    def duplicates(self) -> int:
        return sum(outcome.duplicates for outcome in self.outcomes)

    @property
    def refused(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.refused]

    def by_vendor(self) -> Counter[str]:
        return Counter(outcome.vendor or "unknown" for outcome in self.outcomes if not outcome.refused)


def captures(path: Path) -> Iterator[Capture]:
    """Bodies in a file (one JSON document per non-blank line) or a directory (`*.json`, one body each)."""
    if path.is_dir():
        for file in sorted(path.rglob("*.json")):
            yield Capture(str(file.relative_to(path)), file.read_bytes(), _modified(file))
        return
    modified = _modified(path)
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield Capture(f"{path.name}:{number}", line, modified)


def _modified(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def import_capture(
    ingestor: Ingestor, capture: Capture, vendor: str | None = None, window: TimeWindow | None = None
) -> Outcome:
    """Validate and store one body; a refusal is reported in the outcome, never raised.

    `window` (default: the default clock skew) bounds its times from above only, against the time of capture.
    """
    document = decode(capture.body)
    chosen = vendor or detect_vendor(document)
    if chosen is None and document is not NOT_PARSED:
        return Outcome(capture.source, None, refused="cannot tell the vendor from the body's shape; pass --vendor")
    now = datetime.now(UTC)
    captured = min(capture.captured_by, now) if capture.captured_by is not None else now
    what = "the capture was written" if captured < now else "now"
    try:
        parsed = parse(chosen or "unknown", document)
        (window or TimeWindow()).future_only().check(parsed.sightings, captured, f"the time {what}")
    except ReceiverError as exc:
        return Outcome(capture.source, chosen, refused=f"{exc.status}: {exc.message}")
    result = ingestor.store(parsed, now)
    return Outcome(capture.source, chosen, result.stored, result.duplicates, parsed.ignored)
