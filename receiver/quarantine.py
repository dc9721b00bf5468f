"""Quarantine's HTTP side: what of a refused authenticated post is kept, and replaying it with today's parsers.

Only authenticated posts are kept (anyone can send garbage; only the vendor can send signed garbage), each
body cut at a size cap and with any top-level "secret" field redacted. The table itself is store.quarantine.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Engine

from receiver.errors import ReceiverError
from receiver.ingest import Ingestor, Parsed, decode, parse
from receiver.plausibility import TimeWindow
from store import quarantine as stored
from store.observations import StoreResult
from store.quarantine import QuarantinePolicy

REDACTED = "[redacted]"


def redacted(body: bytes) -> bytes:
    """The body with a top-level "secret" replaced, so the shared secret is never stored."""
    document = decode(body)
    if isinstance(document, dict) and "secret" in document:
        return json.dumps({**document, "secret": REDACTED}).encode()
    return body


def keep(
    engine: Engine, vendor: str, body: bytes, error: ReceiverError, now: datetime, policy: QuarantinePolicy
) -> None:
    """Store one refused body, redacted, with the refusal's status, message and field."""
    clean = redacted(body) if policy.keep_bodies else b""
    refusal = stored.Refusal(status=error.status, reason=error.message, field=error.field)
    stored.keep(engine, vendor, clean, len(body), refusal, now, policy)


def replay(
    engine: Engine, ingestor: Ingestor, entry_id: int, now: datetime, window: TimeWindow | None = None
) -> StoreResult:
    """Validate a quarantined body with today's parsers; if it passes, store it and release it.

    Its times are held to the time it was first received, by `window`'s future bound (default clock skew).

    Raises ReceiverError (still invalid) or LookupError (no such entry, or a truncated body that cannot be
    replayed whole).
    """
    found = stored.entry(engine, entry_id)
    if found is None:
        raise LookupError(f"no quarantined post {entry_id}")
    if found["truncated"]:
        raise LookupError(f"quarantined post {entry_id} was kept without its whole body (size cap, or count-only mode)")
    parsed: Parsed = parse(found["vendor"], decode(found["body"]))
    received_at = found["received_at"]
    (window or TimeWindow()).future_only().check(parsed.sightings, received_at, "the time it was first received")
    result = ingestor.store(parsed, now)
    stored.release(engine, entry_id)
    return result
